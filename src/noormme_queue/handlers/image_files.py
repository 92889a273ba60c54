"""Where image jobs may read from and how they write: path roots and atomic output."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ..core.signals import UnrecoverableError


class PathNotAllowed(UnrecoverableError):
    """An input path resolves outside every ``IMAGE_INPUT_DIRS`` root."""


class InputChanged(Exception):
    """The input path kept changing while it was opened (a directory swapped for a link?).

    Not an ``UnrecoverableError``: the job's backoff tries again later.
    """


OPEN_ATTEMPTS = 3


def _real_roots(roots: tuple[Path, ...]) -> list[Path]:
    return [Path(os.path.realpath(root)) for root in roots]


def _candidates(image_path: str, real_roots: list[Path]) -> list[Path]:
    given = Path(image_path)
    return [given] if given.is_absolute() else [root / given for root in real_roots]


def _root_of(real: Path, real_roots: list[Path]) -> Path | None:
    return next((root for root in real_roots if real.is_relative_to(root)), None)


def outside_roots(image_path: str, roots: tuple[Path, ...]) -> str | None:
    """Why ``image_path`` is refused, or ``None`` if it resolves inside a root.

    ``..`` and symlinks are resolved first (the file need not exist yet). This is the
    enqueue-time check; the job checks again when it opens the file.
    """
    real_roots = _real_roots(roots)
    try:
        for candidate in _candidates(image_path, real_roots):
            if _root_of(Path(os.path.realpath(candidate)), real_roots) is not None:
                return None
    except (OSError, ValueError) as exc:
        return f"image_path {_shown(image_path)} is not a usable path: {exc}"
    return _outside(image_path, real_roots)


def _shown(image_path: str, limit: int = 200) -> str:
    return repr(image_path if len(image_path) <= limit else image_path[:limit] + "…")


def _outside(image_path: str, real_roots: list[Path]) -> str:
    return (
        f"image_path {_shown(image_path)} resolves outside IMAGE_INPUT_DIRS "
        f"({', '.join(str(r) for r in real_roots)})"
    )


def resolve_input(image_path: str, roots: tuple[Path, ...]) -> tuple[Path, Path]:
    """The real path of ``image_path`` and the root it lies in.

    A relative path is looked up under each root in turn. Symlinks and ``..``
    are resolved first, so neither can lead outside the roots.
    """
    real_roots = _real_roots(roots)
    outside = False
    for candidate in _candidates(image_path, real_roots):
        real = Path(os.path.realpath(candidate))
        root = _root_of(real, real_roots)
        if root is None:
            outside = True
        elif real.is_file():
            return real, root
    if outside:
        raise PathNotAllowed(_outside(image_path, real_roots))
    raise UnrecoverableError(f"image_path {_shown(image_path)} is not a file in IMAGE_INPUT_DIRS")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)
RACE_FREE_OPEN = bool(_NOFOLLOW and _DIRECTORY) and os.open in os.supports_dir_fd


def open_input(image_path: str, roots: tuple[Path, ...]) -> tuple[Path, IO[bytes]]:
    """``image_path`` resolved inside the roots, and the file opened for reading.

    The file is opened from a descriptor of its root, one path component at a time with
    ``O_NOFOLLOW``, along the path that was checked. A directory swapped for a symlink
    after the check is not followed: the open fails and the path is resolved again.
    """
    for _ in range(OPEN_ATTEMPTS):
        try:
            real, root = resolve_input(image_path, roots)
            if not RACE_FREE_OPEN:  # no openat/O_NOFOLLOW here (Windows): the checked path
                return real, open(real, "rb")
            fd = _open_beneath(root, real.relative_to(root).parts)
        except (NotADirectoryError, FileNotFoundError) as exc:
            last: OSError = exc
            continue
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                problem = f"cannot open image_path {_shown(image_path)}: {exc}"
                raise UnrecoverableError(problem) from None
            last = exc
            continue
        return real, os.fdopen(fd, "rb")
    raise InputChanged(
        f"image_path {_shown(image_path)} changed while it was being opened ({last.strerror}); "
        "a directory on the way may have been swapped for a link"
    )


def _open_beneath(root: Path, parts: tuple[str, ...]) -> int:
    """A read-only descriptor of ``root/parts...``, following no symlink below ``root``."""
    directory = os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=directory)
            os.close(directory)
            directory = inner
        # O_NONBLOCK: a FIFO swapped in cannot hang the open; it is refused just below.
        fd = os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=directory)
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileNotFoundError(errno.ENOENT, "not a regular file any more")
    os.set_blocking(fd, True)
    return fd


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

    A reader sees the old file or the whole new one, never a partial image. The file's
    mode is ``0o666`` less the process umask, like any file the process creates (so a web
    server in the same group can serve it under umask 002 or 022); ``mkstemp`` would make
    it 0600. Returns the size in bytes.
    """
    temp_dir.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = _create_temp(temp_dir)
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


def _create_temp(directory: Path) -> tuple[int, Path]:
    """A new, empty file in ``directory`` with mode ``0o666 & ~umask``, open for writing.

    The kernel applies the umask as it creates the file, so it is never read (reading it
    means setting it, which races with other threads creating files).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
    for _ in range(100):
        path = directory / f".img-{secrets.token_hex(8)}.part"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temp file name", str(directory))
