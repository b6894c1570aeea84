"""Inspections recorded by people and programs (the API's upload, the CLI's folder import): check the
image and its details, store the file, add the row; relabel one. MQTT ingest has its own path with
the same rules (ingest/inspection_writer.py).

A known image (same sha256) is not stored twice: `store_inspection` returns the existing inspection
with created=False. The image file is written (fsynced) before the row is added; nothing here
commits, the caller does. Lines are registered on first use, with their site.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from db.images import check_image, store_image
from db.repositories import inspections as repo
from db.repositories.inspections import InspectionRow

MAX_FUTURE = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class InspectionError(ValueError):
    """Details of an inspection that break a rule (the API answers 422)."""


class UnknownInspectionError(LookupError):
    """No inspection with that id (the API answers 404)."""


@dataclass(frozen=True)
class Upload:
    """An image and what is known about it."""

    site: str
    line: str
    station: str
    part_id: str | None
    taken_at: datetime
    data: bytes
    label: str | None = None
    declared_type: str | None = None  # the Content-Type the sender gave, if any


def check_upload(upload: Upload, now: datetime | None = None) -> None:
    """Raise InspectionError when a detail (not the image) breaks a rule."""
    problems = [
        repo.check_name("site", upload.site),
        repo.check_name("line", upload.line),
        repo.check_name("station", upload.station),
        repo.check_part_id(upload.part_id) if upload.part_id is not None else None,
        repo.check_label(upload.label) if upload.label is not None else None,
    ]
    if upload.taken_at.tzinfo is None:
        problems.append("taken_at needs a UTC offset")
    else:
        now = now or datetime.now(UTC)
        if upload.taken_at > now + MAX_FUTURE:
            problems.append(f"taken_at {upload.taken_at.isoformat()} is more than 5 minutes in the future")
        if upload.taken_at < EARLIEST:
            problems.append(f"taken_at {upload.taken_at.isoformat()} is before {EARLIEST.year}")
    found = [problem for problem in problems if problem is not None]
    if found:
        raise InspectionError("; ".join(found))


def store_inspection(
    session: Session, upload: Upload, *, images_dir: Path, max_bytes: int, by: str | None
) -> tuple[InspectionRow, bool]:
    """Check, store and add one inspection: (it, created?). `by` labels a given label's provenance.
    Raises InspectionError (details) or ImageRejected (the image); OSError when the file cannot be
    written."""
    check_upload(upload)
    image = check_image(upload.data, max_bytes=max_bytes, declared_type=upload.declared_type)
    image_path = store_image(images_dir, upload.data, image)  # stored before: only checked
    existing = repo.find_by_sha256(session, image.sha256)
    if existing is None:
        line_id = repo.register_line(session, upload.site, upload.line)
        new = repo.NewInspection(
            line_id=line_id,
            station=upload.station,
            part_id=upload.part_id,
            taken_at=upload.taken_at.astimezone(UTC),
            image=image,
            image_path=image_path,
            known_label=upload.label,
            labelled_by=by,
            labelled_at=datetime.now(UTC),
        )
        existing, created = repo.add_inspection(session, new)
    else:
        created = False
    row = repo.get_inspection(session, existing.id)
    assert row is not None
    return row, created


def get_inspection(session: Session, inspection_id: int) -> InspectionRow:
    row = repo.get_inspection(session, inspection_id) if 0 < inspection_id < 2**63 else None
    if row is None:
        raise UnknownInspectionError(f"no inspection {inspection_id}")
    return row


def relabel_inspection(session: Session, inspection_id: int, label: str | None, *, by: str) -> InspectionRow:
    """Set or correct (None: clear) the known label of an inspection, recording who and when."""
    row = get_inspection(session, inspection_id)
    if label is not None:
        refusal = repo.check_label(label)
        if refusal is not None:
            raise InspectionError(refusal)
    repo.relabel(session, row.inspection, label, by=by, at=datetime.now(UTC))
    return row
