"""The size each image operation makes, without Pillow: one rule for enqueue and run time.

``IMAGE_MAX_PIXELS`` bounds every image a job holds, not only its input: each operation's
result (so every intermediate) and each output. At enqueue the sizes are followed as far
as the payload tells them (an explicit resize box, a crop, and what follows from those);
at run time the real size is checked before each operation allocates its result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from .image_models import (
    CropOperation,
    Operation,
    ResizeOperation,
    ResizeParams,
    RotateOperation,
)

Size = tuple[int, int]


def resized_size(size: Size, params: ResizeParams) -> Size:
    """The size ``resize`` makes; with both sides given, the box (``inside`` fits within it)."""
    if params.width is not None and params.height is not None:
        return params.width, params.height
    width, height = size
    scale = (params.width or 0) / width or (params.height or 0) / height
    return max(1, round(width * scale)), max(1, round(height * scale))


def rotated_size(size: Size, angle: float) -> Size:
    """The canvas a clockwise rotation by ``angle`` degrees makes, as Pillow computes it."""
    clockwise = angle % 360
    width, height = size
    if clockwise in (0, 180):
        return size
    if clockwise in (90, 270):
        return height, width
    # Pillow's Image.rotate(-clockwise, expand=True): the corners, turned about the centre.
    radians = -math.radians((-clockwise) % 360.0)  # the very float Pillow computes
    cos, sin = round(math.cos(radians), 15), round(math.sin(radians), 15)
    cx, cy = width / 2, height / 2
    dx = cos * -cx + sin * -cy + cx
    dy = -sin * -cx + cos * -cy + cy
    xs = [cos * x + sin * y + dx for x, y in ((0, 0), (width, 0), (width, height), (0, height))]
    ys = [-sin * x + cos * y + dy for x, y in ((0, 0), (width, 0), (width, height), (0, height))]
    return (
        math.ceil(max(xs)) - math.floor(min(xs)),
        math.ceil(max(ys)) - math.floor(min(ys)),
    )


def operation_size(size: Size, operation: Operation) -> Size:
    """The size of ``operation``'s result on an image of ``size``."""
    if isinstance(operation, ResizeOperation):
        return resized_size(size, operation.params)
    if isinstance(operation, CropOperation):
        return operation.params.width, operation.params.height
    if isinstance(operation, RotateOperation):
        return rotated_size(size, operation.params.angle)
    return size  # flip, grayscale, blur, sharpen keep the size


def known_sizes(operations: Iterable[Operation]) -> Iterator[tuple[int, Size]]:
    """``(index, size)`` of each result the payload alone determines (input size unknown)."""
    size: Size | None = None
    for index, operation in enumerate(operations):
        if isinstance(operation, ResizeOperation):
            params = operation.params
            if params.width is not None and params.height is not None:
                size = params.width, params.height
            elif size is not None:
                size = resized_size(size, params)
        elif isinstance(operation, CropOperation) or size is not None:
            size = operation_size(size or (0, 0), operation)
        if size is not None:
            yield index, size


def too_many_pixels(size: Size, max_pixels: int, what: str) -> str | None:
    """Why ``what`` making an image of ``size`` is refused, or ``None`` if it fits."""
    width, height = size
    if width * height <= max_pixels:
        return None
    return (
        f"{what} would make a {width}x{height} image ({width * height:,} pixels), more than "
        f"IMAGE_MAX_PIXELS ({max_pixels:,})"
    )
