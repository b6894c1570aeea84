"""db.images: which bytes are images we accept (and why not), and the content-addressed store."""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.images import (
    MAX_SIDE,
    REASONS,
    CheckedImage,
    ImageRejected,
    check_image,
    image_file,
    store_image,
)
from tests.image_samples import image_bytes

MAX = 1 << 20


def rejected(data: bytes, *, max_bytes: int = MAX, declared_type: str | None = None) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        check_image(data, max_bytes=max_bytes, declared_type=declared_type)
    assert caught.value.code in REASONS
    assert caught.value.detail
    return caught.value


def png_header(width: int, height: int) -> bytes:
    """A PNG that is only a signature, an IHDR with these dimensions and an IEND (valid CRCs)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("image_format", "content_type", "extension"),
    [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"), ("BMP", "image/bmp", "bmp")],
)
def test_accepted_formats(image_format: str, content_type: str, extension: str) -> None:
    data = image_bytes(image_format, (40, 30))
    image = check_image(data, max_bytes=MAX, declared_type=content_type)
    assert (image.content_type, image.extension) == (content_type, extension)
    assert (image.width, image.height, image.size_bytes) == (40, 30, len(data))
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert image.relative_path == f"{image.sha256[:2]}/{image.sha256[2:4]}/{image.sha256}.{extension}"


def test_declared_content_types() -> None:
    jpeg = image_bytes("JPEG")
    for unspecific in (None, "", "application/octet-stream", "image/jpeg; charset=binary", "IMAGE/JPG"):
        assert check_image(jpeg, max_bytes=MAX, declared_type=unspecific).content_type == "image/jpeg"
    mismatch = rejected(jpeg, declared_type="image/png")
    assert mismatch.code == "image_format" and "JPEG" in mismatch.detail
    assert rejected(jpeg, declared_type="text/plain").code == "image_format"


def test_empty_and_too_large() -> None:
    assert rejected(b"").code == "image_empty"
    data = image_bytes("BMP", (64, 64))
    too_large = rejected(data, max_bytes=len(data) - 1)
    assert too_large.code == "image_too_large" and str(len(data)) in too_large.detail
    assert check_image(data, max_bytes=len(data)).size_bytes == len(data)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (image_bytes("GIF"), "GIF"),
        (image_bytes("TIFF"), "TIFF"),
        (image_bytes("WEBP"), "WebP"),
        (b"%PDF-1.7 not an image", "PDF"),
        (b"hello, this is text", "unrecognised"),
    ],
)
def test_other_formats_are_named(data: bytes, named: str) -> None:
    refusal = rejected(data)
    assert refusal.code == "image_format"
    assert named in refusal.detail


def test_corrupt_images() -> None:
    jpeg = image_bytes("JPEG", (64, 64))
    assert rejected(jpeg[: len(jpeg) // 2]).code == "image_corrupt"  # truncated
    png = bytearray(image_bytes("PNG", (64, 64)))
    png[40] ^= 0xFF  # inside a chunk: its CRC no longer matches
    assert rejected(bytes(png)).code == "image_corrupt"
    assert rejected(b"BM" + b"\x00" * 100).code == "image_corrupt"
    assert rejected(b"\xff\xd8\xff").code == "image_corrupt"


def test_absurd_dimensions() -> None:
    tiny = rejected(image_bytes("PNG", (4, 4)))
    assert tiny.code == "image_dimensions" and "4x4" in tiny.detail
    assert rejected(png_header(MAX_SIDE + 1, 10)).code == "image_dimensions"
    assert rejected(png_header(15_000, 15_000)).code == "image_dimensions"  # too many pixels
    assert rejected(png_header(100_000, 100_000)).code == "image_dimensions"  # Pillow's bomb check


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise_anything_else(data: bytes) -> None:
    try:
        check_image(data, max_bytes=MAX)
    except ImageRejected as refusal:
        assert refusal.code in REASONS


VALID = [image_bytes(name, (24, 16), seed=1) for name in ("JPEG", "PNG", "BMP")]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
    st.integers(min_value=0),
)
def test_damaged_images_never_raise_anything_else(
    data: bytes, flips: list[tuple[int, int]], keep: int
) -> None:
    damaged = bytearray(data[: max(3, keep % (len(data) + 1))])
    for offset, value in flips:
        damaged[offset % len(damaged)] = value
    try:
        image = check_image(bytes(damaged), max_bytes=MAX)
    except ImageRejected as refusal:
        assert refusal.code in REASONS
    else:
        assert isinstance(image, CheckedImage) and image.width >= 8


def test_store_is_content_addressed_and_durable(tmp_path: Path) -> None:
    root = tmp_path / "var" / "images"  # neither exists yet
    data = image_bytes("PNG")
    image = check_image(data, max_bytes=MAX)
    relative = store_image(root, data, image)
    assert relative == image.relative_path
    stored = image_file(root, relative)
    assert stored.read_bytes() == data
    assert stored.stat().st_mode & 0o777 == 0o644
    assert not [p for p in stored.parent.iterdir() if p.name.startswith(".tmp-")]
    before = stored.stat()
    assert store_image(root, data, image) == relative  # the same bytes: no second write
    after = stored.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_store_replaces_a_damaged_file(tmp_path: Path) -> None:
    data = image_bytes("BMP")
    image = check_image(data, max_bytes=MAX)
    stored = tmp_path / store_image(tmp_path, data, image)
    os.chmod(stored, 0o644)
    stored.write_bytes(data[:10])
    store_image(tmp_path, data, image)
    assert stored.read_bytes() == data


@pytest.mark.parametrize(
    "path", ["../etc/passwd", "ab/cd/" + "0" * 64 + ".gif", "/abs/" + "0" * 64 + ".jpg", "ab/cd/xyz.jpg"]
)
def test_image_file_refuses_other_paths(tmp_path: Path, path: str) -> None:
    with pytest.raises(ValueError, match="not an image path"):
        image_file(tmp_path, path)
