"""Faults while a numbered QoS 1 stream flows: every reading ends up in PostgreSQL exactly once.

Each test has its own Mosquitto (our configuration, persistence on) and runs the ingestor as a real
process (`python -m plantwatch ingest`), so that it can be killed with SIGKILL; PostgreSQL is the
test session's own embedded server, stopped for real in the outage test.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from plantwatch.embedded import EmbeddedBroker, free_port
from tests.conftest import PostgresUnderTest
from tests.ingest.faults import (
    IngestProcess,
    NumberedStream,
    assert_exactly_once,
    let_postgres_user_in,
    pending_for,
)

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto") is None,
    reason="the fault tests need Mosquitto on PATH (persistent sessions, MQTT 5 shared subscriptions)",
)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(tmp_path / "mqtt", free_port(), prefer="mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def ingestors(tmp_path: Path, db_url: str, broker: EmbeddedBroker) -> Iterator[list[IngestProcess]]:
    """Ingest processes made by `ingestor(client_id)`; whatever still runs is killed at the end."""
    made: list[IngestProcess] = []
    yield made
    for process in made:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait()


def ingestor(
    made: list[IngestProcess], tmp_path: Path, db_url: str, broker: EmbeddedBroker, client_id: str, **env: str
) -> IngestProcess:
    process = IngestProcess(tmp_path / client_id, db_url, broker.url, client_id, **env)
    made.append(process)
    return process


def test_kill_9_mid_stream(
    tmp_path: Path,
    db_url: str,
    broker: EmbeddedBroker,
    ingestors: list[IngestProcess],
    session_factory: sessionmaker[Session],
) -> None:
    one = ingestor(ingestors, tmp_path, db_url, broker, "plantwatch-ingest-1").start()
    stream = NumberedStream(broker.url, count=3000, rate=400).start()
    stream.wait_sent(1200)
    one.kill()
    time.sleep(1.0)  # the stream goes on; the broker queues for the dead session
    one.start()
    stream.finish()
    assert_exactly_once(session_factory, 3000, ingestors)
    assert "session of 'plantwatch-ingest-1' (present: True)" in one.log()
    one.stop()
    assert pending_for(broker.url, one.client_id) == 0


def test_postgres_down_for_a_minute(
    tmp_path: Path,
    db_url: str,
    broker: EmbeddedBroker,
    ingestors: list[IngestProcess],
    session_factory: sessionmaker[Session],
    postgres: PostgresUnderTest,
) -> None:
    """The spool takes the stream (acknowledged once fsynced), survives a kill -9 of the ingestor
    during the outage, and is drained once PostgreSQL is back."""
    embedded = postgres.embedded
    if embedded is None:
        pytest.skip("stopping PostgreSQL needs the embedded server")
    one = ingestor(ingestors, tmp_path, db_url, broker, "plantwatch-ingest-1").start()
    stream = NumberedStream(broker.url, count=3000, rate=150).start()
    stream.wait_sent(600)
    let_postgres_user_in(embedded.data_dir)
    embedded.stop()
    outage = time.monotonic()
    try:
        stream.finish()  # 20 s of stream, most of it during the outage
        time.sleep(2.0)
        spooled = one.metric("plantwatch_ingest_spool_messages")
        assert spooled >= 2000, f"only {spooled} messages spooled\n{one.tail()}"
        one.kill()  # with a full spool on disk
        one.start()
        assert "to drain" in one.log(), "the restart did not find its spool"
        assert one.metric("plantwatch_ingest_spool_messages") >= spooled
        time.sleep(max(0.0, 60 - (time.monotonic() - outage)))
    finally:
        let_postgres_user_in(embedded.data_dir)
        assert embedded.start() == postgres.url
    assert_exactly_once(session_factory, 3000, ingestors, timeout_s=90)
    deadline = time.monotonic() + 10
    while one.metric("plantwatch_ingest_spool_messages") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert one.metric("plantwatch_ingest_spool_bytes") == 0
    one.stop()
    assert not list((one.work / "var" / "spool" / one.client_id).glob("*.seg"))
    assert pending_for(broker.url, one.client_id) == 0


def test_broker_restart(
    tmp_path: Path,
    db_url: str,
    broker: EmbeddedBroker,
    ingestors: list[IngestProcess],
    session_factory: sessionmaker[Session],
) -> None:
    one = ingestor(ingestors, tmp_path, db_url, broker, "plantwatch-ingest-1").start()
    stream = NumberedStream(broker.url, count=3000, rate=400).start()
    stream.wait_sent(1200)
    port = broker.port
    broker.stop()  # persistence on: sessions and queued messages are saved
    time.sleep(1.0)
    broker.start()
    assert broker.port == port
    stream.finish()
    assert_exactly_once(session_factory, 3000, ingestors)
    assert one.log().count("subscribed to ") >= 2  # it reconnected by itself
    one.stop()
    assert pending_for(broker.url, one.client_id) == 0


def test_two_replicas_with_a_shared_subscription(
    tmp_path: Path,
    db_url: str,
    broker: EmbeddedBroker,
    ingestors: list[IngestProcess],
    session_factory: sessionmaker[Session],
) -> None:
    """Mosquitto hands a killed replica's share to its session, not to the survivor: the replica
    restarted under the same client id gets its unacknowledged and queued messages."""
    shared = {"PLANTWATCH_INGEST_SHARED_GROUP": "plantwatch"}
    one = ingestor(ingestors, tmp_path, db_url, broker, "plantwatch-ingest-1", **shared).start()
    two = ingestor(ingestors, tmp_path, db_url, broker, "plantwatch-ingest-2", **shared).start()
    assert "subscribed to $share/plantwatch/plantwatch/v1/+/+/+/telemetry" in one.log()
    stream = NumberedStream(broker.url, count=3000, rate=400).start()
    stream.wait_sent(1200)
    one.kill()
    time.sleep(2.0)
    one.start()
    stream.finish()
    assert_exactly_once(session_factory, 3000, ingestors)
    # Both replicas took a share (the restarted one counts from its restart).
    assert one.metric('plantwatch_ingest_messages_total{outcome="accepted"}') > 0
    assert two.metric('plantwatch_ingest_messages_total{outcome="accepted"}') > 500
    one.stop()
    two.stop()
    assert pending_for(broker.url, one.client_id) == pending_for(broker.url, two.client_id) == 0
