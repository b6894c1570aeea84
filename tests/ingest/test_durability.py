"""Store and forward in the running ingestor: the spool takes over when PostgreSQL is down or slow,
pushes back on the broker when full, one ingestor per spool; and the ingest metrics it keeps."""

from __future__ import annotations

import threading
import time
import urllib.request

import psycopg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from db.engine import libpq_url
from ingest.service import open_spool, run_ingestor
from ingest.spool import SpoolLockedError, read_frames
from plantwatch.embedded import EmbeddedBroker, free_port
from plantwatch.settings import Settings
from tests.conftest import PostgresUnderTest
from tests.ingest.faults import pending_for
from tests.ingest.helpers import Start, count, publish, wait_for
from tests.ingest.test_service import TOPIC, needs_persistent_sessions, payload, postgres_down, readings


def spooled(settings: Settings) -> int:
    """Messages in the ingestor's spool on disk (read while it runs, or after it stopped)."""
    folder = settings.var_dir / "spool" / settings.mqtt_client_id
    return sum(len(frame) for path in folder.glob("*.seg") for frame in read_frames(path))


def test_stopping_during_an_outage_spools_and_acknowledges(
    settings: Settings,
    session_factory: sessionmaker[Session],
    start_ingestor: Start,
    postgres: PostgresUnderTest,
    mqtt_broker: EmbeddedBroker,
) -> None:
    needs_persistent_sessions(mqtt_broker)
    ingestor = start_ingestor(settings)
    with postgres_down(postgres):
        publish(settings, [(TOPIC, payload(seq)) for seq in range(1, 11)])
        wait_for(lambda: spooled(settings) == 10, what="10 spooled messages")
        ingestor.stop()
        assert pending_for(settings.mqtt_url or "", settings.mqtt_client_id) == 0, "acknowledged once spooled"
    ingestor = start_ingestor(settings)  # drains what the last run spooled
    wait_for(lambda: readings(session_factory) == 10, timeout_s=30, what="10 readings from the spool")
    wait_for(lambda: spooled(settings) == 0, what="an empty spool")
    ingestor.stop()
    assert count(session_factory, "SELECT count(*) FROM dead_letters") == 0


def test_a_full_spool_stops_acknowledging(
    settings: Settings,
    session_factory: sessionmaker[Session],
    start_ingestor: Start,
    postgres: PostgresUnderTest,
    mqtt_broker: EmbeddedBroker,
) -> None:
    needs_persistent_sessions(mqtt_broker)
    settings = settings.model_copy(update={"ingest_spool_max_bytes": 1, "ingest_batch_messages": 5})
    ingestor = start_ingestor(settings)
    with postgres_down(postgres):
        publish(settings, [(TOPIC, payload(seq)) for seq in range(1, 31)])
        wait_for(lambda: spooled(settings) > 0, what="a spooled batch")
        time.sleep(1.0)
        ingestor.stop()
        in_spool = spooled(settings)
        assert 1 <= in_spool <= 5, "an empty spool takes one batch, then it is full"
        # The rest was never acknowledged: the broker keeps it for the session.
        assert pending_for(settings.mqtt_url or "", settings.mqtt_client_id) == 30 - in_spool
    ingestor = start_ingestor(settings)
    wait_for(lambda: readings(session_factory) == 30, timeout_s=30, what="30 readings")
    ingestor.stop()
    assert count(session_factory, "SELECT count(DISTINCT seq) FROM readings") == 30


def test_a_slow_commit_goes_to_the_spool(
    settings: Settings,
    session_factory: sessionmaker[Session],
    start_ingestor: Start,
) -> None:
    settings = settings.model_copy(update={"ingest_slow_commit_s": 0.5})
    ingestor = start_ingestor(settings)
    publish(settings, [(TOPIC, payload(1))])
    wait_for(lambda: readings(session_factory) == 1, what="the first reading")
    with _locked(settings) as release:
        publish(settings, [(TOPIC, payload(seq)) for seq in range(2, 42)])
        # PostgreSQL is stuck: after 0.5 s the batch goes to the spool, and the ones after it too.
        wait_for(lambda: spooled(settings) == 40, what="40 spooled messages")
        release.set()
    wait_for(lambda: readings(session_factory) == 41, timeout_s=30, what="41 readings")
    wait_for(lambda: spooled(settings) == 0, what="an empty spool")
    ingestor.stop()
    # The stuck batch was written twice (it committed late, then from the spool): one duplicate each.
    assert count(session_factory, "SELECT count(DISTINCT seq) FROM readings") == 41
    assert count(session_factory, "SELECT count(*) FROM dead_letters") == 0


class _locked:
    def __init__(self, settings: Settings) -> None:
        self.url = libpq_url(settings.database_url or "")
        self.release, self.locked = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
            self.locked.set()
            self.release.wait(60)

    def __enter__(self) -> threading.Event:
        self.thread.start()
        assert self.locked.wait(10)
        return self.release

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.thread.join(10)


def test_one_ingestor_per_client_id(settings: Settings, start_ingestor: Start) -> None:
    ingestor = start_ingestor(settings)
    with pytest.raises(SpoolLockedError, match="its own PLANTWATCH_MQTT_CLIENT_ID"):
        run_ingestor(settings, threading.Event())
    ingestor.stop()
    spool = open_spool(settings)  # free again once the first one stopped
    assert spool is not None
    spool.close()
    assert open_spool(settings.model_copy(update={"ingest_spool_max_bytes": 0})) is None


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics(settings: Settings, session_factory: sessionmaker[Session], start_ingestor: Start) -> None:
    port = free_port()
    before = {
        "accepted": sample("plantwatch_ingest_messages_total", outcome="accepted"),
        "duplicate": sample("plantwatch_ingest_messages_total", outcome="duplicate"),
        "not_json": sample("plantwatch_ingest_messages_total", outcome="not_json"),
        "dead": sample("plantwatch_ingest_dead_letters_total", reason="not_json"),
        "values": sample("plantwatch_ingest_values_total"),
        "batches": sample("plantwatch_ingest_batch_messages_count"),
        "commits": sample("plantwatch_ingest_commit_seconds_count"),
        "lags": sample("plantwatch_ingest_lag_seconds_count"),
    }
    ingestor = start_ingestor(settings.model_copy(update={"metrics_port": port}))
    first = payload(1, vibration_rms=1.0, bearing_temp_c=40.0)
    publish(settings, [(TOPIC, first), (TOPIC, payload(2)), (TOPIC, b"{"), (TOPIC, first)])
    wait_for(lambda: count(session_factory, "SELECT count(*) FROM dead_letters") == 1, what="a dead letter")
    wait_for(lambda: sample("plantwatch_ingest_lag_seconds_count") - before["lags"] == 4, what="4 lags")
    ingestor.stop()
    assert sample("plantwatch_ingest_messages_total", outcome="accepted") - before["accepted"] == 2
    assert sample("plantwatch_ingest_messages_total", outcome="duplicate") - before["duplicate"] == 1
    assert sample("plantwatch_ingest_messages_total", outcome="not_json") - before["not_json"] == 1
    assert sample("plantwatch_ingest_dead_letters_total", reason="not_json") - before["dead"] == 1
    assert sample("plantwatch_ingest_values_total") - before["values"] == 3
    batches = sample("plantwatch_ingest_batch_messages_count") - before["batches"]
    assert batches >= 1 and sample("plantwatch_ingest_commit_seconds_count") - before["commits"] == batches
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        served = response.read().decode()
    for name in ("messages_total", "spool_bytes", "spool_messages", "queue_messages", "lag_seconds_bucket"):
        assert f"plantwatch_ingest_{name}" in served
