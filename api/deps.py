"""Request dependencies: the settings, a database session per request, and API-key auth with roles.

The session is the request's unit of work: committed when the route returns (before the response
is sent, so a failed commit still answers an error), rolled back when it raises. A committed write
adds its audit-log entry (who, what, when) to that same transaction. GET and HEAD requests read in
autocommit, without a transaction, and may not write: a write there raises before it reaches the
database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from api.key_cache import KeyCache
from api.middleware import route_template
from db.tables import ApiKey, AuditEntry
from db.tables.operations import ROLES
from plantwatch.settings import Settings
from services import api_keys

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="ApiKey", description="An API key (`pw_...`)."
)
bearer = HTTPBearer(
    auto_error=False, scheme_name="Bearer", description="The same API key as `Authorization: Bearer`."
)


# Dependencies that do no I/O are `async def`: a plain `def` would cost a hop to the thread pool and
# back on every request.
async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


WROTE = "plantwatch_wrote"  # session.info flag: this transaction changed something
READ_ONLY = "plantwatch_read_only"  # session.info flag: a GET's session, in autocommit
# POST routes that only read (a body too large or too nested for a query string): sessions as GET's.
READING_POSTS = frozenset({"/api/v1/predict/rul"})


class ReadOnlySessionError(RuntimeError):
    """A GET request's session was asked to write (a bug: its statements would commit one by one)."""


def track_writes(factory: sessionmaker[Session]) -> None:
    """Flag the sessions of `factory` that insert, update or delete, so only real writes are audited
    (scoring a window sent with POST /predict/rul changes nothing); refuse them in read-only ones."""

    def flushing(session: Session, _context: object, _instances: object) -> None:
        changed = session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)
        if changed and session.info.get(READ_ONLY):
            raise ReadOnlySessionError("a GET request may not write to the database")

    def flushed(session: Session, _context: object) -> None:
        session.info[WROTE] = True

    def executed(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            if state.session.info.get(READ_ONLY):
                raise ReadOnlySessionError("a GET request may not write to the database")
            state.session.info[WROTE] = True

    event.listen(factory, "before_flush", flushing)
    event.listen(factory, "after_flush", flushed)
    event.listen(factory, "do_orm_execute", executed)


def request_session(request: Request) -> Session:
    """A new session for the request: GET, HEAD and READING_POSTS read in autocommit (no BEGIN and
    COMMIT round trips; each statement sees the data as committed then, as in the default isolation
    level anyway) and may not write."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))  # behind a proxy prefix
    if request.method in ("GET", "HEAD") or path in READING_POSTS:
        return factory(bind=request.app.state.read_engine, info={READ_ONLY: True})
    return factory()


def audit_write(session: Session, request: Request) -> None:
    """Record a write in the audit log, in the transaction that commits it (so only what happened)."""
    key: ApiKey | None = getattr(request.state, "api_key", None)
    if key is None or not session.info.get(WROTE):
        return
    route = route_template(request.scope)
    session.add(
        AuditEntry(
            key_id=key.id,
            key_name=key.name,
            role=key.role,
            method=request.method,
            path=request.url.path,
            route=route,
            query=request.url.query or None,
            request_id=getattr(request.state, "request_id", None),
        )
    )


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Opening a session does no I/O (it connects on first use), so only its end goes to the thread
    # pool: one hop instead of two. The end is shielded: a cancelled request still returns its connection.
    session = request_session(request)
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_end, session, None)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_end, session, request)


def _end(session: Session, committing: Request | None) -> None:
    """Commit the request's session (with its audit entry), or roll it back; then close it."""
    try:
        if committing is not None:
            audit_write(session, committing)
            session.commit()
    finally:
        session.close()  # rolls back what was not committed


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
# scope="function": commit when the route returns, before the response goes out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def current_key(
    request: Request,
    session: SessionDep,
    header_key: Annotated[str | None, Security(api_key_header)],
    bearer_key: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> ApiKey:
    """The active API key of the request (X-API-Key, else Authorization: Bearer); 401 without one.
    A key found in the cache costs no trip to the thread pool or the database."""
    plaintext = header_key or (bearer_key.credentials if bearer_key else None)
    challenge = {"WWW-Authenticate": "Bearer"}
    if not plaintext:
        raise ApiError(401, "send an API key in the X-API-Key header", headers=challenge)
    plaintext = plaintext.strip()
    cache: KeyCache = request.app.state.key_cache
    key = cache.get(plaintext)
    if key is None:
        key = await run_in_threadpool(api_keys.authenticate, session, plaintext)
        if key is not None:
            cache.put(plaintext, key)
    if key is None:
        raise ApiError(401, "the API key is unknown or revoked", headers=challenge)
    request.state.api_key = key
    return key


def require_role(*roles: str) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """A dependency that lets through keys with one of `roles` (admin always); 403 otherwise."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {', '.join(ROLES)}")
    allowed = set(roles) | {"admin"}

    async def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if key.role not in allowed:
            raise ApiError(
                403, f"a {key.role} key may not do this; it needs one of: {', '.join(sorted(allowed))}"
            )
        return key

    return check


# Every role may read; writes name their roles.
ReadKey = Annotated[ApiKey, Depends(require_role(*ROLES))]
AdminKey = Annotated[ApiKey, Depends(require_role())]
