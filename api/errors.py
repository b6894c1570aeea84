"""Errors as JSON: every failure answers `{"error": "<code>", "detail": <sentence or list>}`.

Routes and services raise `ApiError` (or let FastAPI/Starlette raise theirs); `install_error_handlers`
turns each kind into the JSON body. An unexpected exception answers a generic 500 and its traceback
goes to the log only, never into the body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error with its HTTP status, short code and human detail."""

    def __init__(
        self,
        status: int,
        detail: str | list[str],
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.detail = detail
        self.headers = headers


def not_found(detail: str) -> ApiError:
    return ApiError(404, detail)


def invalid(detail: str | list[str]) -> ApiError:
    return ApiError(422, detail)


def conflict(detail: str) -> ApiError:
    return ApiError(409, detail)


def error_response(
    status: int, code: str, detail: str | list[str], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def describe_validation_error(error: dict[str, Any]) -> str:
    """One readable line per validation error: `query.limit: Input should be ...`."""
    location = ".".join(str(part) for part in error.get("loc", ()))
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        return f"body: the body is not valid JSON ({reason})" if reason else "body: not valid JSON"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.detail, exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail: Any = exc.detail
    if status == 404 and detail == "Not Found":
        detail = f"no route {request.url.path!r}; the API is described at /docs"
    elif status == 405 and detail == "Method Not Allowed":
        detail = f"{request.method} is not allowed on this route"
    if not isinstance(detail, str | list):
        detail = str(detail)
    return error_response(status, CODES.get(status, "error"), detail, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [describe_validation_error(e) for e in exc.errors()]
    content_type = request.headers.get("content-type", "")
    if any(p.startswith("body") for p in problems) and content_type and "json" not in content_type:
        problems.insert(0, f"body: send JSON with Content-Type: application/json (not {content_type})")
    return error_response(422, "invalid_request", problems)


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
    return error_response(409, "conflict", "the request conflicts with existing data")


async def _unstorable_value(request: Request, exc: Exception) -> JSONResponse:
    # What PostgreSQL refuses as data (a NUL byte in text, a number out of range) came from the request.
    log.warning("data error on %s %s: %s", request.method, request.url.path, getattr(exc, "orig", exc))
    return error_response(
        422,
        "invalid_request",
        "a value in the request cannot be stored or searched (a NUL byte, or out of range)",
    )


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("database error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, "unavailable", "the database is unavailable; try again shortly")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _unstorable_value)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(Exception, _unexpected)
