"""The ingestor end to end: real broker → run_ingestor → real PostgreSQL, with bad input and outages."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session, sessionmaker

from db.repositories import dead_letters
from db.repositories.assets import get_machine_by_path
from plantwatch.embedded import EmbeddedBroker, free_port
from plantwatch.mqtt import parse_mqtt_url
from plantwatch.settings import Settings
from tests.conftest import PostgresUnderTest
from tests.ingest.helpers import RunningIngestor, Start, count, publish, wait_for

TOPIC = "plantwatch/v1/site-1/line-1/press-01/telemetry"


def payload(seq: int, ts: datetime | None = None, **values: float) -> bytes:
    ts = ts or datetime.now(UTC) - timedelta(seconds=1000 - seq)
    stamp = ts.isoformat().replace("+00:00", "Z")
    return json.dumps({"ts": stamp, "seq": seq, "values": values or {"vibration_rms": seq / 10}}).encode()


def readings(factory: sessionmaker[Session]) -> int:
    return count(factory, "SELECT count(*) FROM readings")


def test_valid_and_malformed_messages(
    settings: Settings, session_factory: sessionmaker[Session], start_ingestor: Start
) -> None:
    ingestor = start_ingestor(settings)
    first = payload(1)
    publish(
        settings,
        [
            (TOPIC, first),
            (TOPIC, b"not json at all"),
            (TOPIC, b'{"ts": "2026-01-01T00:00:00Z", "values": {"a": NaN}}'),
            (TOPIC, json.dumps({"ts": "2026-01-01T00:00:00Z", "values": {"a": "high"}}).encode()),
            (TOPIC, json.dumps({"values": {"a": 1}}).encode()),
            (TOPIC, b"{" + b" " * 70_000 + b"}"),
            ("plantwatch/v1/site 1/line-1/press-01/telemetry", payload(9)),
            (TOPIC, b"\xc3\x28"),
            (TOPIC, payload(2)),
            (TOPIC, first),  # a redelivery: dropped silently
            (TOPIC, _conflicting(first)),
            (TOPIC, payload(3, bearing_temp_c=41.5)),
        ],
    )
    wait_for(lambda: readings(session_factory) == 3, what="3 readings")
    expected = {
        "not_json": 1,
        "not_finite": 1,
        "wrong_type": 1,
        "missing_field": 1,
        "too_large": 1,
        "bad_topic": 1,
        "not_utf8": 1,
        "conflict": 1,
    }

    def reasons() -> dict[str, int]:
        with session_factory() as session:
            return dead_letters.count_by_reason(session)

    wait_for(lambda: reasons() == expected, what=f"dead letters {expected}")
    with session_factory() as session:
        (huge,) = dead_letters.list_dead_letters(session, reason="too_large")
        assert len(huge.payload) == settings.ingest_max_payload_bytes and huge.payload_truncated
        (bad_topic,) = dead_letters.list_dead_letters(session, reason="bad_topic")
        assert bad_topic.topic == "plantwatch/v1/site 1/line-1/press-01/telemetry"
        machine = get_machine_by_path(session, "site-1/line-1/press-01")
        assert machine is not None and machine.last_seq == 3
    # Ingest goes on after bad input.
    publish(settings, [(TOPIC, payload(4))])
    wait_for(lambda: readings(session_factory) == 4, what="the reading after bad input")
    ingestor.stop()


def _conflicting(original: bytes) -> bytes:
    document = json.loads(original)
    document["values"] = {name: value + 1 for name, value in document["values"].items()}
    return json.dumps(document).encode()


def pending_for(settings: Settings, listen_s: float = 1.5) -> list[bytes]:
    """Messages the broker still holds for the ingestor's persistent session (not acknowledged)."""
    address = parse_mqtt_url(settings.mqtt_url or "")
    got: list[bytes] = []
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=settings.mqtt_client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    client.manual_ack_set(True)  # leave them unacknowledged
    client.on_message = lambda _c, _u, message: got.append(bytes(message.payload))
    client.connect(address.host, address.port)
    client.loop_start()
    time.sleep(listen_s)
    client.disconnect()
    client.loop_stop()
    return got


def needs_persistent_sessions(broker: EmbeddedBroker) -> None:
    if broker.kind != "mosquitto":
        pytest.skip(
            f"{broker.kind} neither queues messages for offline anonymous sessions nor redelivers "
            "unacknowledged ones on reconnection; these guarantees are tested with Mosquitto"
        )


def test_messages_published_while_down_arrive_exactly_once(
    settings: Settings,
    session_factory: sessionmaker[Session],
    start_ingestor: Start,
    mqtt_broker: EmbeddedBroker,
) -> None:
    needs_persistent_sessions(mqtt_broker)
    start_ingestor(settings).stop()  # creates the persistent session and its subscription
    publish(settings, [(TOPIC, payload(seq)) for seq in range(1, 201)])
    ingestor = start_ingestor(settings)
    wait_for(lambda: readings(session_factory) == 200, what="200 readings")
    publish(settings, [(TOPIC, payload(seq)) for seq in range(201, 211)])
    wait_for(lambda: readings(session_factory) == 210, what="210 readings")
    ingestor.stop()
    assert count(session_factory, "SELECT count(DISTINCT seq) FROM readings") == 210
    assert count(session_factory, "SELECT count(*) FROM dead_letters") == 0
    assert pending_for(settings) == [], "every message must have been acknowledged"


@contextmanager
def postgres_down(postgres: PostgresUnderTest) -> Iterator[None]:
    """The session's PostgreSQL stopped for the duration of the block."""
    embedded = postgres.embedded
    if embedded is None:
        pytest.skip("stopping PostgreSQL needs the embedded server")
    _let_postgres_user_in(embedded.data_dir)
    embedded.stop()
    try:
        yield
    finally:
        _let_postgres_user_in(embedded.data_dir)
        assert embedded.start() == postgres.url


def _let_postgres_user_in(data_dir: Path) -> None:
    """As root, pgserver runs PostgreSQL as the `pgserver` user, which must traverse the folders above
    its data; another pytest session starting meanwhile resets /tmp/pytest-of-root to 0700."""
    if os.geteuid() != 0:
        return
    for folder in data_dir.parents:
        if folder in (Path("/"), Path(tempfile.gettempdir())):
            break
        folder.chmod(folder.stat().st_mode | 0o055)


def test_postgres_outage_loses_nothing(
    settings: Settings,
    session_factory: sessionmaker[Session],
    start_ingestor: Start,
    postgres: PostgresUnderTest,
) -> None:
    ingestor = start_ingestor(settings)
    publish(settings, [(TOPIC, payload(1))])
    wait_for(lambda: readings(session_factory) == 1, what="the first reading")
    with postgres_down(postgres):
        publish(settings, [(TOPIC, payload(seq)) for seq in range(2, 22)])
        time.sleep(1.5)  # the ingestor retries, acknowledging nothing
    wait_for(lambda: readings(session_factory) == 21, timeout_s=30, what="21 readings after the outage")
    ingestor.stop()
    assert pending_for(settings) == []


def test_without_a_spool_stopping_during_an_outage_acknowledges_nothing(
    settings: Settings,
    session_factory: sessionmaker[Session],
    start_ingestor: Start,
    postgres: PostgresUnderTest,
    mqtt_broker: EmbeddedBroker,
) -> None:
    needs_persistent_sessions(mqtt_broker)
    settings = settings.model_copy(update={"ingest_spool_max_bytes": 0})  # no spool to take them
    ingestor = start_ingestor(settings)
    with postgres_down(postgres):
        publish(settings, [(TOPIC, payload(seq)) for seq in range(1, 11)])
        time.sleep(1.0)
        ingestor.stop()  # gives up on the batch it could not write, and acknowledges none of it
        assert len(pending_for(settings)) == 10
    ingestor = start_ingestor(settings)
    wait_for(lambda: readings(session_factory) == 10, timeout_s=30, what="10 redelivered readings")
    ingestor.stop()
    assert pending_for(settings) == []


def test_auto_register_off(
    settings: Settings, session_factory: sessionmaker[Session], start_ingestor: Start
) -> None:
    ingestor = start_ingestor(settings.model_copy(update={"ingest_auto_register": False}))
    publish(settings, [(TOPIC, payload(1))])
    wait_for(
        lambda: count(session_factory, "SELECT count(*) FROM dead_letters WHERE reason = 'unknown_machine'"),
        what="an unknown_machine dead letter",
    )
    assert readings(session_factory) == 0
    ingestor.stop()


def test_stop_with_no_broker(settings: Settings) -> None:
    lonely = settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{free_port()}"})
    ingestor = RunningIngestor(lonely)
    ingestor.thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    ingestor.stop()  # no broker ever answered: it still stops promptly and cleanly
    assert time.monotonic() - started < 5
