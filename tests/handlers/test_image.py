"""Image and thumbnail handlers on real images generated here, checked pixel by pixel."""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from noormme_queue.core.config import QueueConfig
from noormme_queue.core.errors import InvalidPayload
from noormme_queue.core.signals import UnrecoverableError
from noormme_queue.handlers import (
    ImagePayload,
    ImageSettings,
    PathNotAllowed,
    ThumbnailPayload,
    build_builtin_handlers,
    build_builtin_processors,
    validate_payload,
)

from .conftest import make_job

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def quadrants(path: Path, size: tuple[int, int] = (400, 200), fmt: str = "PNG") -> Path:
    """Top-left red, top-right green, bottom-left blue, bottom-right white."""
    width, height = size
    image = Image.new("RGB", size, WHITE)
    image.paste(RED, (0, 0, width // 2, height // 2))
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    image.save(path, fmt)
    return path


def handlers(settings: ImageSettings) -> dict[str, Any]:
    return build_builtin_handlers(QueueConfig(), image=settings)


async def run_image(settings: ImageSettings, payload: dict[str, Any]) -> dict[str, Any]:
    result = await handlers(settings)["image"].process(make_job("image", payload))
    assert isinstance(result, dict)
    return result


def close(actual: Any, expected: tuple[int, ...], tolerance: int = 12) -> bool:
    assert isinstance(actual, tuple)
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def resize_op(**params: Any) -> dict[str, Any]:
    return {"type": "resize", "params": params}


@pytest.fixture
def photo(image_settings: ImageSettings) -> Path:
    return quadrants(image_settings.input_dirs[0] / "photo.png")


@pytest.mark.parametrize(
    ("params", "size"),
    [
        ({"width": 100, "height": 100, "fit": "cover"}, (100, 100)),
        ({"width": 100, "height": 100, "fit": "contain"}, (100, 100)),
        ({"width": 100, "height": 100, "fit": "fill"}, (100, 100)),
        ({"width": 100, "height": 100, "fit": "inside"}, (100, 50)),
        ({"width": 100}, (100, 50)),
        ({"height": 50}, (100, 50)),
    ],
)
async def test_resize_fit_modes(
    image_settings: ImageSettings, photo: Path, params: dict[str, Any], size: tuple[int, int]
) -> None:
    result = await run_image(
        image_settings, {"imagePath": str(photo), "operations": [resize_op(**params)]}
    )
    with Image.open(result["path"]) as out:
        assert out.size == size
    assert (result["width"], result["height"]) == size


async def test_cover_crops_and_contain_pads(image_settings: ImageSettings, photo: Path) -> None:
    cover = await run_image(
        image_settings,
        {"imagePath": str(photo), "operations": [resize_op(width=100, height=100)]},
    )
    contain = await run_image(
        image_settings,
        {
            "imagePath": str(photo),
            "operations": [resize_op(width=100, height=100, fit="contain", background="#ffff00")],
        },
    )
    with Image.open(cover["path"]) as out:
        # the centre 200x200 of the 400x200 image: red top-left corner is cropped away
        assert close(out.convert("RGB").getpixel((2, 2)), RED)
        assert close(out.convert("RGB").getpixel((97, 2)), GREEN)
    with Image.open(contain["path"]) as out:
        assert close(out.convert("RGB").getpixel((50, 2)), (255, 255, 0))  # padding band
        assert close(out.convert("RGB").getpixel((2, 30)), RED)


async def test_grayscale_gives_mode_l_and_luma(image_settings: ImageSettings, photo: Path) -> None:
    result = await run_image(
        image_settings,
        {"imagePath": str(photo), "operations": [{"type": "grayscale", "params": {}}]},
    )
    with Image.open(result["path"]) as out:
        assert out.mode == "L"
        assert out.getpixel((10, 10)) == 76  # ITU-R 601 luma of pure red: 0.299 * 255
        assert out.getpixel((390, 190)) == 255


async def test_rotate_is_clockwise_and_moves_corners(
    image_settings: ImageSettings, photo: Path
) -> None:
    result = await run_image(
        image_settings,
        {"imagePath": str(photo), "operations": [{"type": "rotate", "params": {"angle": 90}}]},
    )
    with Image.open(result["path"]) as out:
        rgb = out.convert("RGB")
        assert out.size == (200, 400)
        assert rgb.getpixel((199, 0)) == RED  # top-left went to top-right
        assert rgb.getpixel((0, 0)) == BLUE
        assert rgb.getpixel((199, 399)) == GREEN


async def test_free_angle_rotation_expands_the_canvas(
    image_settings: ImageSettings, photo: Path
) -> None:
    result = await run_image(
        image_settings,
        {
            "imagePath": str(photo),
            "operations": [{"type": "rotate", "params": {"angle": 45, "background": "white"}}],
        },
    )
    assert result["width"] > 400 and result["height"] > 200


async def test_flip_crop_blur_sharpen(image_settings: ImageSettings, photo: Path) -> None:
    result = await run_image(
        image_settings,
        {
            "imagePath": str(photo),
            "operations": [
                {"type": "flip", "params": {"direction": "horizontal"}},
                {"type": "crop", "params": {"left": 0, "top": 0, "width": 50, "height": 40}},
                {"type": "blur", "params": {"radius": 1}},
                {"type": "sharpen"},
            ],
        },
    )
    with Image.open(result["path"]) as out:
        assert out.size == (50, 40)
        assert close(out.convert("RGB").getpixel((25, 20)), GREEN)  # mirrored: green now left


async def test_crop_outside_the_image_is_unrecoverable(
    image_settings: ImageSettings, photo: Path
) -> None:
    with pytest.raises(UnrecoverableError, match="does not fit"):
        await run_image(
            image_settings,
            {
                "imagePath": str(photo),
                "operations": [
                    {"type": "crop", "params": {"left": 390, "top": 0, "width": 50, "height": 5}}
                ],
            },
        )


async def test_exif_orientation_is_applied(image_settings: ImageSettings) -> None:
    # Stored landscape with EXIF orientation 6: shown rotated 90 degrees clockwise.
    stored = Image.new("RGB", (40, 20), WHITE)
    stored.paste(RED, (0, 0, 20, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = image_settings.input_dirs[0] / "phone.jpg"
    stored.save(path, "JPEG", exif=exif, quality=95)

    result = await run_image(image_settings, {"imagePath": str(path), "format": "png"})
    with Image.open(result["path"]) as out:
        assert out.size == (20, 40)
        assert close(out.convert("RGB").getpixel((17, 2)), RED)  # top-left went to top-right
        assert 0x0112 not in out.getexif()


@pytest.mark.parametrize(
    ("fmt", "pil"), [("jpeg", "JPEG"), ("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")]
)
async def test_output_formats(
    image_settings: ImageSettings, photo: Path, fmt: str, pil: str
) -> None:
    result = await run_image(image_settings, {"imagePath": str(photo), "format": fmt})
    with Image.open(result["path"]) as out:
        assert out.format == pil
    assert result["bytes"] == os.path.getsize(result["path"])
    assert result["format"] == ("jpeg" if fmt == "jpg" else fmt)


async def test_format_defaults_to_the_input_format(image_settings: ImageSettings) -> None:
    path = quadrants(image_settings.input_dirs[0] / "a.jpg", fmt="JPEG")
    result = await run_image(image_settings, {"imagePath": str(path)})
    assert result["format"] == "jpeg" and result["path"].endswith(".jpg")


async def test_avif_written_or_clearly_refused(image_settings: ImageSettings, photo: Path) -> None:
    Image.init()
    if "AVIF" in Image.SAVE:
        result = await run_image(image_settings, {"imagePath": str(photo), "format": "avif"})
        with Image.open(result["path"]) as out:
            assert out.format == "AVIF"
    else:
        with pytest.raises(UnrecoverableError, match="cannot write AVIF"):
            await run_image(image_settings, {"imagePath": str(photo), "format": "avif"})


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
async def test_quality_changes_the_size(image_settings: ImageSettings, fmt: str) -> None:
    noisy = Image.effect_noise((200, 200), 80).convert("RGB")
    path = image_settings.input_dirs[0] / "noise.png"
    noisy.save(path)
    low = await run_image(image_settings, {"imagePath": str(path), "format": fmt, "quality": 10})
    high = await run_image(image_settings, {"imagePath": str(path), "format": fmt, "quality": 95})
    assert low["bytes"] < high["bytes"]


async def test_output_is_atomic_and_named_predictably(
    image_settings: ImageSettings, photo: Path
) -> None:
    payload = {"imagePath": str(photo), "operations": [resize_op(width=10)], "format": "png"}
    first = await run_image(image_settings, payload)
    again = await run_image(image_settings, payload)
    other = await run_image(image_settings, {**payload, "operations": [resize_op(width=11)]})
    assert first["path"] == again["path"] != other["path"]
    name = Path(first["path"]).name
    assert name.startswith("job_T1-photo-") and name.endswith(".png")
    assert Path(first["path"]).parent == image_settings.output_dir
    assert list(image_settings.temp_dir.iterdir()) == []  # temp files renamed away
    assert sorted(p.name for p in image_settings.output_dir.iterdir()) == sorted(
        {Path(first["path"]).name, Path(other["path"]).name}
    )


async def test_relative_path_is_found_under_the_input_roots(
    image_settings: ImageSettings, photo: Path
) -> None:
    result = await run_image(image_settings, {"image_path": "photo.png"})
    assert result["width"] == 400


async def test_dotdot_escape_is_refused(image_settings: ImageSettings, tmp_path: Path) -> None:
    quadrants(tmp_path / "secret.png")
    with pytest.raises(PathNotAllowed):
        await run_image(image_settings, {"imagePath": "../secret.png"})
    inside = image_settings.input_dirs[0]
    with pytest.raises(PathNotAllowed):
        await run_image(image_settings, {"imagePath": f"{inside}/../secret.png"})
    with pytest.raises(PathNotAllowed):
        await run_image(image_settings, {"imagePath": str(tmp_path / "secret.png")})


async def test_symlink_escape_is_refused(image_settings: ImageSettings, tmp_path: Path) -> None:
    secret = quadrants(tmp_path / "secret.png")
    link = image_settings.input_dirs[0] / "innocent.png"
    link.symlink_to(secret)
    with pytest.raises(PathNotAllowed):
        await run_image(image_settings, {"imagePath": str(link)})
    (image_settings.input_dirs[0] / "dir").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(PathNotAllowed):
        await run_image(image_settings, {"imagePath": "dir/secret.png"})


async def test_missing_input_is_unrecoverable(image_settings: ImageSettings) -> None:
    with pytest.raises(UnrecoverableError, match="not a file"):
        await run_image(image_settings, {"imagePath": "nope.png"})


async def test_image_over_the_pixel_limit_is_refused_before_decoding(
    image_settings: ImageSettings, photo: Path
) -> None:
    strict = replace(image_settings, max_pixels=10_000)  # photo is 80,000 pixels
    with pytest.raises(UnrecoverableError, match="decompression bomb"):
        await run_image(strict, {"imagePath": str(photo)})


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file that claims to be ``width`` x ``height``: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


async def test_decompression_bomb_is_refused(image_settings: ImageSettings) -> None:
    bomb = image_settings.input_dirs[0] / "bomb.png"
    bomb.write_bytes(png_header_only(60_000, 60_000))
    with pytest.raises(UnrecoverableError, match="decompression bomb"):
        await run_image(image_settings, {"imagePath": str(bomb)})


async def test_thumbnail_standard_sizes(image_settings: ImageSettings, photo: Path) -> None:
    result = await handlers(image_settings)["thumbnail"].process(
        make_job("thumbnail", {"imagePath": str(photo), "format": "webp"})
    )
    sizes = [(t["width"], t["height"]) for t in result["thumbnails"]]
    assert sizes == [(64, 64), (150, 150), (300, 300)]
    for thumbnail in result["thumbnails"]:
        with Image.open(thumbnail["path"]) as out:
            assert (out.width, out.height, out.format) == (
                thumbnail["width"],
                thumbnail["height"],
                "WEBP",
            )
    assert len({t["path"] for t in result["thumbnails"]}) == 3


async def test_thumbnail_sizes_and_fit(image_settings: ImageSettings, photo: Path) -> None:
    result = await handlers(image_settings)["thumbnail"].process(
        make_job(
            "thumbnail",
            {"imagePath": str(photo), "sizes": [32, {"width": 80, "height": 20}], "fit": "inside"},
        )
    )
    assert [(t["width"], t["height"]) for t in result["thumbnails"]] == [(32, 16), (40, 20)]


async def test_thumbnail_spec_example_makes_one_thumbnail(
    image_settings: ImageSettings, photo: Path
) -> None:
    payload = {"imagePath": str(photo), "operations": [resize_op(width=150, height=150)]}
    result = await handlers(image_settings)["thumbnail"].process(make_job("thumbnail", payload))
    assert [(t["width"], t["height"]) for t in result["thumbnails"]] == [(150, 150)]


async def test_image_processing_queue_processor_takes_the_spec_payload(
    image_settings: ImageSettings, photo: Path
) -> None:
    process = build_builtin_processors(QueueConfig(), image=image_settings)["image-processing"]
    result = await process(
        {
            "imagePath": str(photo),
            "operations": [resize_op(width=300, height=300), {"type": "grayscale", "params": {}}],
            "quality": 85,
            "format": "webp",
        }
    )
    assert (result["width"], result["height"], result["format"]) == (300, 300, "webp")
    assert Path(result["path"]).name.startswith("photo-")  # no job id in memory


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"imagePath": "a.png", "operations": [{"type": "explode"}]}, "payload.operations.0"),
        ({"imagePath": "a.png", "operations": [resize_op(width=0)]}, "payload.operations.0"),
        ({"imagePath": "a.png", "operations": [resize_op()]}, "payload.operations.0"),
        (
            {"imagePath": "a.png", "operations": [resize_op(width=5, fit="squash")]},
            "payload.operations.0",
        ),
        (
            {"imagePath": "a.png", "operations": [{"type": "blur", "params": {"radius": -1}}]},
            "payload.operations.0",
        ),
        (
            {
                "imagePath": "a.png",
                "operations": [{"type": "rotate", "params": {"angle": 9, "background": "red\n"}}],
            },
            "payload.operations.0",
        ),
        ({"imagePath": "a.png\ud800"}, "payload.imagePath"),
        ({"imagePath": "a" * 5000}, "payload.imagePath"),
        ({"imagePath": "a.png", "format": "gif"}, "payload.format"),
        ({"imagePath": "a.png", "quality": 101}, "payload.quality"),
        ({"imagePath": "a.png", "operatons": []}, "payload.operatons"),
        ({"operations": []}, "payload.image_path"),
    ],
)
def test_bad_operations_are_refused_at_validation(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(ImagePayload, payload)
    assert caught.value.field is not None and caught.value.field.startswith(field)


def test_thumbnail_sizes_validated() -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(ThumbnailPayload, {"imagePath": "a.png", "sizes": [0]})
    assert caught.value.field is not None and caught.value.field.startswith("payload.sizes")
