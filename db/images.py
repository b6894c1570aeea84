"""Inspection image files: check the bytes of an image, and store them by content, durably.

`check_image` accepts JPEG, PNG and BMP files and refuses anything else with `ImageRejected`, whose
`code` is one of `REASONS` (stable: dead letters, HTTP errors and the docs use them) and whose
`detail` is a sentence for people. It never raises anything else, whatever the bytes (Pillow's
parsers raise many kinds of exception on hostile input; all of them mean "corrupt" here).

`store_image` writes the file under `<directory>/<sha256[:2]>/<sha256[2:4]>/<sha256>.<ext>`: to a
temporary file that is fsynced and then renamed, with the folder fsynced after the rename, so a
file that is there is whole. The same bytes always land on the same path, so a duplicate needs no
second write. `inspections.image_path` holds the path relative to the folder; `image_file` turns it
back into a file path. The folder is passed in (settings.images_directory): `db` reads no settings.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

REASONS = ("image_empty", "image_too_large", "image_format", "image_corrupt", "image_dimensions")
# Pillow format → (content type, file extension); the only formats accepted.
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "BMP": ("image/bmp", "bmp")}
MIN_SIDE = 8  # pixels; smaller "images" are placeholders, not something to inspect
MAX_SIDE = 20_000
MAX_PIXELS = 40_000_000  # decoding is checked in full: this bounds its memory (160 MB as RGBA)

# Declared content types: aliases of the accepted ones, and those that say nothing about the bytes.
_DECLARED = {
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/pjpeg": "JPEG",
    "image/png": "PNG",
    "image/x-png": "PNG",
    "image/bmp": "BMP",
    "image/x-bmp": "BMP",
    "image/x-ms-bmp": "BMP",
}
_UNSPECIFIC = ("", "application/octet-stream", "binary/octet-stream")
_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"BM", "BMP"))
# Other formats, recognised only to say what was sent instead.
_OTHER_MAGIC = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP"),
)
_RELATIVE_PATH = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\.(jpg|png|bmp)")


class ImageRejected(ValueError):
    """Bytes that are not an acceptable image: `code` (one of REASONS) and `detail` (a sentence)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class CheckedImage:
    """What `check_image` learnt about good image bytes."""

    sha256: str
    content_type: str
    extension: str
    width: int
    height: int
    size_bytes: int

    @property
    def relative_path(self) -> str:
        """Where the file lives under the images folder (what `inspections.image_path` holds)."""
        return f"{self.sha256[:2]}/{self.sha256[2:4]}/{self.sha256}.{self.extension}"


def check_image(data: bytes, *, max_bytes: int, declared_type: str | None = None) -> CheckedImage:
    """Check image bytes; `declared_type` (a Content-Type, optional) must agree with them when it names
    an image type. Raises ImageRejected, and nothing else."""
    if not data:
        raise ImageRejected("image_empty", "the image is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageRejected("image_too_large", f"the image has {len(data)} bytes; at most {max_bytes}")
    image_format = _sniff(data)
    _check_declared(declared_type, image_format)
    width, height = _decode(data, image_format)
    content_type, extension = FORMATS[image_format]
    return CheckedImage(
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        size_bytes=len(data),
    )


def _sniff(data: bytes) -> str:
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    other = next((name for magic, name in _OTHER_MAGIC if data.startswith(magic)), None)
    if other is None and data[4:12] in (b"ftypheic", b"ftypavif", b"ftypmif1"):
        other = "HEIF/AVIF"
    if other is None and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        other = "WebP"
    sent = f"a {other} file" if other else "not a JPEG, PNG or BMP file (unrecognised bytes)"
    raise ImageRejected("image_format", f"the image is {sent}; send JPEG, PNG or BMP")


def _check_declared(declared_type: str | None, image_format: str) -> None:
    if declared_type is None:
        return
    declared = declared_type.split(";", 1)[0].strip().lower()
    if declared in _UNSPECIFIC:
        return
    named = _DECLARED.get(declared)
    if named is None:
        raise ImageRejected(
            "image_format",
            f"content type {declared[:80]!r} is not one of image/jpeg, image/png, image/bmp",
        )
    if named != image_format:
        raise ImageRejected(
            "image_format", f"content type {declared!r} was declared but the bytes are a {image_format} image"
        )


def _decode(data: bytes, image_format: str) -> tuple[int, int]:
    """(width, height) once the whole image has decoded without error."""
    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            width, height = image.size
            _check_dimensions(width, height)
            image.verify()  # structure and checksums (PNG chunks' CRCs)
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            if image_format == "JPEG":  # decodes every block at 1/8 scale: truncation still shows
                image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
            image.load()
    except ImageRejected:
        raise
    except Image.DecompressionBombError as error:
        raise ImageRejected("image_dimensions", f"the image is far too large: {error}") from None
    except Exception as error:  # any parser error on these bytes means corrupt
        reason = str(error).strip() or type(error).__name__
        raise ImageRejected(
            "image_corrupt", f"the {image_format} image cannot be decoded: {reason[:200]}"
        ) from None
    return width, height


def _check_dimensions(width: int, height: int) -> None:
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ImageRejected(
            "image_dimensions",
            f"the image is {width}x{height} pixels; each side must be {MIN_SIDE} to {MAX_SIDE}",
        )
    if width * height > MAX_PIXELS:
        raise ImageRejected(
            "image_dimensions",
            f"the image has {width * height} pixels ({width}x{height}); at most {MAX_PIXELS}",
        )


def store_image(directory: Path, data: bytes, image: CheckedImage) -> str:
    """Write the image under `directory` by its hash, durably; returns its relative path. A file
    already there with the same hash is kept as it is (one with other bytes is replaced)."""
    relative = image.relative_path
    target = directory / relative
    _make_folders(directory, target.parent)
    if not _holds(target, image.sha256):
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=f".{image.extension}")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, 0o644)  # mkstemp makes it 0600; the API and the scheduler read it
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    # Also when the file was there: a crash may have come between its rename and this fsync.
    _fsync_folder(target.parent)
    return relative


def image_file(directory: Path, relative_path: str) -> Path:
    """The file of an `inspections.image_path` under `directory`; ValueError for any other path."""
    if not _RELATIVE_PATH.fullmatch(relative_path):
        raise ValueError(f"{relative_path[:100]!r} is not an image path this store gives out")
    return directory / relative_path


def _holds(target: Path, sha256: str) -> bool:
    try:
        digest = hashlib.sha256()
        with open(target, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except FileNotFoundError:
        return False
    return digest.hexdigest() == sha256


def _make_folders(root: Path, folder: Path) -> None:
    """Create `folder` (under `root`) and what is missing above it, fsyncing each new entry's parent."""
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        _fsync_folder(root.parent)
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        if not current.is_dir():
            current.mkdir(exist_ok=True)
            _fsync_folder(current.parent)


def _fsync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
