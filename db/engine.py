"""Engine and session factory for a PostgreSQL URL (psycopg 3 driver)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry


def sqlalchemy_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and select the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"plantwatch needs PostgreSQL; got a {parsed.get_backend_name()!r} URL")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same URL as libpq (plain psycopg) understands it."""
    return sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    json_deserializer: Callable[[str | bytes], Any] | None = None,
    ping_idle_s: float | None = None,
) -> Engine:
    """`json_deserializer` decodes JSON/JSONB values read (default: json.loads). A pooled connection
    is checked (a round trip) before each use, or with `ping_idle_s` only when it has been idle that
    long: a busy server then pays nothing for it, and a connection that broke while in use (the
    database restarted) fails one statement and is replaced."""
    options: dict[str, Any] = {} if json_deserializer is None else {"json_deserializer": json_deserializer}
    engine = create_engine(
        sqlalchemy_url(url), pool_size=pool_size, pool_pre_ping=ping_idle_s is None, **options
    )
    if ping_idle_s is not None:
        _ping_when_idle(engine, ping_idle_s)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    # SQLAlchemy's recipe for custom pessimistic disconnect handling: DisconnectionError raised at
    # checkout makes the pool discard the connection and hand out another.
    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"the pooled connection is gone ({exc})") from exc


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error (the boundary commits, not services)."""
    with factory() as session, session.begin():
        yield session
