"""Small images made with Pillow for the inspection tests: every seed gives other bytes."""

from __future__ import annotations

import io
import random

from PIL import Image


def image_bytes(image_format: str = "JPEG", size: tuple[int, int] = (32, 24), seed: int = 0) -> bytes:
    """A noisy RGB image of `size` in `image_format` (JPEG, PNG, BMP, GIF, ...)."""
    width, height = size
    noise = random.Random(seed).randbytes(width * height * 3)
    image = Image.frombytes("RGB", size, noise)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()
