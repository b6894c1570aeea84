"""Sequence gaps: the rule (pure and as a property), its state in PostgreSQL, concurrency, and the API."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from db.engine import transaction
from db.repositories.assets import get_machine_by_path
from ingest.messages import Telemetry, telemetry_payload, telemetry_topic
from ingest.sequence import SeqCount, SeqState, advance
from ingest.writer import Incoming, write_batch
from plantwatch.settings import Settings
from services.api_keys import create_key
from tests.ingest.helpers import Start, publish, wait_for

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
NEVER = SeqState(None, None, 0)


def at(second: int) -> datetime:
    return T0 + timedelta(seconds=second)


def numbered(*seqs: int) -> list[tuple[datetime, int | None]]:
    """Readings whose ts follows their seq (the sender's clock and counter agree)."""
    return [(at(seq), seq) for seq in seqs]


def test_the_rule() -> None:
    assert advance(NEVER, numbered(1, 2, 3)) == (SeqState(at(3), 3, 0), SeqCount(0, 0))
    assert advance(NEVER, numbered(7, 8, 12)) == (SeqState(at(12), 12, 3), SeqCount(3, 0))
    # Order within one batch does not matter: readings are taken in ts order.
    assert advance(NEVER, numbered(3, 1, 2)) == (SeqState(at(3), 3, 0), SeqCount(0, 0))
    # A late reading fills a number counted missing.
    state, count = advance(NEVER, numbered(1, 4))
    assert (state.gaps, count) == (2, SeqCount(2, 0))
    assert advance(state, numbered(3)) == (SeqState(at(4), 4, 1), SeqCount(0, 1))
    # A newer reading with a smaller seq: the sender restarted its counter, no gap; counting resumes.
    restarted, count = advance(SeqState(at(100), 100, 0), [(at(101), 0), (at(102), 1), (at(104), 3)])
    assert (restarted, count) == (SeqState(at(104), 3, 1), SeqCount(1, 0))
    # Readings without seq move only last_seen_at; a late one without gaps to fill changes nothing.
    assert advance(SeqState(at(5), 5, 0), [(at(6), None), (at(1), 1)]) == (
        SeqState(at(6), 5, 0),
        SeqCount(0, 0),
    )


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[int, set[int], list[list[int]]]:
    """A numbered stream 1..n, some numbers lost, the rest delivered in any order after the first
    one, in batches of any size."""
    n = draw(st.integers(2, 60))
    lost = draw(st.sets(st.integers(2, n), max_size=n))
    rest = draw(st.permutations([s for s in range(2, n + 1) if s not in lost]))
    order = [1, *rest]
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=10)))
    batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    return n, lost, [b for b in batches if b]


@given(deliveries())
def test_gaps_are_the_numbers_still_missing(case: tuple[int, set[int], list[list[int]]]) -> None:
    _n, lost, batches = case
    state, total = NEVER, SeqCount()
    for batch in batches:
        state, count = advance(state, numbered(*batch))
        total += count
    newest = max(s for batch in batches for s in batch)
    assert state.gaps == len([s for s in lost if s < newest])
    assert total.detected - total.filled == state.gaps
    assert state.last_seq == newest


ROOT = "plantwatch/v1"


def reading(seq: int | None, second: int, value: float = 1.0) -> Incoming:
    telemetry = Telemetry("site-1", "line-1", "press-01", at(second), seq, {"a": value})
    return Incoming(telemetry_topic(ROOT, telemetry), telemetry_payload(telemetry), telemetry, at(second))


def write(factory: sessionmaker[Session], *items: Incoming) -> SeqCount:
    with transaction(factory) as session:
        return write_batch(session, items).seq


def state(factory: sessionmaker[Session]) -> tuple[datetime | None, int | None, int]:
    with factory() as session:
        machine = get_machine_by_path(session, "site-1/line-1/press-01")
        assert machine is not None
        return machine.last_seen_at, machine.last_seq, machine.seq_gaps


def test_gaps_are_kept_per_machine(session_factory: sessionmaker[Session]) -> None:
    assert write(session_factory, reading(1, 1), reading(2, 2), reading(5, 5)) == SeqCount(2, 0)
    assert state(session_factory) == (at(5), 5, 2)
    # A redelivery (a duplicate) changes nothing; a late reading fills one gap.
    assert write(session_factory, reading(5, 5), reading(3, 3)) == SeqCount(0, 1)
    assert state(session_factory) == (at(5), 5, 1)
    # The device restarts: its counter starts over, no gap.
    assert write(session_factory, reading(0, 10), reading(1, 11)) == SeqCount(0, 0)
    assert state(session_factory) == (at(11), 1, 1)
    # Seq beyond 32 bits is kept (machines.last_seq is a bigint).
    assert write(session_factory, reading(2**40, 12)) == SeqCount(2**40 - 2, 0)
    assert state(session_factory) == (at(12), 2**40, 2**40 - 1)


@st.composite
def streams(draw: st.DrawFn) -> list[list[tuple[int, int | None]]]:
    """Batches of (second, seq) for one machine: any order, late ones, resets, missing seqs."""
    seconds = draw(st.lists(st.integers(0, 40), min_size=1, max_size=25, unique=True))
    seqs = draw(
        st.lists(st.one_of(st.none(), st.integers(0, 30)), min_size=len(seconds), max_size=len(seconds))
    )
    cuts = sorted(draw(st.sets(st.integers(1, len(seconds)), max_size=6)))
    pairs = list(zip(seconds, seqs, strict=True))
    return [pairs[a:b] for a, b in zip([0, *cuts], [*cuts, len(pairs)], strict=True) if pairs[a:b]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=streams())
def test_the_database_follows_the_rule(
    session_factory: sessionmaker[Session], batches: list[list[tuple[int, int | None]]]
) -> None:
    """Whatever the batches, PostgreSQL (the SQL fast path and the Python slow path) ends where the
    pure rule does, and counts the same."""
    with transaction(session_factory) as session:
        session.execute(text("TRUNCATE readings, machines, lines, sites RESTART IDENTITY CASCADE"))
    expected, expected_count, counted = NEVER, SeqCount(), SeqCount()
    for batch in batches:
        counted += write(session_factory, *(reading(seq, second) for second, seq in batch))
        expected, count = advance(expected, [(at(second), seq) for second, seq in batch])
        expected_count += count
    assert state(session_factory) == (expected.last_seen_at, expected.last_seq, expected.gaps)
    assert counted == expected_count


def test_concurrent_writers_agree_on_the_state(session_factory: sessionmaker[Session]) -> None:
    """Another ingestor writing a machine's late reading waits for this one's commit, then fills."""
    write(session_factory, reading(4, 4))
    done = threading.Event()

    def other_ingestor() -> None:
        write(session_factory, reading(5, 5))
        done.set()

    with transaction(session_factory) as session:
        assert write_batch(session, [reading(6, 6)]).seq == SeqCount(1, 0)
        thread = threading.Thread(target=other_ingestor)
        thread.start()
        time.sleep(0.5)
        assert not done.is_set(), "the second writer must wait for the machine's row"
    thread.join(10)
    assert state(session_factory) == (at(6), 6, 0)


def test_the_api_shows_gaps(session_factory: sessionmaker[Session], db_url: str, tmp_path: Path) -> None:
    write(session_factory, reading(10, 10), reading(13, 13))
    with transaction(session_factory) as session:
        key = create_key(session, "viewer", "viewer")[1]
    app = create_app(Settings(database_url=db_url, var_dir=tmp_path))
    with TestClient(app) as client:
        body = client.get("/api/v1/machines/site-1/line-1/press-01", headers={"X-API-Key": key}).json()
        listed = client.get("/api/v1/machines", headers={"X-API-Key": key}).json()["items"]
    assert (body["last_seq"], body["seq_gaps"]) == (13, 2)
    assert (listed[0]["last_seq"], listed[0]["seq_gaps"]) == (13, 2)


def test_a_running_ingestor_counts_gaps_in_its_metrics(
    session_factory: sessionmaker[Session], settings: Settings, start_ingestor: Start
) -> None:
    before = REGISTRY.get_sample_value("plantwatch_ingest_seq_gaps_total") or 0.0
    start_ingestor(settings)
    publish(settings, [(reading(seq, seq).topic, reading(seq, seq).payload) for seq in (1, 2, 6)])

    def last_seq() -> int | None:
        with session_factory() as session:
            machine = get_machine_by_path(session, "site-1/line-1/press-01")
            return machine.last_seq if machine else None

    wait_for(lambda: last_seq() == 6, what="the three readings")
    assert state(session_factory)[2] == 3
    assert (REGISTRY.get_sample_value("plantwatch_ingest_seq_gaps_total") or 0.0) - before == 3
