"""`plantwatch train rul` and `plantwatch models list|promote|rollback` against the test database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from db.engine import transaction
from db.tables import AuditEntry
from plantwatch.cli import app
from tests.jobs.plant import add_machine

TINY = {"WINDOW": "4", "CAP": "15", "EPOCHS": "1", "LSTM_UNITS": "4"}


@pytest.fixture
def cli(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The shared `cli` (tests/plantwatch/conftest.py) with tiny RUL models."""
    for name, value in TINY.items():
        monkeypatch.setenv(f"PLANTWATCH_RUL_{name}", value)
    return cli


def test_train_then_list_promote_and_roll_back(
    cli: CliRunner, session_factory: sessionmaker[Session]
) -> None:
    assert "no model versions" in cli.invoke(app, ["models", "list"]).output
    failed = cli.invoke(app, ["train", "rul"])
    assert failed.exit_code == 1 and "no machine has a recorded failure" in failed.output

    with transaction(session_factory) as session:
        for i in range(6):
            add_machine(session, f"pump{i}", "pump", ["failure", "failure", "failure"])
    for _ in range(2):
        result = cli.invoke(app, ["train", "rul", "--scope", "pump"])
        assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    v2 = summary["trained"]["pump"]
    listing = cli.invoke(app, ["models", "list"]).output
    assert "pump" in listing and "champion" in listing

    promoted = cli.invoke(app, ["models", "promote", str(v2["id"])])
    assert promoted.exit_code == 0 and "v2" in promoted.output
    back = cli.invoke(app, ["models", "rollback", "--scope", "pump"])
    assert back.exit_code == 0 and "v1" in back.output and "champion again" in back.output
    again = cli.invoke(app, ["models", "rollback", "--scope", "pump"])
    assert again.exit_code == 1 and "no earlier champion" in again.output
    assert cli.invoke(app, ["models", "promote", "999999"]).exit_code == 1
    with session_factory() as session:
        audited = session.scalars(
            select(AuditEntry.path).where(AuditEntry.role == "cli").order_by(AuditEntry.id)
        )
        assert list(audited) == [
            f"plantwatch models promote {v2['id']}",
            "plantwatch models rollback --scope pump --kind rul",
        ]
