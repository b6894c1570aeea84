"""`plantwatch deadletters list|replay` against the test database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from db.engine import transaction
from db.repositories.assets import register_machine
from db.repositories.dead_letters import NewDeadLetter, add_dead_letters
from db.tables import DeadLetter, Reading
from plantwatch.cli import app
from plantwatch.settings import get_settings

NOW = datetime.now(UTC).replace(microsecond=0)
TOPIC = "plantwatch/v1/plant/line/press/telemetry"
READING = f'{{"ts": "{NOW.isoformat()}", "values": {{"a": 1.5}}}}'.encode()


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def letters(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        add_dead_letters(
            session,
            [
                NewDeadLetter(TOPIC, READING, "unknown_machine", "machine 'plant/line/press' is unknown"),
                NewDeadLetter(TOPIC, b"{oops", "not_json", "payload is not JSON: Expecting property name"),
            ],
        )
        add_dead_letters(session, [NewDeadLetter(TOPIC, b"x" * 500, "too_large", "big")], payload_limit=100)


def count(factory: sessionmaker[Session], table: type[DeadLetter] | type[Reading]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_list_shows_a_table_and_counts(cli: CliRunner, letters: None) -> None:
    result = cli.invoke(app, ["deadletters", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["id", "received", "(UTC)"]
    assert [line.split()[0] for line in lines[1:4]] == ["3", "2", "1"]  # newest first
    assert "too_large" in lines[1] and "truncated" in lines[1] and TOPIC in lines[1]
    assert "not_json" in lines[2] and "open" in lines[2]
    assert "3 dead letters, 0 replayed, 3 open (not_json 1, too_large 1, unknown_machine 1)" in result.output
    only = cli.invoke(app, ["deadletters", "list", "--reason", "not_json", "--limit", "5"])
    assert only.exit_code == 0 and "not_json" in only.output and "unknown_machine  " not in only.output
    nothing = cli.invoke(app, ["deadletters", "list", "--reason", "nope"])
    assert "no dead letters with reason 'nope'" in nothing.output


def test_replay_needs_a_selection(cli: CliRunner, letters: None) -> None:
    result = cli.invoke(app, ["deadletters", "replay"])
    assert result.exit_code == 2 and "--id N" in result.output and "--all" in result.output
    result = cli.invoke(app, ["deadletters", "replay", "--all", "--reason", "not_json"])
    assert result.exit_code == 2 and "leave out --id and --reason" in result.output


def test_replay_after_a_fix(
    cli: CliRunner, letters: None, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANTWATCH_INGEST_AUTO_REGISTER", "false")
    refused = cli.invoke(app, ["deadletters", "replay", "--id", "1"])
    assert refused.exit_code == 1 and "1 refused again (unknown_machine 1)" in refused.output
    with transaction(session_factory) as session:
        register_machine(session, "plant", "line", "press")
    fixed = cli.invoke(app, ["deadletters", "replay", "--reason", "unknown_machine"])
    assert fixed.exit_code == 0, fixed.output
    assert "1 dead letters: 1 replayed (1 stored, 0 already stored)" in fixed.output
    assert count(session_factory, Reading) == 1
    rest = cli.invoke(app, ["deadletters", "replay", "--all"])
    assert rest.exit_code == 1
    assert "2 dead letters: 0 replayed" in rest.output and "1 not replayable" in rest.output
    assert count(session_factory, DeadLetter) == 3  # a replay never adds a dead letter
    listed = cli.invoke(app, ["deadletters", "list", "--replayed"]).output
    assert "replayed" in listed.splitlines()[1] and "unknown_machine" in listed.splitlines()[1]
