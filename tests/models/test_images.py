"""Image decoding: any common format to square grayscale uint8; bad bytes get an ImageDecodeError with why."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from models.images import ImageDecodeError, decode_image, load_images


def encode(image: Image.Image, format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


@pytest.mark.parametrize("format", ["PNG", "JPEG", "BMP", "TIFF"])
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_common_formats_decode_to_square_grayscale(format: str, mode: str) -> None:
    gradient = np.tile(np.arange(0, 200, 2, dtype=np.uint8), (60, 1))  # 60 x 100, dark left, bright right
    image = Image.fromarray(gradient).convert(mode)
    out = decode_image(encode(image, format), 32)
    assert out.shape == (32, 32) and out.dtype == np.uint8
    assert out[:, :4].mean() < 30 and out[:, -4:].mean() > 160


def test_colour_becomes_luminance_and_alpha_is_dropped() -> None:
    red = Image.new("RGBA", (10, 10), (255, 0, 0, 128))
    assert np.all(decode_image(encode(red, "PNG"), 4) == 76)  # ITU-R 601-2 luma of pure red


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty payload"),
        (b"hello, not an image", "not a recognised image format"),
        (encode(Image.new("L", (50, 50), 9), "JPEG")[:60], "corrupt or unsupported"),
    ],
)
def test_bad_bytes_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageDecodeError, match=reason):
        decode_image(data, 16)


def test_huge_images_are_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("models.images.MAX_PIXELS", 100)
    with pytest.raises(ImageDecodeError, match="more than 100 pixels is refused"):
        decode_image(encode(Image.new("L", (11, 10)), "PNG"), 8)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_another_error(data: bytes) -> None:
    try:
        out = decode_image(data, 8)
    except ImageDecodeError:
        return
    assert out.shape == (8, 8)


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.integers(0, 400))
def test_damaged_png_never_escapes_as_another_error(noise: bytes, at: int) -> None:
    data = bytearray(encode(Image.new("L", (20, 20), 100), "PNG"))
    at = min(at, len(data) - 1)
    data[at : at + len(noise)] = noise
    with contextlib.suppress(ImageDecodeError):
        decode_image(bytes(data), 8)


def test_load_images_names_the_bad_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    good.write_bytes(encode(Image.new("L", (20, 20), 200), "PNG"))
    bad.write_bytes(b"oops")
    assert load_images([good, good], 8).shape == (2, 8, 8)
    with pytest.raises(ImageDecodeError, match=r"bad\.png: not a recognised"):
        load_images([good, bad], 8)
