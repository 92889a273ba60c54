"""Pillow work for the image handlers: decode safely, apply operations, encode.

Imported only when an image job runs, so the core installs without Pillow.
Everything here is synchronous and CPU-bound; callers run it in a thread.
"""

from __future__ import annotations

from typing import IO

from PIL import Image, ImageColor, ImageFilter, ImageOps

from ..core.signals import UnrecoverableError
from .image_models import (
    BlurOperation,
    CropOperation,
    FlipOperation,
    GrayscaleOperation,
    Operation,
    ResizeOperation,
    ResizeParams,
    RotateOperation,
    SharpenOperation,
)
from .image_sizes import operation_size, too_many_pixels

PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}


def open_image(source: IO[bytes], name: str, max_pixels: int) -> tuple[Image.Image, str | None]:
    """Decode ``source`` upright (EXIF orientation applied), refusing decompression bombs.

    ``name`` is the file's name for messages. Returns the image and its source format in
    lower case (``"jpeg"``).
    """
    try:
        image = Image.open(source)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning is raised only where warnings are errors; otherwise our check below
        # refuses the image anyway.
        raise UnrecoverableError(f"image refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError) as exc:  # Pillow raises SyntaxError for some corrupt files
        raise UnrecoverableError(f"{name} is not an image Pillow can read: {exc}") from None
    with image:
        # Image.open reads only the header: check the size before a single pixel is decoded.
        width, height = image.size
        if width * height > max_pixels:
            raise UnrecoverableError(
                f"image refused: {width}x{height} is more than {max_pixels} pixels "
                "(IMAGE_MAX_PIXELS); it may be a decompression bomb"
            )
        try:
            image.load()
        except OSError as exc:
            raise UnrecoverableError(f"{name} could not be decoded: {exc}") from None
        upright = ImageOps.exif_transpose(image)
        source_format = (image.format or "").lower() or None
        return (upright if upright is not image else image.copy()), source_format


def apply_operations(
    image: Image.Image, operations: list[Operation], max_pixels: int
) -> Image.Image:
    for operation in operations:
        image = apply_operation(image, operation, max_pixels)
    return image


def apply_operation(image: Image.Image, operation: Operation, max_pixels: int) -> Image.Image:
    """``operation``'s result, refused before it is allocated if it exceeds ``max_pixels``."""
    refused = too_many_pixels(operation_size(image.size, operation), max_pixels, operation.type)
    if refused is not None:
        raise UnrecoverableError(refused)
    match operation:
        case ResizeOperation(params=params):
            return resize(image, params)
        case CropOperation(params=p):
            if p.left + p.width > image.width or p.top + p.height > image.height:
                raise UnrecoverableError(
                    f"crop {p.width}x{p.height}+{p.left}+{p.top} does not fit "
                    f"the {image.width}x{image.height} image"
                )
            return image.crop((p.left, p.top, p.left + p.width, p.top + p.height))
        case RotateOperation(params=p):
            return rotate(image, p.angle, p.background)
        case FlipOperation(params=p):
            if p.direction in ("vertical", "both"):
                image = ImageOps.flip(image)
            if p.direction in ("horizontal", "both"):
                image = ImageOps.mirror(image)
            return image
        case GrayscaleOperation():
            return image.convert("LA" if has_alpha(image) else "L")
        case BlurOperation(params=p):
            return image.filter(ImageFilter.GaussianBlur(p.radius))
        case SharpenOperation(params=p):
            return image.filter(ImageFilter.UnsharpMask(p.radius, p.percent, p.threshold))
    raise AssertionError(f"unhandled operation {operation!r}")  # the model forbids others


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def fill_color(image: Image.Image, color: str) -> int | tuple[int, ...]:
    try:
        value = ImageColor.getcolor(color, image.mode)
    except ValueError as exc:
        raise UnrecoverableError(f"unknown colour {color!r}: {exc}") from None
    return value if isinstance(value, tuple) else int(value)


def resize(image: Image.Image, params: ResizeParams) -> Image.Image:
    if params.width is None or params.height is None:
        # One side given: the other follows the aspect ratio.
        scale = (params.width or 0) / image.width or (params.height or 0) / image.height
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        return image.resize(size, Image.Resampling.LANCZOS)
    box = (params.width, params.height)
    if params.fit == "fill":
        return image.resize(box, Image.Resampling.LANCZOS)
    if params.fit == "inside":
        return ImageOps.contain(image, box, Image.Resampling.LANCZOS)
    if params.fit == "contain":
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if has_alpha(image) else "RGB")
        return ImageOps.pad(
            image, box, Image.Resampling.LANCZOS, color=fill_color(image, params.background)
        )
    return ImageOps.fit(image, box, Image.Resampling.LANCZOS)  # cover


def rotate(image: Image.Image, angle: float, background: str) -> Image.Image:
    clockwise = angle % 360
    # Quarter turns are exact pixel moves; Pillow's rotate() is counter-clockwise.
    quarter: dict[float, Image.Transpose | None] = {
        0: None,
        90: Image.Transpose.ROTATE_270,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_90,
    }
    if clockwise in quarter:
        method = quarter[clockwise]
        return image if method is None else image.transpose(method)
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if has_alpha(image) else "RGB")
    return image.rotate(
        -clockwise,
        resample=Image.Resampling.BICUBIC,
        expand=True,
        fillcolor=fill_color(image, background),
    )


def check_format_supported(fmt: str) -> None:
    Image.init()
    if PILLOW_FORMATS[fmt] not in Image.SAVE:
        raise UnrecoverableError(
            f"this Pillow build cannot write {fmt.upper()}; install a Pillow with "
            f"{fmt.upper()} support or choose jpeg, png or webp"
        )


def encode(image: Image.Image, fmt: str, quality: int, out: IO[bytes]) -> Image.Image:
    """Write ``image`` to ``out`` as ``fmt``; the image as written (mode may change)."""
    check_format_supported(fmt)
    if fmt == "jpeg":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")  # JPEG has no alpha channel
        image.save(out, "JPEG", quality=quality, optimize=True)
    elif fmt == "png":
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            image = image.convert("RGBA" if has_alpha(image) else "RGB")
        image.save(out, "PNG", optimize=True)
    else:
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if has_alpha(image) else "RGB")
        image.save(out, PILLOW_FORMATS[fmt], quality=quality)
    return image
