"""From paho to the ingestor's bounded queue: the client's callbacks, and batches taken from the queue.

paho's network thread runs the callbacks. `on_message` puts each message on the queue; a full queue
holds the network thread, which is back-pressure on the broker (on MQTT 5 the queue is as large as
the Receive Maximum, so it does not fill). Every (re)connection subscribes again, shared between the
replicas of `ingest_shared_group` on MQTT 5 — or, for a replica being retired, unsubscribes, so
that the broker routes nothing more to its session while it takes what the session still holds.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest.mqtt import MQTT5, PROTOCOL_NAMES, subscription_filter
from ingest.spool import RawMessage
from plantwatch.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received(RawMessage):
    mid: int
    qos: int


@dataclass
class Link:
    """The MQTT side as the pump sees it: the queue, and what the callbacks tell."""

    inbox: queue.Queue[Received]
    ready: threading.Event | None = None  # set once (un)subscribed
    retire: bool = False  # unsubscribe instead of subscribing
    closing: threading.Event = field(default_factory=threading.Event)  # we are disconnecting
    unsubscribed: threading.Event = field(default_factory=threading.Event)
    last_message: float = 0.0  # time.monotonic() of the latest message or unsubscription
    kind: str = "telemetry"  # what the session subscribes to: telemetry, or inspection (its own session)


def callbacks(settings: Settings, link: Link) -> Callable[[mqtt.Client, MQTTProtocolVersion], None]:
    inbox, closing, ready = link.inbox, link.closing, link.ready

    def configure(client: mqtt.Client, protocol: MQTTProtocolVersion) -> None:
        client.manual_ack_set(True)
        topic_filter = subscription_filter(settings, protocol, link.kind)

        def on_connect(
            client: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, reason: object, _p: object
        ) -> None:
            if getattr(reason, "is_failure", False):
                log.error("the broker refused the connection: %s", reason)
                return
            log.info(
                "%s session of %r (present: %s); %s %s",
                PROTOCOL_NAMES[protocol],
                settings.mqtt_client_id,
                flags.session_present,
                "retiring it: unsubscribing from" if link.retire else "subscribing to",
                topic_filter,
            )
            if protocol != MQTT5 and settings.ingest_shared_group:
                log.warning("no shared subscriptions on MQTT 3.1.1: run a single ingest replica")
            if link.retire:
                client.unsubscribe(topic_filter)
            else:
                client.subscribe(topic_filter, qos=1)

        def on_subscribe(
            _c: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: Properties | None
        ) -> None:
            if any(r.is_failure for r in reasons):
                log.error("the broker refused the subscription to %s: %s", topic_filter, reasons)
                return
            log.info("subscribed to %s", topic_filter)
            if ready is not None:
                ready.set()

        def on_unsubscribe(_c: mqtt.Client, _u: object, _mid: int, _r: object, _p: object) -> None:
            log.info("unsubscribed from %s; taking what the session still holds", topic_filter)
            link.last_message = time.monotonic()
            link.unsubscribed.set()
            if ready is not None:
                ready.set()

        def on_disconnect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
            if not closing.is_set():
                log.warning("disconnected from the broker (%s); reconnecting", reason)

        def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
            try:
                topic = message.topic
            except UnicodeDecodeError:
                topic = repr(message._topic)
            received = Received(topic, bytes(message.payload), datetime.now(UTC), message.mid, message.qos)
            link.last_message = time.monotonic()
            while not closing.is_set():  # a full queue holds the network thread: back-pressure
                try:
                    inbox.put(received, timeout=0.5)
                    return
                except queue.Full:
                    continue

        def on_connect_fail(_c: mqtt.Client, _u: object) -> None:
            log.warning("cannot reach the MQTT broker; retrying")

        client.on_connect = on_connect
        client.on_connect_fail = on_connect_fail
        client.on_subscribe = on_subscribe
        client.on_unsubscribe = on_unsubscribe
        client.on_disconnect = on_disconnect
        client.on_message = on_message

    return configure


def collect(inbox: queue.Queue[Received], size: int, flush_s: float, stop: threading.Event) -> list[Received]:
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
