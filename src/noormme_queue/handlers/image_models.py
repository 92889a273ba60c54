"""Payload models of the ``image`` and ``thumbnail`` job types.

Importing this module does not import Pillow: operations are validated here,
at enqueue, and applied by :mod:`.image_ops` when the job runs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from .payload import PayloadModel

MAX_DIMENSION = 16_384
MAX_PATH_LENGTH = 4096
Dimension = Annotated[int, Field(ge=1, le=MAX_DIMENSION)]
Fit = Literal["cover", "contain", "fill", "inside"]
ImageFormat = Literal["jpeg", "png", "webp", "avif"]
STANDARD_THUMBNAIL_SIZES = (64, 150, 300)

_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})|[a-zA-Z]+")


def _color(value: str) -> str:
    if not _COLOR.fullmatch(value):
        raise ValueError("must be a colour name or #rgb, #rrggbb or #rrggbbaa")
    return value


Color = Annotated[str, AfterValidator(_color)]


class ResizeParams(PayloadModel):
    """``cover`` crops to fill the box, ``contain`` pads to it, ``fill`` stretches,
    ``inside`` fits within it keeping the aspect ratio. With only one of width
    and height, the other follows the aspect ratio."""

    width: Dimension | None = None
    height: Dimension | None = None
    fit: Fit = "cover"
    background: Color = Field(default="#000000", description="padding colour for contain")

    @model_validator(mode="after")
    def _one_dimension(self) -> ResizeParams:
        if self.width is None and self.height is None:
            raise ValueError("give width, height or both")
        return self


class CropParams(PayloadModel):
    """The rectangle kept, in pixels from the top-left corner."""

    left: int = Field(ge=0)
    top: int = Field(ge=0)
    width: Dimension
    height: Dimension


class RotateParams(PayloadModel):
    """Degrees clockwise; the canvas grows to keep every pixel."""

    angle: float = Field(ge=-360, le=360)
    background: Color = "#000000"


class FlipParams(PayloadModel):
    """``vertical`` mirrors top to bottom, ``horizontal`` left to right."""

    direction: Literal["vertical", "horizontal", "both"] = "vertical"


class BlurParams(PayloadModel):
    radius: float = Field(default=2.0, gt=0, le=100)


class SharpenParams(PayloadModel):
    radius: float = Field(default=2.0, gt=0, le=100)
    percent: int = Field(default=150, ge=1, le=1000)
    threshold: int = Field(default=3, ge=0, le=255)


class NoParams(PayloadModel):
    pass


class ResizeOperation(PayloadModel):
    type: Literal["resize"]
    params: ResizeParams


class CropOperation(PayloadModel):
    type: Literal["crop"]
    params: CropParams


class RotateOperation(PayloadModel):
    type: Literal["rotate"]
    params: RotateParams


class FlipOperation(PayloadModel):
    type: Literal["flip"]
    params: FlipParams = Field(default_factory=FlipParams)


class GrayscaleOperation(PayloadModel):
    type: Literal["grayscale"]
    params: NoParams = Field(default_factory=NoParams)


class BlurOperation(PayloadModel):
    type: Literal["blur"]
    params: BlurParams = Field(default_factory=BlurParams)


class SharpenOperation(PayloadModel):
    type: Literal["sharpen"]
    params: SharpenParams = Field(default_factory=SharpenParams)


Operation = Annotated[
    ResizeOperation
    | CropOperation
    | RotateOperation
    | FlipOperation
    | GrayscaleOperation
    | BlurOperation
    | SharpenOperation,
    Field(discriminator="type"),
]


def _normalise_format(value: Any) -> Any:
    if isinstance(value, str):
        value = value.lower()
        return "jpeg" if value == "jpg" else value
    return value


class ImageOptions(PayloadModel):
    image_path: str = Field(
        min_length=1, max_length=MAX_PATH_LENGTH, description="inside one of IMAGE_INPUT_DIRS"
    )
    operations: list[Operation] = Field(default_factory=list, max_length=50)
    format: Annotated[ImageFormat | None, BeforeValidator(_normalise_format)] = Field(
        default=None, description="the input's format when it is jpeg, png or webp; else png"
    )
    quality: int = Field(default=80, ge=1, le=100)

    @field_validator("image_path")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain NUL")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text (a lone surrogate?)") from None
        return value


class ImagePayload(ImageOptions):
    """Apply ``operations`` in order and write one output image."""


class ThumbnailSize(PayloadModel):
    width: Dimension
    height: Dimension


def _square(value: Any) -> Any:
    return {"width": value, "height": value} if isinstance(value, int) else value


class ThumbnailPayload(ImageOptions):
    """Write one image per size (default 64, 150 and 300 px squares).

    ``operations`` run first; then each thumbnail is resized with ``fit``.
    Without ``sizes``, operations that already resize (the specification's
    ``{type: "resize", params: {width: 150, height: 150}}``) make a single
    thumbnail instead of the standard set.
    """

    sizes: list[Annotated[ThumbnailSize, BeforeValidator(_square)]] | None = Field(
        default=None, min_length=1, max_length=20
    )
    fit: Fit = "cover"

    def thumbnail_sizes(self) -> list[ThumbnailSize] | None:
        """The sizes to make; ``None`` means the operations' own result is the thumbnail."""
        if self.sizes is not None:
            return list(self.sizes)
        if any(op.type == "resize" for op in self.operations):
            return None
        return [ThumbnailSize(width=s, height=s) for s in STANDARD_THUMBNAIL_SIZES]
