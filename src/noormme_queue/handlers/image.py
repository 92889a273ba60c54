"""The ``image`` and ``thumbnail`` handlers and the payload-level functions behind them."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from ..core.errors import InvalidPayload
from ..core.job import JSON, Job
from ..core.signals import UnrecoverableError
from ..core.threads import run_sync
from .image_files import (
    open_input,
    operations_digest,
    output_name,
    outside_roots,
    write_atomically,
)
from .image_models import (
    ImageOptions,
    ImagePayload,
    ResizeOperation,
    ResizeParams,
    ThumbnailPayload,
)
from .image_sizes import known_sizes, too_many_pixels
from .lazy import Lazy
from .payload import parse_job_payload, parse_payload
from .settings import ImageSettings

logger = logging.getLogger("noormme_queue.handlers.image")

DEFAULT_OUTPUT_FORMAT = "png"


class ImageProcessor:
    """Runs image payloads with Pillow in a worker thread (the work is CPU-bound)."""

    def __init__(self, settings: ImageSettings) -> None:
        self.settings = settings

    def check(self, payload: ImageOptions) -> None:
        """At enqueue: the input path lies inside ``IMAGE_INPUT_DIRS`` and no size the
        payload fixes (a resize box, a crop, a thumbnail, what follows from them) exceeds
        ``IMAGE_MAX_PIXELS``. ``InvalidPayload`` naming the field otherwise."""
        problem = outside_roots(payload.image_path, self.settings.input_dirs)
        if problem is not None:
            raise InvalidPayload(problem, field="payload.image_path")
        limit = self.settings.max_pixels
        operations = list(payload.operations)
        for index, size in known_sizes(operations):
            problem = too_many_pixels(size, limit, f"operation {index} ({operations[index].type})")
            if problem is not None:
                raise InvalidPayload(problem, field=f"payload.operations.{index}")
        if isinstance(payload, ThumbnailPayload):
            for index, thumb in enumerate(payload.thumbnail_sizes() or []):
                problem = too_many_pixels((thumb.width, thumb.height), limit, "thumbnail")
                if problem is not None:
                    raise InvalidPayload(problem, field=f"payload.sizes.{index}")

    async def process_image(self, payload: ImagePayload, *, job_id: str | None = None) -> JSON:
        """Apply the operations and write one image; its path, size, format and bytes."""
        outputs = await run_sync(self._render, payload, job_id, [None])
        return outputs[0]

    async def make_thumbnails(
        self, payload: ThumbnailPayload, *, job_id: str | None = None
    ) -> dict[str, JSON]:
        """Write one image per thumbnail size; ``{"thumbnails": [...]}``."""
        sizes = payload.thumbnail_sizes()
        finals: list[ResizeOperation | None] = (
            [None]
            if sizes is None
            else [
                ResizeOperation(
                    type="resize",
                    params=ResizeParams(width=s.width, height=s.height, fit=payload.fit),
                )
                for s in sizes
            ]
        )
        outputs = await run_sync(self._render, payload, job_id, finals)
        return {"thumbnails": outputs}

    def _render(
        self,
        payload: ImageOptions,
        job_id: str | None,
        finals: list[ResizeOperation | None],
    ) -> list[dict[str, Any]]:
        try:
            from . import image_ops  # Pillow is imported only when an image job runs
        except ImportError as exc:
            raise UnrecoverableError(
                "image jobs need Pillow: pip install 'noormme-queue[image]'"
            ) from exc

        limit = self.settings.max_pixels
        if payload.format:
            image_ops.check_format_supported(payload.format)  # fail before decoding, not after
        source, handle = open_input(payload.image_path, self.settings.input_dirs)
        with handle:
            base, source_format = image_ops.open_image(handle, source.name, limit)
        fmt: str = payload.format or (
            source_format if source_format in ("jpeg", "png", "webp") else DEFAULT_OUTPUT_FORMAT
        )
        with base:
            worked = image_ops.apply_operations(base, list(payload.operations), limit)
            outputs = []
            for final in finals:
                image = worked if final is None else image_ops.apply_operation(worked, final, limit)
                digest = operations_digest(
                    str(source),
                    payload.model_dump(mode="json", include={"operations", "quality"}),
                    fmt,
                    None if final is None else final.model_dump(mode="json"),
                )
                suffix = "" if final is None else f"-{image.width}x{image.height}"
                name = output_name(job_id, source, digest, suffix, image_ops.EXTENSIONS[fmt])
                target = self.settings.output_dir / name
                size = write_atomically(
                    target,
                    self.settings.temp_dir,
                    functools.partial(image_ops.encode, image, fmt, payload.quality),
                )
                outputs.append(
                    {
                        "path": str(target),
                        "width": image.width,
                        "height": image.height,
                        "format": fmt,
                        "bytes": size,
                    }
                )
        logger.info("wrote %d image(s) from %s", len(outputs), Path(source).name)
        return outputs


class ImageHandler:
    """Job type ``image``: operations applied in order, one output file."""

    payload_model = ImagePayload

    def __init__(self, processor: Lazy[ImageProcessor]) -> None:
        self._processor = processor

    async def process(self, job: Job) -> JSON:
        payload = parse_job_payload(ImagePayload, job.payload)
        return await self._processor.get().process_image(payload, job_id=job.id)

    def check_payload(self, payload: JSON) -> None:
        self._processor.get().check(parse_payload(ImagePayload, payload))


class ThumbnailHandler:
    """Job type ``thumbnail``: the standard sizes (64, 150, 300) unless told otherwise."""

    payload_model = ThumbnailPayload

    def __init__(self, processor: Lazy[ImageProcessor]) -> None:
        self._processor = processor

    async def process(self, job: Job) -> JSON:
        payload = parse_job_payload(ThumbnailPayload, job.payload)
        return await self._processor.get().make_thumbnails(payload, job_id=job.id)

    def check_payload(self, payload: JSON) -> None:
        self._processor.get().check(parse_payload(ThumbnailPayload, payload))
