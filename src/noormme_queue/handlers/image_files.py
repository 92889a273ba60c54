"""Where image jobs may read from and how they write: path roots and atomic output."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ..core.signals import UnrecoverableError


class PathNotAllowed(UnrecoverableError):
    """An input path resolves outside every ``IMAGE_INPUT_DIRS`` root."""


def resolve_input(image_path: str, roots: tuple[Path, ...]) -> Path:
    """The real path of ``image_path``, which must lie inside one of ``roots``.

    A relative path is looked up under each root in turn. Symlinks and ``..``
    are resolved first, so neither can lead outside the roots.
    """
    real_roots = [Path(os.path.realpath(root)) for root in roots]
    given = Path(image_path)
    candidates = [given] if given.is_absolute() else [root / given for root in real_roots]
    outside: Path | None = None
    for candidate in candidates:
        real = Path(os.path.realpath(candidate))
        if not any(real.is_relative_to(root) for root in real_roots):
            outside = real
            continue
        if real.is_file():
            return real
    if outside is not None:
        raise PathNotAllowed(
            f"image_path {image_path!r} resolves outside IMAGE_INPUT_DIRS "
            f"({', '.join(str(r) for r in real_roots)})"
        )
    raise UnrecoverableError(f"image_path {image_path!r} is not a file in IMAGE_INPUT_DIRS")


def operations_digest(*parts: object) -> str:
    """A short, stable hash of what was asked, so the same request gets the same name."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def output_name(job_id: str | None, source: Path, digest: str, suffix: str, ext: str) -> str:
    """``<job id>-<input stem>-<digest><suffix>.<ext>``; the job id is left out in memory."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in source.stem)[:60] or "image"
    prefix = f"{job_id}-" if job_id else ""
    return f"{prefix}{stem}-{digest}{suffix}.{ext}"


def write_atomically(target: Path, temp_dir: Path, write: Callable[[IO[bytes]], object]) -> int:
    """Run ``write`` into a temp file in ``temp_dir``, then rename it to ``target``.

    A reader sees the old file or the whole new one, never a partial image.
    Returns the size in bytes.
    """
    temp_dir.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=temp_dir, prefix=".img-", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        size = temp.stat().st_size
        try:
            os.replace(temp, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # Temp and output dirs on different filesystems: copy beside the target, then
            # rename there, which is atomic again.
            beside = target.with_name(f".{target.name}.part")
            shutil.copyfile(temp, beside)
            os.replace(beside, target)
            temp.unlink()
        return size
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
