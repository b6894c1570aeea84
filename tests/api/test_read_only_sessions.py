"""GET and HEAD requests (and POSTs that only read, as /predict/rul) read in autocommit and may not
write; other requests get a transaction."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from starlette.requests import Request

from api.deps import ReadOnlySessionError, request_session
from db.tables import ApiKey, Site


def _request(app: FastAPI, method: str, path: str = "/") -> Request:
    return Request({"type": "http", "method": method, "app": app, "headers": [], "path": path})


def test_a_get_session_reads_without_a_transaction_and_refuses_writes(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    with request_session(_request(app, "GET")) as session:
        assert session.scalar(select(func.count()).select_from(Site)) == 0
        assert session.connection().connection.dbapi_connection.autocommit  # type: ignore[union-attr]
        session.add(Site(name="written-by-a-get"))
        with pytest.raises(ReadOnlySessionError):
            session.flush()
        session.rollback()
        with pytest.raises(ReadOnlySessionError):
            session.execute(update(ApiKey).values(name="renamed"))
    with request_session(_request(app, "POST")) as session:
        assert not session.connection().connection.dbapi_connection.autocommit  # type: ignore[union-attr]
        session.add(Site(name="written-by-a-post"))
        session.flush()  # allowed; rolled back when the session closes
    with request_session(_request(app, "GET")) as session:
        assert session.scalar(select(func.count()).select_from(Site)) == 0


def test_scoring_a_window_reads_like_a_get(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    path = app.url_path_for("predict_rul")  # where the route is, not a copy of READING_POSTS
    with request_session(_request(app, "POST", path)) as session:
        assert session.connection().connection.dbapi_connection.autocommit  # type: ignore[union-attr]
        session.add(Site(name="written-by-a-prediction"))
        with pytest.raises(ReadOnlySessionError):
            session.flush()
    with request_session(_request(app, "POST", "/api/v1/events")) as session:
        assert not session.connection().connection.dbapi_connection.autocommit  # type: ignore[union-attr]
