"""Pooled connections checked before use only when idle (`make_engine(ping_idle_s=...)`): a broken
one is replaced unseen when it was idle, and costs one failed statement when it was not."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from db.engine import make_engine

PID = text("SELECT pg_backend_pid()")


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(PID).scalar_one())


def _terminate(admin: Engine, pid: int) -> None:
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


def test_an_idle_connection_is_checked_and_a_broken_one_replaced(migrated_url: str, engine: Engine) -> None:
    pinged = make_engine(migrated_url, pool_size=1, ping_idle_s=0.0)
    try:
        first = _backend_pid(pinged)
        _terminate(engine, first)
        time.sleep(0.05)
        assert _backend_pid(pinged) != first  # no error: the check found it broken
    finally:
        pinged.dispose()


def test_a_connection_in_use_is_not_checked(migrated_url: str, engine: Engine) -> None:
    trusting = make_engine(migrated_url, pool_size=1, ping_idle_s=3600.0)
    try:
        first = _backend_pid(trusting)
        _terminate(engine, first)
        with pytest.raises(OperationalError):  # the API answers this one 503
            _backend_pid(trusting)
        assert _backend_pid(trusting) != first  # then the pool has replaced it
    finally:
        trusting.dispose()
