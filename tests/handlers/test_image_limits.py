"""Image jobs' limits: every intermediate bounded by IMAGE_MAX_PIXELS, inputs only from the
roots (checked at enqueue, opened without following a swapped directory), outputs that
follow the umask. Real images, real files, a real rename loop."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from noormme_queue import QueueConfig, QueueManager
from noormme_queue.core.signals import UnrecoverableError
from noormme_queue.handlers import ImageSettings, PathNotAllowed, build_builtin_handlers
from noormme_queue.handlers.image_files import InputChanged, open_input
from noormme_queue.handlers.image_sizes import rotated_size

from .conftest import make_job
from .test_enqueue_checks import refused, rows_in


def handlers(settings: ImageSettings) -> dict[str, Any]:
    return build_builtin_handlers(QueueConfig(), image=settings)


async def run(settings: ImageSettings, job_type: str, payload: dict[str, Any]) -> Any:
    return await handlers(settings)[job_type].process(make_job(job_type, payload))


def small_png(path: Path, size: tuple[int, int] = (10, 10)) -> Path:
    Image.new("RGB", size, (200, 10, 10)).save(path)
    return path


def resize(**params: Any) -> dict[str, Any]:
    return {"type": "resize", "params": params}


def rotate(angle: float) -> dict[str, Any]:
    return {"type": "rotate", "params": {"angle": angle}}


# -- every intermediate and output bounded, at run time -----------------------------------


@pytest.mark.parametrize(
    ("operations", "what"),
    [
        pytest.param([resize(width=1000)], "resize would make a 1000x1000", id="one-side-resize"),
        pytest.param([resize(height=500), rotate(90)], "resize", id="then-rotate"),
        pytest.param([resize(width=100), rotate(45)], "rotate would make a 142x142", id="rotate"),
        # The output would fit, the intermediate does not.
        pytest.param(
            [
                resize(width=200),
                {"type": "crop", "params": {"left": 0, "top": 0, "width": 9, "height": 9}},
            ],
            "resize would make a 200x200",
            id="intermediate",
        ),
    ],
)
async def test_an_operation_over_the_pixel_limit_is_refused_before_it_runs(
    image_settings: ImageSettings, operations: list[dict[str, Any]], what: str
) -> None:
    tiny = small_png(image_settings.input_dirs[0] / "tiny.png")  # 100 pixels, a few bytes
    strict = replace(image_settings, max_pixels=12_000)
    with pytest.raises(UnrecoverableError, match="IMAGE_MAX_PIXELS") as caught:
        await run(strict, "image", {"imagePath": str(tiny), "operations": operations})
    assert what in str(caught.value)
    assert not strict.output_dir.exists() or list(strict.output_dir.iterdir()) == []


async def test_a_thumbnail_over_the_pixel_limit_is_refused_when_it_runs(
    image_settings: ImageSettings,
) -> None:
    tiny = small_png(image_settings.input_dirs[0] / "tiny.png")
    strict = replace(image_settings, max_pixels=5_000)
    with pytest.raises(UnrecoverableError, match="IMAGE_MAX_PIXELS"):
        await run(strict, "thumbnail", {"imagePath": str(tiny)})  # 150x150 > 5,000
    result = await run(strict, "thumbnail", {"imagePath": str(tiny), "sizes": [64, 70]})
    assert [(t["width"], t["height"]) for t in result["thumbnails"]] == [(64, 64), (70, 70)]


async def test_work_within_the_limit_still_runs(image_settings: ImageSettings) -> None:
    tiny = small_png(image_settings.input_dirs[0] / "tiny.png")
    strict = replace(image_settings, max_pixels=12_000)
    result = await run(
        strict, "image", {"imagePath": str(tiny), "operations": [resize(width=60), rotate(30)]}
    )
    assert result["width"] * result["height"] <= 12_000


@pytest.mark.parametrize("angle", [1, 15, 30, 33.3, 45, 89.5, 120, -45, 200, 359.9])
@pytest.mark.parametrize("size", [(1, 1), (7, 300), (400, 200), (1001, 999)])
def test_the_predicted_rotation_canvas_is_the_one_pillow_makes(
    size: tuple[int, int], angle: float
) -> None:
    image = Image.new("L", size)
    assert image.rotate(-(angle % 360), expand=True).size == rotated_size(size, angle)


# -- refused at enqueue, through the real manager -------------------------------------------


@pytest.fixture
async def image_qm(
    tmp_path: Path, image_settings: ImageSettings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[QueueManager]:
    monkeypatch.setenv("IMAGE_INPUT_DIRS", str(image_settings.input_dirs[0]))
    qm = QueueManager(
        QueueConfig(database_url=f"sqlite:///{tmp_path / 'queue.db'}", cleanup_interval=0)
    )
    try:
        yield qm
    finally:
        await qm.stop(timeout=5)


@pytest.mark.parametrize(
    ("job_type", "extra", "field"),
    [
        ("image", {"operations": [resize(width=16384, height=16384)]}, "payload.operations.0"),
        (
            "image",
            {"operations": [resize(width=7000, height=7000), rotate(45)]},  # 49M, then 98M
            "payload.operations.1",
        ),
        ("thumbnail", {"operations": [resize(width=9000, height=9000)]}, "payload.operations.0"),
        ("thumbnail", {"sizes": [64, {"width": 16384, "height": 4000}]}, "payload.sizes.1"),
    ],
)
async def test_a_size_over_the_pixel_limit_is_refused_at_enqueue(
    image_qm: QueueManager,
    tmp_path: Path,
    image_settings: ImageSettings,
    job_type: str,
    extra: dict[str, Any],
    field: str,
) -> None:
    path = str(image_settings.input_dirs[0] / "photo.png")
    error = await refused(image_qm, tmp_path / "queue.db", job_type, {"imagePath": path, **extra})
    assert error.field == field and "IMAGE_MAX_PIXELS (50,000,000)" in str(error)


async def test_a_path_outside_the_roots_is_refused_at_enqueue(
    image_qm: QueueManager, tmp_path: Path, image_settings: ImageSettings
) -> None:
    root = image_settings.input_dirs[0]
    secret = small_png(tmp_path / "secret.png")
    (root / "innocent.png").symlink_to(secret)
    (root / "dir").symlink_to(tmp_path, target_is_directory=True)
    db = tmp_path / "queue.db"
    for path in [
        str(secret),
        "../secret.png",
        f"{root}/../secret.png",
        "innocent.png",
        f"{root}/dir/secret.png",
        "/etc/passwd",
    ]:
        for job_type in ("image", "thumbnail"):
            error = await refused(image_qm, db, job_type, {"imagePath": path})
            assert error.field == "payload.image_path", path
            assert "outside IMAGE_INPUT_DIRS" in str(error)
    # Inside the roots (also a file not written yet) is accepted; the job checks again.
    await image_qm.add_job("image", {"imagePath": "later.png"})
    await image_qm.add_job("thumbnail", {"imagePath": f"{root}/sub/../photo.png"})
    assert rows_in(db) == 2


# -- opening without following a swapped directory ------------------------------------------


OPENS = 3000


@contextmanager
def swapping(real: Path, outside: Path) -> Iterator[list[int]]:
    """Swap directory ``real`` for a symlink to ``outside`` and back, as fast as possible."""
    hidden = real.with_name(real.name + "-hidden")
    link = real.with_name(real.name + "-link")
    link.symlink_to(outside, target_is_directory=True)
    stop = threading.Event()
    swaps = [0]

    def loop() -> None:
        while not stop.is_set():
            os.rename(real, hidden)  # the real directory stays inside the root
            os.rename(link, real)  # now `real` is a symlink leading outside
            os.rename(real, link)
            os.rename(hidden, real)
            swaps[0] += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield swaps
    finally:
        stop.set()
        thread.join()


def test_a_directory_swapped_for_a_symlink_never_leads_outside(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "cat.png").write_bytes(b"inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "cat.png").write_bytes(b"OUTSIDE")
    read: list[bytes] = []
    refused = 0
    with swapping(root / "photos", outside) as swaps:
        for _ in range(OPENS):
            try:
                _real, handle = open_input("photos/cat.png", (root,))
            except (PathNotAllowed, InputChanged, UnrecoverableError):
                refused += 1
                continue
            with handle:
                read.append(handle.read())
    assert swaps[0] > 100  # the loop really raced the opens
    assert read.count(b"OUTSIDE") == 0, f"{read.count(b'OUTSIDE')} of {OPENS} opens read outside"
    assert read.count(b"inside") == len(read) > 0 and len(read) + refused == OPENS


async def test_image_jobs_racing_a_swap_only_ever_read_inside(
    image_settings: ImageSettings,
) -> None:
    root = image_settings.input_dirs[0]
    (root / "photos").mkdir()
    Image.new("RGB", (4, 4), (255, 0, 0)).save(root / "photos" / "cat.png")
    outside = root.parent / "outside"
    outside.mkdir()
    Image.new("RGB", (4, 4), (0, 0, 255)).save(outside / "cat.png")
    process = handlers(image_settings)["image"]
    colours: list[Any] = []
    with swapping(root / "photos", outside):
        for i in range(150):
            try:
                result = await process.process(
                    make_job("image", {"imagePath": "photos/cat.png"}, job_id=f"job_{i}")
                )
            except (PathNotAllowed, InputChanged, UnrecoverableError):
                continue
            with Image.open(result["path"]) as out:
                colours.append(out.convert("RGB").getpixel((0, 0)))
    assert colours and set(colours) == {(255, 0, 0)}


# -- output files follow the umask ------------------------------------------------------------


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize(
    ("mask", "mode"),
    [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)],
    ids=["umask-022", "umask-027", "umask-002"],
)
async def test_outputs_are_created_with_the_umask(
    image_settings: ImageSettings, mask: int, mode: int
) -> None:
    tiny = small_png(image_settings.input_dirs[0] / "tiny.png")
    with umask(mask):
        image = await run(image_settings, "image", {"imagePath": str(tiny)})
        thumbs = await run(image_settings, "thumbnail", {"imagePath": str(tiny), "sizes": [8]})
    for path in [image["path"], *(t["path"] for t in thumbs["thumbnails"])]:
        assert stat.S_IMODE(os.stat(path).st_mode) == mode, path
