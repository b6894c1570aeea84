"""Inspections for the API: upload (rules in services.inspections), list, get, image bytes, relabel.

Refused images answer with their stable reason as the error code: `image_too_large` 413,
`image_format` 415, `image_empty`, `image_corrupt` and `image_dimensions` 422.
"""

from __future__ import annotations

import logging
from typing import BinaryIO

from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from api.errors import ApiError, invalid, not_found
from api.inspections.schemas import InspectionOut
from api.pagination import Page, decode_time_id_cursor, encode_cursor, page_size
from db.images import ImageRejected, image_file
from db.repositories import inspections as repo
from db.repositories.inspections import InspectionFilter, InspectionRow
from plantwatch.settings import Settings
from services import inspections as inspections_service
from services.inspections import InspectionError, UnknownInspectionError, Upload

IMAGE_STATUS = {"image_too_large": 413, "image_format": 415}  # the other image reasons: 422
API_PREFIX = "/api/v1"

log = logging.getLogger(__name__)


def inspection_out(row: InspectionRow) -> InspectionOut:
    inspection = row.inspection
    return InspectionOut(
        id=inspection.id,
        site=row.site,
        line=row.line,
        station=inspection.station,
        part_id=inspection.part_id,
        taken_at=inspection.taken_at,
        content_type=inspection.content_type,
        size_bytes=inspection.size_bytes,
        width=inspection.width,
        height=inspection.height,
        sha256=inspection.image_sha256,
        image_url=f"{API_PREFIX}/inspections/{inspection.id}/image",
        label=inspection.known_label,
        labelled_by=inspection.labelled_by,
        labelled_at=inspection.labelled_at,
        predicted_label=inspection.predicted_label,
        confidence=inspection.confidence,
        model_version_id=inspection.model_version_id,
        classified_at=inspection.classified_at,
        needs_review=inspection.needs_review,
        created_at=inspection.created_at,
    )


def read_upload(file: BinaryIO, max_bytes: int) -> bytes:
    """The uploaded bytes; 413 as soon as there are more than `max_bytes`."""
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(
            413, f"the image has more than {max_bytes} bytes; at most {max_bytes}", "image_too_large"
        )
    return data


def upload(session: Session, settings: Settings, upload: Upload, by: str) -> tuple[InspectionOut, bool]:
    """Store the inspection: (it, created?); an image stored before gives the existing one."""
    try:
        row, created = inspections_service.store_inspection(
            session,
            upload,
            images_dir=settings.images_directory,
            max_bytes=settings.image_max_bytes,
            by=by,
        )
    except ImageRejected as rejected:
        raise ApiError(IMAGE_STATUS.get(rejected.code, 422), rejected.detail, rejected.code) from rejected
    except InspectionError as error:
        raise invalid(str(error)) from error
    except OSError as error:
        raise ApiError(503, "the image store cannot be written; try again shortly", "unavailable") from error
    return inspection_out(row), created


def _find(session: Session, inspection_id: int) -> InspectionRow:
    try:
        return inspections_service.get_inspection(session, inspection_id)
    except UnknownInspectionError as error:
        raise not_found(str(error)) from error


def get(session: Session, inspection_id: int) -> InspectionOut:
    return inspection_out(_find(session, inspection_id))


def list_page(
    session: Session, where: InspectionFilter, *, cursor: str | None, limit: int | None, max_page: int
) -> Page[InspectionOut]:
    limit = page_size(limit, max_page, "inspections")
    if where.start is not None and where.end is not None and where.start >= where.end:
        raise invalid(
            f"query.start: must be before end ({where.start.isoformat()} >= {where.end.isoformat()})"
        )
    rows = repo.list_inspections(session, where, before=decode_time_id_cursor(cursor), limit=limit + 1)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1].inspection
        next_cursor = encode_cursor(last.taken_at.isoformat(), last.id)
    return Page[InspectionOut](items=[inspection_out(row) for row in page], next_cursor=next_cursor)


def image(session: Session, settings: Settings, inspection_id: int) -> FileResponse:
    """The image bytes with their content type; content-addressed, so cacheable for good."""
    inspection = _find(session, inspection_id).inspection
    try:
        path = image_file(settings.images_directory, inspection.image_path)
    except ValueError:  # a path this store never gives out: treated as a missing file
        path = None
    if path is None or not path.is_file():
        # Where it should be goes to the log, not to the client: the store's layout is ours.
        log.warning("image of inspection %d missing: %s", inspection_id, inspection.image_path)
        raise not_found(
            f"the image of inspection {inspection_id} is missing from the image store; "
            "ask an administrator to restore it"
        )
    return FileResponse(
        path,
        media_type=inspection.content_type,
        headers={
            "ETag": f'"{inspection.image_sha256}"',
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )


def relabel(session: Session, inspection_id: int, label: str | None, by: str) -> InspectionOut:
    try:
        row = inspections_service.relabel_inspection(session, inspection_id, label, by=by)
    except UnknownInspectionError as error:
        raise not_found(str(error)) from error
    except InspectionError as error:
        raise invalid(str(error)) from error
    return inspection_out(row)
