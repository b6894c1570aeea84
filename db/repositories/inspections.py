"""Queries on inspections (images of parts at a line's station): add one idempotently by its image's
hash, get, list with filters in keyset pages, relabel; and the lines inspections are registered on.

The rules of the stored text (`check_name`, `check_label`, `check_part_id`) live here, so that MQTT
ingest, the API and the CLI importer refuse the same values. Nothing here commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.images import CheckedImage
from db.tables import Inspection, Line, Site

LABEL_MAX = 64  # inspections.known_label / predicted_label are String(64)
PART_ID_MAX = 128
_LABEL = re.compile(r"[A-Za-z0-9_.\-]{1,64}")  # labels follow the rule of names (sites, lines, ...)


def check_name(kind: str, name: str) -> str | None:
    """Why `name` cannot be the name of a site, line or station (None: it can); as in MQTT topics."""
    if _LABEL.fullmatch(name) is None:
        return f"{kind} {name[:80]!r} must be 1-64 characters of A-Z a-z 0-9 _ . -"
    return None


def check_label(label: str) -> str | None:
    """Why `label` cannot be a class label (None: it can)."""
    if _LABEL.fullmatch(label) is None:
        return f"label {label[:80]!r} must be 1-{LABEL_MAX} characters of A-Z a-z 0-9 _ . -"
    return None


def check_part_id(part_id: str) -> str | None:
    """Why `part_id` cannot be a part id (None: it can)."""
    if not 1 <= len(part_id) <= PART_ID_MAX or not part_id.isprintable() or part_id != part_id.strip():
        return (
            f"part_id {part_id[:80]!r} must be 1-{PART_ID_MAX} printable characters "
            "without leading or trailing spaces"
        )
    return None


@dataclass(frozen=True, slots=True)
class InspectionRow:
    """An inspection with the names of its site and line."""

    inspection: Inspection
    site: str
    line: str


@dataclass(frozen=True, slots=True)
class NewInspection:
    line_id: int
    station: str
    part_id: str | None
    taken_at: datetime
    image: CheckedImage
    image_path: str
    known_label: str | None = None
    labelled_by: str | None = None
    labelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InspectionFilter:
    """What `list_inspections` keeps; None: any. `start` inclusive, `end` exclusive (on taken_at)."""

    site: str | None = None
    line: str | None = None
    station: str | None = None
    label: str | None = None
    predicted: str | None = None
    needs_review: bool | None = None
    labelled: bool | None = None
    start: datetime | None = None
    end: datetime | None = None


def find_line(session: Session, site: str, line: str) -> int | None:
    """The id of line `line` of site `site`, if it is registered."""
    return session.scalar(select(Line.id).join(Line.site).where(Site.name == site, Line.name == line))


def register_line(session: Session, site: str, line: str) -> int:
    """Get or create the line (and its site); safe against concurrent registration."""
    found = find_line(session, site, line)
    if found is not None:
        return found
    session.execute(insert(Site).values(name=site).on_conflict_do_nothing(index_elements=["name"]))
    site_id = session.scalar(select(Site.id).where(Site.name == site))
    session.execute(
        insert(Line)
        .values(site_id=site_id, name=line)
        .on_conflict_do_nothing(index_elements=["site_id", "name"])
    )
    registered = find_line(session, site, line)
    assert registered is not None
    return registered


def count_lines_created_since(session: Session, since: datetime) -> int:
    return int(session.scalar(select(func.count()).select_from(Line).where(Line.created_at > since)) or 0)


def add_inspection(session: Session, new: NewInspection) -> tuple[Inspection, bool]:
    """Insert the inspection unless one with the same image (sha256) exists: (the row, created?).
    Safe against concurrent inserts of the same image: the first one wins."""
    image = new.image
    inserted = session.scalar(
        insert(Inspection)
        .values(
            line_id=new.line_id,
            station=new.station,
            part_id=new.part_id,
            taken_at=new.taken_at,
            image_path=new.image_path,
            image_sha256=image.sha256,
            content_type=image.content_type,
            size_bytes=image.size_bytes,
            width=image.width,
            height=image.height,
            known_label=new.known_label,
            labelled_by=new.labelled_by if new.known_label is not None else None,
            labelled_at=new.labelled_at if new.known_label is not None else None,
        )
        .on_conflict_do_nothing(index_elements=["image_sha256"])
        .returning(Inspection.id)
    )
    found = (
        session.get(Inspection, inserted) if inserted is not None else find_by_sha256(session, image.sha256)
    )
    assert found is not None
    return found, inserted is not None


def find_by_sha256(session: Session, sha256: str) -> Inspection | None:
    return session.scalar(select(Inspection).where(Inspection.image_sha256 == sha256))


def _with_names() -> Select[Inspection, str, str]:
    return select(Inspection, Site.name, Line.name).join(Line, Inspection.line_id == Line.id).join(Line.site)


def get_inspection(session: Session, inspection_id: int) -> InspectionRow | None:
    row = session.execute(_with_names().where(Inspection.id == inspection_id)).first()
    if row is None:
        return None
    inspection, site, line = row
    return InspectionRow(inspection, site, line)


def list_inspections(
    session: Session,
    where: InspectionFilter,
    *,
    before: tuple[datetime, int] | None = None,
    limit: int = 100,
) -> list[InspectionRow]:
    """Inspections newest first (by taken_at, then id); `before` is the (taken_at, id) keyset cursor."""
    query = _with_names()
    if before is not None:
        query = query.where(tuple_(Inspection.taken_at, Inspection.id) < tuple_(*before))
    equal = (
        (Site.name, where.site),
        (Line.name, where.line),
        (Inspection.station, where.station),
        (Inspection.known_label, where.label),
        (Inspection.predicted_label, where.predicted),
        (Inspection.needs_review, where.needs_review),
    )
    for column, value in equal:
        if value is not None:
            query = query.where(column == value)
    if where.labelled is not None:
        labelled = Inspection.known_label.is_not(None)
        query = query.where(labelled if where.labelled else ~labelled)
    if where.start is not None:
        query = query.where(Inspection.taken_at >= where.start)
    if where.end is not None:
        query = query.where(Inspection.taken_at < where.end)
    query = query.order_by(Inspection.taken_at.desc(), Inspection.id.desc()).limit(limit)
    return [InspectionRow(inspection, site, line) for inspection, site, line in session.execute(query)]


def relabel(
    session: Session, inspection: Inspection, label: str | None, *, by: str, at: datetime
) -> Inspection:
    """Set (or, with None, clear) the known label, recording who and when. A person's label settles
    the review the classifier may have asked for."""
    inspection.known_label = label
    inspection.labelled_by = by
    inspection.labelled_at = at
    if label is not None:
        inspection.needs_review = False
    session.flush()
    return inspection
