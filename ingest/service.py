"""The ingestor: MQTT telemetry → validated batches → PostgreSQL, acknowledged only after commit.

Threads: paho's network thread puts received messages on a bounded queue (so a slow database pushes
back on the broker instead of filling memory); the calling thread takes batches of up to
`ingest_batch_messages` messages or `ingest_flush_ms`, writes each batch in one transaction, and only
then acknowledges its messages (manual PUBACK). A crash before the commit loses nothing: the broker
keeps the unacknowledged messages of our persistent session (clean_session=False) and redelivers them;
the writer recognises redeliveries as duplicates. When PostgreSQL is unreachable the batch is retried
with backoff, unacknowledged, until it is written or `stop` is set.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from ingest.durable import ensure_partitions, retrying, write_isolating
from ingest.errors import is_transient
from ingest.messages import parse_telemetry
from ingest.mqtt import make_client
from ingest.stats import IngestStats
from ingest.writer import BatchResult, Incoming
from plantwatch.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Received:
    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: datetime


def telemetry_filter(settings: Settings) -> str:
    return f"{settings.mqtt_topic_root.rstrip('/')}/+/+/+/telemetry"


def run_ingestor(
    settings: Settings, stop: threading.Event | None = None, *, ready: threading.Event | None = None
) -> None:
    """Ingest until `stop` is set; `ready` (optional) is set once the subscription is confirmed."""
    stop = stop or threading.Event()
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set; `plantwatch up` starts an embedded PostgreSQL when unset")
    engine = make_engine(settings.database_url, pool_size=2)
    inbox: queue.Queue[_Received] = queue.Queue(maxsize=max(1000, 4 * settings.ingest_batch_messages))
    closing = threading.Event()
    try:
        client = _start_client(settings, inbox, closing, ready)
        try:
            _pump(settings, make_session_factory(engine), client, inbox, stop)
        finally:
            closing.set()
            client.disconnect()  # queued PUBACKs go out before the DISCONNECT
            client.loop_stop()
    finally:
        engine.dispose()
        log.info("ingestor stopped")


def _pump(
    settings: Settings,
    factory: sessionmaker[Session],
    client: mqtt.Client,
    inbox: queue.Queue[_Received],
    stop: threading.Event,
) -> None:
    """Batches from the queue → database → acknowledgements, until stopped and drained."""
    partitions_day = _ensure_partitions(factory, settings.partition_days_ahead, stop)
    stats = IngestStats()
    while partitions_day is not None:
        batch = _collect(inbox, settings.ingest_batch_messages, settings.ingest_flush_ms / 1000, stop)
        if batch:
            result = _write_with_retry(factory, settings, batch, stop)
            if result is None:
                log.info("stopped with %d messages unwritten; the broker will redeliver them", len(batch))
                return
            for received in batch:
                client.ack(received.mid, received.qos)
            stats.add(result)
        stats.log_if_due(log)
        if stop.is_set() and inbox.empty():
            return
        if datetime.now(UTC).date() != partitions_day:
            partitions_day = (
                _ensure_partitions(factory, settings.partition_days_ahead, stop) or partitions_day
            )


def _start_client(
    settings: Settings,
    inbox: queue.Queue[_Received],
    closing: threading.Event,
    ready: threading.Event | None,
) -> mqtt.Client:
    client, address = make_client(settings, settings.mqtt_client_id, clean_session=False)
    client.manual_ack_set(True)
    topic_filter = telemetry_filter(settings)

    def on_connect(
        client: mqtt.Client, _userdata: object, flags: mqtt.ConnectFlags, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker %s:%d refused the connection: %s", address.host, address.port, reason)
            return
        log.info(
            "connected to %s:%d as %r (session present: %s); subscribing to %s",
            address.host,
            address.port,
            settings.mqtt_client_id,
            flags.session_present,
            topic_filter,
        )
        client.subscribe(topic_filter, qos=1)

    def on_subscribe(
        _c: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: Properties | None
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.error("broker refused the subscription to %s: %s", topic_filter, reasons)
        elif ready is not None:
            ready.set()

    def on_disconnect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if not closing.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = repr(message._topic)
        received = _Received(message.mid, message.qos, topic, bytes(message.payload), datetime.now(UTC))
        while not closing.is_set():  # a full queue holds the network thread: back-pressure on the broker
            try:
                inbox.put(received, timeout=0.5)
                return
            except queue.Full:
                continue

    def on_connect_fail(_c: mqtt.Client, _u: object) -> None:
        log.warning("cannot reach the MQTT broker at %s:%d; retrying", address.host, address.port)

    client.on_connect = on_connect
    client.on_connect_fail = on_connect_fail
    client.on_subscribe = on_subscribe
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    client.connect_async(address.host, address.port, keepalive=60)
    client.loop_start()  # retries the first connection too, then reconnects by itself
    return client


def _collect(
    inbox: queue.Queue[_Received], size: int, flush_s: float, stop: threading.Event
) -> list[_Received]:
    """Up to `size` messages, waiting at most `flush_s` after the first one (returns [] when idle)."""
    try:
        first = inbox.get(timeout=0 if stop.is_set() else 0.5)
    except queue.Empty:
        return []
    batch = [first]
    deadline = first.received_at + timedelta(seconds=flush_s)
    while len(batch) < size:
        try:
            batch.append(inbox.get_nowait())
            continue
        except queue.Empty:
            pass
        remaining = (deadline - datetime.now(UTC)).total_seconds()
        if remaining <= 0 or stop.is_set():
            break
        try:
            batch.append(inbox.get(timeout=remaining))
        except queue.Empty:
            break
    return batch


def _write_with_retry(
    factory: sessionmaker[Session], settings: Settings, batch: Sequence[_Received], stop: threading.Event
) -> BatchResult | None:
    """Parse and write the batch, retrying while the database is unreachable; None if stopped first."""
    items = [
        Incoming(
            r.topic,
            r.payload,
            parse_telemetry(
                r.topic,
                r.payload,
                topic_root=settings.mqtt_topic_root,
                received_at=r.received_at,
                max_payload_bytes=settings.ingest_max_payload_bytes,
                max_future_s=settings.ingest_max_future_s,
            ),
            r.received_at,
        )
        for r in batch
    ]
    try:
        return retrying(stop, f"a batch of {len(items)} messages")(
            write_isolating, factory, items, auto_register=settings.ingest_auto_register
        )
    except Exception as error:
        if is_transient(error):
            return None
        raise


def _ensure_partitions(factory: sessionmaker[Session], days_ahead: int, stop: threading.Event) -> date | None:
    """Partitions for yesterday … today + days_ahead; returns today, or None if stopped before."""
    today = datetime.now(UTC).date()
    done = ensure_partitions(factory, today - timedelta(days=1), today + timedelta(days=days_ahead), stop)
    return today if done else None
