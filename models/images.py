"""Decoding inspection images: bytes or files in, square grayscale uint8 arrays out (Pillow, no Keras).

Training and serving both go through `decode_image`, so a model always sees images prepared the same
way: the first frame, converted to 8-bit grayscale ("L"), resized to `size` x `size` with Pillow's
antialiased bilinear filter (the aspect ratio is not kept: inspection cameras give a fixed framing).
Corrupt, truncated, unsupported or absurdly large input raises `ImageDecodeError` with the reason.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # beyond this a payload is refused before it is decoded (decompression bombs)


class ImageDecodeError(ValueError):
    """The bytes are not an image this service can read; the message says why."""


def decode_image(data: bytes, size: int) -> NDArray[np.uint8]:
    """[size, size] grayscale uint8 of an encoded image (JPEG, PNG, BMP, TIFF, ... anything Pillow reads)."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if not data:
        raise ImageDecodeError("empty payload: no image bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width < 1 or height < 1:
                    raise ImageDecodeError(f"image has no pixels ({width}x{height})")
                if width * height > MAX_PIXELS:
                    raise ImageDecodeError(
                        f"image is {width}x{height}: more than {MAX_PIXELS:,} pixels is refused"
                    )
                gray = image.convert("L").resize((size, size), Image.Resampling.BILINEAR)
                return np.asarray(gray, dtype=np.uint8).copy()
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        raise ImageDecodeError("not a recognised image format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"image too large: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or corrupt data, odd modes
        raise ImageDecodeError(f"corrupt or unsupported image: {exc}") from None


def load_images(paths: Sequence[Path | str], size: int) -> NDArray[np.uint8]:
    """[N, size, size] of image files; raises ImageDecodeError naming the first file that fails."""
    out = np.empty((len(paths), size, size), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            out[i] = decode_image(Path(path).read_bytes(), size)
        except ImageDecodeError as exc:
            raise ImageDecodeError(f"{path}: {exc}") from None
    return out
