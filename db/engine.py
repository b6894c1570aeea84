"""Engine and session factory for a PostgreSQL URL (psycopg 3 driver)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


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
    url: str, *, pool_size: int = 5, json_deserializer: Callable[[str | bytes], Any] | None = None
) -> Engine:
    """`json_deserializer` decodes JSON/JSONB values read (default: json.loads)."""
    options: dict[str, Any] = {} if json_deserializer is None else {"json_deserializer": json_deserializer}
    return create_engine(sqlalchemy_url(url), pool_size=pool_size, pool_pre_ping=True, **options)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error (the boundary commits, not services)."""
    with factory() as session, session.begin():
        yield session
