"""The embedded PostgreSQL takes server settings (ALTER SYSTEM, one restart) and keeps them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg

from plantwatch.embedded import EmbeddedPostgres


def _show(uri: str, name: str) -> str:
    with psycopg.connect(uri) as connection:
        row = connection.execute(f"SHOW {name}").fetchone()
    assert row is not None
    return str(row[0])


def test_settings_apply_and_stay() -> None:
    base = Path(tempfile.mkdtemp(prefix="plantwatch-test-embedded-"))
    base.chmod(0o755)  # the server runs as its own user when the tests run as root
    try:
        server = EmbeddedPostgres(base / "pg", config={"shared_buffers": "48MB", "work_mem": "7MB"})
        uri = server.start()
        assert (_show(uri, "shared_buffers"), _show(uri, "work_mem")) == ("48MB", "7MB")
        server.stop()
        again = EmbeddedPostgres(base / "pg")  # no settings given: the written ones stay
        uri = again.start()
        assert _show(uri, "shared_buffers") == "48MB"
        again.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
