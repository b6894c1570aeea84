"""HTTP routes of inspections: upload an image (engineer, mes, admin), list, get, the image bytes
(every role), and set or correct the known label (engineer, admin)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute

from api.deps import ReadKey, SessionDep, SettingsDep, require_role
from api.errors import describe_validation_error, invalid
from api.inspections import service
from api.inspections.schemas import InspectionOut, LabelIn
from api.pagination import Page
from api.schemas import ERROR_RESPONSES, ErrorOut, NameText, Timestamp
from db.repositories.inspections import InspectionFilter
from db.tables import ApiKey
from services.inspections import Upload


class _FormRoute(APIRoute):
    """Answers a form's validation errors itself: the generic handler would advise sending JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as error:
                raise invalid([describe_validation_error(e) for e in error.errors()]) from error

        return handler


router = APIRouter(prefix="/inspections", tags=["inspections"], responses=ERROR_RESPONSES)

InspectionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The inspection's id.")]
WriterKey = Annotated[ApiKey, Depends(require_role("engineer", "mes"))]
LabellerKey = Annotated[ApiKey, Depends(require_role("engineer"))]
NAME_RULE = "1-64 characters of A-Z a-z 0-9 _ . -"


def create_inspection(
    session: SessionDep,
    settings: SettingsDep,
    key: WriterKey,
    response: Response,
    file: Annotated[UploadFile, File(description="The image: JPEG, PNG or BMP.")],
    site: Annotated[str, Form(description=f"The site ({NAME_RULE}).")],
    line: Annotated[str, Form(description=f"The line, registered on first use ({NAME_RULE}).")],
    station: Annotated[str, Form(description=f"The inspection station on the line ({NAME_RULE}).")],
    part_id: Annotated[str, Form(description="The part inspected (1-128 printable characters).")],
    taken_at: Annotated[Timestamp, Form(description="When the image was taken (RFC 3339).")],
    label: Annotated[str | None, Form(description="The known class, if any (a name, like site).")] = None,
) -> InspectionOut:
    """Store the image and its inspection: 201. An image stored before (same SHA-256) is not stored
    again: 200 with the inspection it belongs to, unchanged."""
    data = service.read_upload(file.file, settings.image_max_bytes)
    upload = Upload(
        site=site,
        line=line,
        station=station,
        part_id=part_id,
        taken_at=taken_at,
        data=data,
        label=label or None,  # an empty form field is no label
        declared_type=file.content_type,
    )
    inspection, created = service.upload(session, settings, upload, by=key.name)
    if not created:
        response.status_code = 200
    return inspection


router.add_api_route(
    "",
    create_inspection,
    methods=["POST"],
    status_code=201,
    summary="Upload an inspection image (multipart form)",
    responses={
        200: {"model": InspectionOut, "description": "The same image was stored before: that inspection."},
        413: {"model": ErrorOut, "description": "image_too_large: over PLANTWATCH_IMAGE_MAX_BYTES."},
        415: {"model": ErrorOut, "description": "image_format: not a JPEG, PNG or BMP image."},
    },
    route_class_override=_FormRoute,
)


@router.get("", summary="List inspections, newest first (by taken_at)")
def list_inspections(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    site: Annotated[NameText | None, Query(description="Only this site.")] = None,
    line: Annotated[NameText | None, Query(description="Only lines with this name.")] = None,
    station: Annotated[NameText | None, Query(description="Only this station.")] = None,
    label: Annotated[NameText | None, Query(description="Only this known label.")] = None,
    predicted: Annotated[NameText | None, Query(description="Only this predicted label.")] = None,
    needs_review: Annotated[bool | None, Query(description="Only those flagged (or not) for review.")] = None,
    labelled: Annotated[bool | None, Query(description="Only those with (or without) a known label.")] = None,
    start: Annotated[Timestamp | None, Query(description="Taken at or after (RFC 3339).")] = None,
    end: Annotated[Timestamp | None, Query(description="Taken before (RFC 3339).")] = None,
    cursor: Annotated[str | None, Query(max_length=300, description="next_cursor of the last page.")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Inspections per page: default 100, at most api_max_page.")
    ] = None,
) -> Page[InspectionOut]:
    where = InspectionFilter(
        site=site,
        line=line,
        station=station,
        label=label,
        predicted=predicted,
        needs_review=needs_review,
        labelled=labelled,
        start=start,
        end=end,
    )
    return service.list_page(session, where, cursor=cursor, limit=limit, max_page=settings.api_max_page)


@router.get("/{inspection_id}", summary="One inspection")
def get_inspection(session: SessionDep, _key: ReadKey, inspection_id: InspectionId) -> InspectionOut:
    return service.get(session, inspection_id)


@router.get(
    "/{inspection_id}/image",
    summary="The image bytes of an inspection",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/bmp": {}}}},
)
def get_image(
    session: SessionDep, settings: SettingsDep, _key: ReadKey, inspection_id: InspectionId
) -> FileResponse:
    return service.image(session, settings, inspection_id)


@router.patch("/{inspection_id}", summary="Set, correct or clear the known label")
def relabel(
    session: SessionDep, key: LabellerKey, inspection_id: InspectionId, body: LabelIn
) -> InspectionOut:
    return service.relabel(session, inspection_id, body.label, by=key.name)
