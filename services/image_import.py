"""Import a folder of inspection images, one subfolder per class (the folder name is the known label),
as `plantwatch import-images` does; images directly in the folder are imported without a label.

`find_images` lists what to import (sorted, at most `limit` per class) and refuses a tree whose
class folders are not valid labels before anything is imported. `import_image` imports one file
in the caller's transaction; an image already stored (same sha256) is not imported again, so
running the import twice adds nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from db.images import ImageRejected
from db.repositories.inspections import PART_ID_MAX, check_label
from services.inspections import InspectionError, Upload, store_inspection

SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
IMPORTED, DUPLICATE = "imported", "duplicate"


class ImageTreeError(ValueError):
    """The folder cannot be imported at all (not a folder, a class folder that is no valid label)."""


@dataclass(frozen=True)
class ImageFile:
    path: Path
    label: str | None


@dataclass
class ImportSummary:
    imported: int = 0
    duplicates: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # by reason

    def add(self, outcome: str) -> None:
        if outcome == IMPORTED:
            self.imported += 1
        elif outcome == DUPLICATE:
            self.duplicates += 1
        else:
            self.refused[outcome] += 1

    def __str__(self) -> str:
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.refused.most_common())
        total = self.imported + self.duplicates + self.refused.total()
        return (
            f"{total} images: {self.imported} imported, {self.duplicates} already stored, "
            f"{self.refused.total()} refused{f' ({reasons})' if reasons else ''}"
        )


def find_images(root: Path, limit: int | None = None) -> list[ImageFile]:
    """The images under `root` (its class folders, and itself without a label), by class then name."""
    if not root.is_dir():
        raise ImageTreeError(f"{root} is not a folder")
    folders = sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith("."))
    bad = [refusal for folder in folders if (refusal := check_label(folder.name)) is not None]
    if bad:
        raise ImageTreeError(f"class folders must be valid labels: {'; '.join(bad)}")
    found: list[ImageFile] = []
    for folder, label in [(root, None), *((folder, folder.name) for folder in folders)]:
        files = sorted(
            path
            for path in folder.iterdir()
            if path.is_file() and path.suffix.lower() in SUFFIXES and not path.name.startswith(".")
        )
        found += [ImageFile(path, label) for path in files[:limit]]
    return found


def import_image(
    session: Session,
    image: ImageFile,
    *,
    site: str,
    line: str,
    station: str,
    images_dir: Path,
    max_bytes: int,
) -> tuple[str, str]:
    """Import one file: (outcome, detail); outcome is `imported`, `duplicate` or why it was refused.
    The file's name (without suffix) is the part id, its modification time when it was taken."""
    try:
        data = image.path.read_bytes()
        taken_at = datetime.fromtimestamp(image.path.stat().st_mtime, UTC)
    except OSError as error:
        return "unreadable", str(error)
    upload = Upload(
        site=site,
        line=line,
        station=station,
        part_id=image.path.stem[:PART_ID_MAX].strip() or None,
        taken_at=min(taken_at, datetime.now(UTC)),
        data=data,
        label=image.label,
    )
    try:
        _row, created = store_inspection(
            session, upload, images_dir=images_dir, max_bytes=max_bytes, by="import-images"
        )
    except ImageRejected as rejected:
        return rejected.code, rejected.detail
    except InspectionError as error:
        return "invalid", str(error)
    return (IMPORTED, "") if created else (DUPLICATE, "")
