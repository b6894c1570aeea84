"""`plantwatch apikey create|list|revoke` against the test database: the key works on the API until it
is revoked, and both writes are in the audit log with the operating-system user."""

from __future__ import annotations

import getpass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.app import create_app
from db.tables import AuditEntry
from plantwatch.cli import app
from plantwatch.settings import Settings


def test_a_key_made_with_the_cli_works_until_revoked_and_both_are_audited(
    cli: CliRunner, db_url: str, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    made = cli.invoke(app, ["apikey", "create", "--name", "mes-line-3", "--role", "mes"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("pw_")
    listed = cli.invoke(app, ["apikey", "list"])
    (line,) = [row for row in listed.stdout.splitlines() if "mes-line-3" in row]
    key_id = int(line.split("\t")[0].lstrip("#"))
    assert line.endswith("active")

    # A fresh app each time: an app keeps keys it has seen for a few seconds (api/key_cache.py).
    settings = Settings(database_url=db_url, var_dir=tmp_path / "api")
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/me", headers={"X-API-Key": key}).json()["role"] == "mes"
    assert cli.invoke(app, ["apikey", "revoke", str(key_id)]).exit_code == 0
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/me", headers={"X-API-Key": key}).status_code == 401
    again = cli.invoke(app, ["apikey", "revoke", str(key_id)])
    assert again.exit_code == 1 and "no active key" in again.output

    with session_factory() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.role == "cli").order_by(AuditEntry.id)
        ).all()
    who = f"cli:{getpass.getuser()}"
    assert [(e.key_name, e.method, e.path) for e in entries] == [
        (who, "CLI", f"plantwatch apikey create --name mes-line-3 --role mes (key #{key_id})"),
        (who, "CLI", f"plantwatch apikey revoke {key_id}"),
    ]
