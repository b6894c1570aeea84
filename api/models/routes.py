"""HTTP routes of the model registry. Promote and rollback change the registry at once; retraining
is long work, so it is a job request that the scheduler runs (see /jobs/requests/{id})."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.deps import ReadKey, SessionDep, SettingsDep, require_role
from api.errors import ApiError
from api.jobs.schemas import JobRequestOut
from api.jobs.service import request_run
from api.models.schemas import ModelVersionOut, RetrainIn, RollbackIn
from api.pagination import Page, TimeRangeDep, decode_time_id_cursor, encode_cursor, page_size
from api.schemas import CONFLICT_RESPONSE, ERROR_RESPONSES
from db.repositories import models as models_repo
from db.tables import ApiKey
from services import model_registry

router = APIRouter(prefix="/models", tags=["models"], responses=ERROR_RESPONSES)
AdminKey = Annotated[ApiKey, Depends(require_role("admin"))]


@router.get("", summary="Model versions with their metrics, newest first")
def list_versions(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    period: TimeRangeDep,
    kind: Annotated[Literal["rul", "qc", "health"] | None, Query()] = None,
    scope: Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00]*$")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the last page.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Versions per page (default 100).")] = None,
) -> Page[ModelVersionOut]:
    """`since` / `until` filter on the versions' creation time."""
    size = page_size(limit, settings.api_max_page, "versions")
    rows = models_repo.list_versions(
        session, kind, scope, size + 1, period.since, period.until, before=decode_time_id_cursor(cursor)
    )
    page = rows[:size]
    next_cursor = None
    if len(rows) > size:
        next_cursor = encode_cursor(page[-1].created_at.isoformat(), page[-1].id)
    return Page[ModelVersionOut](
        items=[ModelVersionOut.model_validate(row) for row in page], next_cursor=next_cursor
    )


@router.post(
    "/{version_id}/promote", summary="Make a version the champion (admin)", responses=CONFLICT_RESPONSE
)
def promote(
    session: SessionDep, _key: AdminKey, version_id: Annotated[int, Path(ge=1, lt=2**31)]
) -> ModelVersionOut:
    try:
        return ModelVersionOut.model_validate(model_registry.promote(session, version_id))
    except model_registry.RegistryError as error:
        raise ApiError(404, str(error)) from error


@router.post(
    "/rollback", summary="Bring back the previous champion of a scope (admin)", responses=CONFLICT_RESPONSE
)
def rollback(session: SessionDep, _key: AdminKey, body: RollbackIn) -> ModelVersionOut:
    try:
        return ModelVersionOut.model_validate(model_registry.rollback(session, body.kind, body.scope))
    except model_registry.RegistryError as error:
        raise ApiError(409, str(error)) from error


@router.post(
    "/{kind}/retrain",
    status_code=202,
    summary="Ask the scheduler to retrain RUL (per machine type) or QC (per line) models now (admin)",
)
def retrain(
    session: SessionDep,
    key: AdminKey,
    kind: Annotated[Literal["rul", "qc"], Path(description="rul or qc")],
    body: RetrainIn | None = None,
) -> JobRequestOut:
    params = {"scope": body.scope} if body and body.scope else {}
    return request_run(session, f"train_{kind}", params, key.name)
