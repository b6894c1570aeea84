"""`plantwatch backtest` and `backtest-unpin` from the command line, against the test database."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from db.engine import transaction
from db.repositories.assets import register_machine
from db.tables import BacktestPin
from plantwatch.cli import app


def test_backtest_pins_and_unpins(cli: CliRunner, session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        register_machine(session, "s1", "press", "p1").machine_type = "press"
    args = [
        "backtest",
        "--scope",
        "press",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-02",
        "--step-minutes",
        "120",
    ]
    result = cli.invoke(app, [*args, "--pin", "january", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["machines"], figures["steps"], figures["alerts"], figures["failures"]) == (1, 12, 0, 0)
    with session_factory() as session:
        pin = session.scalars(select(BacktestPin)).one()
        assert (pin.name, pin.scope, pin.starts_at.day, pin.ends_at.day) == ("january", "press", 1, 2)
    assert cli.invoke(app, ["backtest-unpin", "january"]).exit_code == 0
    again = cli.invoke(app, ["backtest-unpin", "january"])
    assert again.exit_code == 1 and "no pinned backtest named 'january'" in again.output


def test_bad_input_is_explained(cli: CliRunner) -> None:
    unknown = cli.invoke(app, ["backtest", "--scope", "nothing", "--json"])
    assert unknown.exit_code == 1 and "no machine has type 'nothing'" in unknown.output
    bad_date = cli.invoke(app, ["backtest", "--scope", "press", "--start", "yesterday"])
    assert bad_date.exit_code == 2 and "not a date or time" in bad_date.output
