"""The batch writer on a real PostgreSQL: registration, idempotency, conflicts, partitions, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.partitions import ensure_daily_partitions
from db.repositories import dead_letters
from db.repositories.assets import get_machine_by_path, sensor_positions
from db.tables import Machine
from ingest.messages import Rejection, Telemetry, telemetry_payload, telemetry_topic
from ingest.writer import Incoming, write_batch

ROOT = "plantwatch/v1"
NOW = datetime.now(UTC).replace(microsecond=0)


def reading(machine: str = "press-01", ts: datetime = NOW, seq: int | None = 1, **values: float) -> Incoming:
    telemetry = Telemetry("site-1", "line-1", machine, ts, seq, values or {"vibration_rms": 1.0})
    return Incoming(telemetry_topic(ROOT, telemetry), telemetry_payload(telemetry), telemetry, NOW)


def write(factory: sessionmaker[Session], *items: Incoming, auto_register: bool = True) -> list[str]:
    with transaction(factory) as session:
        return write_batch(session, items, auto_register=auto_register).outcomes


def rows(factory: sessionmaker[Session]) -> list[tuple[int, datetime, int | None, list[float | None]]]:
    with factory() as session:
        result = session.execute(text('SELECT machine_id, ts, seq, "values" FROM readings ORDER BY ts'))
        return [(m, ts, seq, list(values)) for m, ts, seq, values in result]


def letters(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with factory() as session:
        return [(d.reason, d.topic) for d in dead_letters.list_dead_letters(session)]


def test_registers_machines_and_sensors_and_builds_wide_rows(session_factory: sessionmaker[Session]) -> None:
    outcomes = write(
        session_factory,
        reading(ts=NOW, seq=1, vibration_rms=2.5, bearing_temp_c=40.0),
        reading(ts=NOW + timedelta(seconds=1), seq=2, bearing_temp_c=41.0),
        reading(ts=NOW + timedelta(seconds=2), seq=3, oil_pressure_bar=4.0, vibration_rms=2.6),
    )
    assert outcomes == ["accepted"] * 3
    with session_factory() as session:
        machine = get_machine_by_path(session, "site-1/line-1/press-01")
        assert machine is not None
        positions = sensor_positions(session, machine.id)
        assert machine.last_seen_at == NOW + timedelta(seconds=2) and machine.last_seq == 3
    assert set(positions) == {"vibration_rms", "bearing_temp_c", "oil_pressure_bar"}
    by_name = {pos: name for name, pos in positions.items()}
    stored = rows(session_factory)
    assert [r[2] for r in stored] == [1, 2, 3]
    assert {by_name[i + 1]: v for i, v in enumerate(stored[0][3]) if v is not None} == {
        "vibration_rms": 2.5,
        "bearing_temp_c": 40.0,
    }
    assert {by_name[i + 1]: v for i, v in enumerate(stored[2][3]) if v is not None} == {
        "oil_pressure_bar": 4.0,
        "vibration_rms": 2.6,
    }


def test_redelivery_is_a_silent_duplicate_and_other_values_a_conflict(
    session_factory: sessionmaker[Session],
) -> None:
    first = reading(ts=NOW, a=1.0, b=2.0)
    assert write(session_factory, first) == ["accepted"]
    assert write(session_factory, first, reading(ts=NOW, a=1.0, b=2.5)) == ["duplicate", "conflict"]
    assert write(session_factory, reading(ts=NOW, a=1.0, b=2.0, seq=99)) == ["duplicate"]
    assert len(rows(session_factory)) == 1 and rows(session_factory)[0][3] == [1.0, 2.0]
    assert letters(session_factory) == [("conflict", f"{ROOT}/site-1/line-1/press-01/telemetry")]


def test_same_key_twice_in_one_batch(session_factory: sessionmaker[Session]) -> None:
    outcomes = write(
        session_factory,
        reading(ts=NOW, a=1.0),
        reading(ts=NOW, a=1.0),
        reading(ts=NOW, a=9.0),
        reading(machine="press-02", ts=NOW, a=9.0),
    )
    assert outcomes == ["accepted", "duplicate", "conflict", "accepted"]
    # Followers of a key that is a duplicate of (or conflicts with) a stored reading compare with it.
    outcomes = write(session_factory, reading(ts=NOW, a=5.0), reading(ts=NOW, a=5.0), reading(ts=NOW, a=1.0))
    assert outcomes == ["conflict", "conflict", "duplicate"]
    assert len(rows(session_factory)) == 2


def test_rejections_become_dead_letters_without_failing_the_batch(
    session_factory: sessionmaker[Session],
) -> None:
    bad = Incoming("plantwatch/v1/x", b"\x00" * 100, Rejection("bad_topic", "nope"), NOW)
    outcomes = write(session_factory, reading(seq=1), bad, reading(ts=NOW + timedelta(seconds=1), seq=2))
    assert outcomes == ["accepted", "bad_topic", "accepted"]
    with session_factory() as session:
        (letter,) = dead_letters.list_dead_letters(session)
        assert (letter.reason, letter.detail, letter.payload, letter.payload_truncated) == (
            "bad_topic",
            "nope",
            b"\x00" * 100,
            False,
        )
        assert dead_letters.count_by_reason(session) == {"bad_topic": 1}
    assert len(rows(session_factory)) == 2


def test_auto_register_off_dead_letters_unknown_machines(session_factory: sessionmaker[Session]) -> None:
    assert write(session_factory, reading(machine="known")) == ["accepted"]
    outcomes = write(
        session_factory,
        reading(machine="known", ts=NOW + timedelta(seconds=1), new_sensor=1.0),
        reading(machine="stranger"),
        auto_register=False,
    )
    assert outcomes == ["accepted", "unknown_machine"]
    with session_factory() as session:
        assert session.scalars(select(Machine.path)).all() == ["site-1/line-1/known"]
    assert [r for r, _ in letters(session_factory)] == ["unknown_machine"]


def test_days_without_a_partition_land_in_the_default_one_and_move_later(
    session_factory: sessionmaker[Session],
) -> None:
    old = datetime(2003, 5, 17, 8, 30, tzinfo=UTC)
    assert write(session_factory, reading(ts=old), reading(ts=NOW)) == ["accepted", "accepted"]
    with transaction(session_factory) as session:
        located = session.execute(
            text("SELECT tableoid::regclass::text FROM readings WHERE ts = :ts"), {"ts": old}
        )
        assert located.scalar_one() == "readings_default"
        ensure_daily_partitions(session, old.date(), old.date())
    with session_factory() as session:
        located = session.execute(
            text("SELECT tableoid::regclass::text FROM readings WHERE ts = :ts"), {"ts": old}
        )
        assert located.scalar_one() == "readings_20030517"
    # Redelivery after the move is still a duplicate.
    assert write(session_factory, reading(ts=old)) == ["duplicate"]


def test_dead_letter_payloads_are_truncated(session_factory: sessionmaker[Session]) -> None:
    big = Incoming("t", b"y" * 100_000, Rejection("too_large", "big"), NOW)
    with transaction(session_factory) as session:
        write_batch(session, [big], payload_limit=1000)
    with session_factory() as session:
        (letter,) = dead_letters.list_dead_letters(session, reason="too_large")
        assert len(letter.payload) == 1000 and letter.payload_truncated
        assert dead_letters.list_dead_letters(session, reason="conflict") == []
        assert dead_letters.list_dead_letters(session, after_id=letter.id) == []


def test_last_seen_never_moves_back(session_factory: sessionmaker[Session]) -> None:
    write(session_factory, reading(ts=NOW, seq=10))
    write(session_factory, reading(ts=NOW - timedelta(minutes=5), seq=3))
    write(session_factory, reading(ts=NOW + timedelta(minutes=1), seq=2**40))
    with session_factory() as session:
        machine = get_machine_by_path(session, "site-1/line-1/press-01")
        assert machine is not None
        assert machine.last_seen_at == NOW + timedelta(minutes=1)
        assert machine.last_seq == 2**40  # machines.last_seq is a bigint, like readings.seq
    assert [r[2] for r in rows(session_factory)] == [3, 10, 2**40]
