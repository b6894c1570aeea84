"""`/healthz` (the process answers) and `/readyz` (and can reach the database); no auth."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import error_response
from api.schemas import ErrorOut

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    database: str


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: the database answers",
    response_model=ReadyOut,
    responses={503: {"model": ErrorOut, "description": "The database cannot be reached."}},
)
def readyz(request: Request) -> ReadyOut | JSONResponse:
    engine: Engine = request.app.state.engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("not ready: the database does not answer: %s", exc)
        return error_response(503, "not_ready", "the database does not answer")
    return ReadyOut(status="ready", database="ok")
