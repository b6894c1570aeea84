"""paho-mqtt 2 clients configured from settings: broker URL (mqtt:// or mqtts://), credentials, TLS,
and the ingestor's persistent session — MQTT 5 where the broker speaks it, else MQTT 3.1.1.

MQTT 5 gives the ingestor a Session Expiry Interval, a Receive Maximum (so the broker never has more
unacknowledged messages in flight to it than its queue holds) and shared subscriptions. Brokers that
only speak 3.1.1 answer an MQTT 5 CONNECT with "unacceptable protocol version", close the connection,
or (amqtt) never answer; `connect_persistent` then connects again with 3.1.1.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from plantwatch.mqtt import MQTT5, MQTT311, make_client
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

PROTOCOL_NAMES = {MQTT5: "MQTT 5", MQTT311: "MQTT 3.1.1"}
CONNACK_TIMEOUT_S = 5.0
KEEPALIVE_S = 60


def receive_maximum(settings: Settings) -> int:
    """Messages in flight to the ingestor: enough that the next batch fills while one commits."""
    if settings.mqtt_receive_maximum is not None:
        return settings.mqtt_receive_maximum
    return min(65535, max(100, 4 * settings.ingest_batch_messages))


def connect_properties(settings: Settings) -> Properties:
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = settings.mqtt_session_expiry_s
    properties.ReceiveMaximum = receive_maximum(settings)
    return properties


def end_session(settings: Settings, client: mqtt.Client, protocol: MQTTProtocolVersion) -> None:
    """Disconnect and have the broker discard the session: its subscription and anything queued.
    MQTT 5 says so in the DISCONNECT (Session Expiry Interval 0); on 3.1.1 a second, clean-session
    connection under the same client id does it. Call with the network thread stopped."""
    if protocol == MQTT5:
        properties = Properties(PacketTypes.DISCONNECT)
        properties.SessionExpiryInterval = 0
        client.disconnect(properties=properties)
        client.loop(timeout=1.0)
        return
    client.disconnect()
    client.loop(timeout=1.0)
    clean, address = make_client(settings, settings.mqtt_client_id, clean_session=True)
    clean.connect(address.host, address.port, KEEPALIVE_S)
    deadline = time.monotonic() + CONNACK_TIMEOUT_S
    while not clean.is_connected() and time.monotonic() < deadline:
        clean.loop(timeout=0.1)
    clean.disconnect()
    clean.loop(timeout=1.0)


def telemetry_filter(settings: Settings) -> str:
    return topic_filter(settings, "telemetry")


def topic_filter(settings: Settings, kind: str) -> str:
    """`{root}/+/+/+/telemetry`, or with kind="inspection" `{root}/+/+/+/inspection`."""
    return f"{settings.mqtt_topic_root.rstrip('/')}/+/+/+/{kind}"


def subscription_filter(settings: Settings, protocol: MQTTProtocolVersion, kind: str = "telemetry") -> str:
    """The ingestor's subscription to `kind` messages: shared by the replicas of a group on MQTT 5."""
    if protocol == MQTT5 and settings.ingest_shared_group:
        return f"$share/{settings.ingest_shared_group}/{topic_filter(settings, kind)}"
    return topic_filter(settings, kind)


Configure = Callable[[mqtt.Client, MQTTProtocolVersion], None]  # installs callbacks on a client of a protocol

UNSUPPORTED_PROTOCOL = 132  # CONNACK reason code (a 3.1.1 broker's return code 1, as paho reads it)


@dataclass(frozen=True)
class _Answer:
    kind: str  # connected, unreachable, refused, not_v5 (the broker may not speak this protocol)
    detail: str = ""


def connect_persistent(
    settings: Settings,
    configure: Configure,
    stop: threading.Event,
    *,
    connack_timeout_s: float = CONNACK_TIMEOUT_S,
) -> tuple[mqtt.Client, MQTTProtocolVersion] | None:
    """Connect the ingestor's persistent session (clean start off) with the protocol chosen by
    `settings.mqtt_protocol`, waiting for a broker that is not up yet; then start the network thread,
    which reconnects by itself. Returns the client and its protocol, or None if `stop` came first.
    `configure` installs the callbacks before the first CONNECT."""
    protocols = {"5": [MQTT5], "3.1.1": [MQTT311]}.get(settings.mqtt_protocol, [MQTT5, MQTT311])
    delay = 1.0
    while not stop.is_set():
        for protocol in protocols:
            client, answer = _try_connect(settings, protocol, configure, stop, connack_timeout_s)
            if answer.kind == "connected":
                log.info("connected with %s as %r", PROTOCOL_NAMES[protocol], settings.mqtt_client_id)
                client.loop_start()
                return client, protocol
            if answer.kind == "not_v5" and protocol == MQTT5 and MQTT311 in protocols:
                log.info("the broker does not speak MQTT 5 (%s); trying MQTT 3.1.1", answer.detail)
                continue
            log.warning("cannot connect to the MQTT broker (%s); retrying", answer.detail)
            break
        stop.wait(delay)
        delay = min(delay * 2, 30.0)
    return None


def _try_connect(
    settings: Settings,
    protocol: MQTTProtocolVersion,
    configure: Configure,
    stop: threading.Event,
    timeout_s: float,
) -> tuple[mqtt.Client, _Answer]:
    """One CONNECT, its network loop run in this thread until the CONNACK."""
    client, address = make_client(settings, settings.mqtt_client_id, clean_session=False, protocol=protocol)
    configure(client, protocol)
    answers: list[_Answer] = []
    on_connect, on_disconnect = client.on_connect, client.on_disconnect

    def noting_connect(c: mqtt.Client, u: Any, flags: Any, reason: Any, props: Any) -> None:
        if not getattr(reason, "is_failure", False):
            answers.append(_Answer("connected"))
        elif getattr(reason, "value", None) == UNSUPPORTED_PROTOCOL:
            answers.append(_Answer("not_v5", f"CONNACK: {reason}"))
        else:
            answers.append(_Answer("refused", f"the broker refused the connection: {reason}"))
        if on_connect is not None:
            cast(Callable[..., None], on_connect)(c, u, flags, reason, props)

    def noting_disconnect(*_args: object) -> None:
        answers.append(_Answer("not_v5", "the broker closed the connection before its CONNACK"))

    client.on_connect, client.on_disconnect = noting_connect, noting_disconnect
    where = f"{address.host}:{address.port}"
    try:
        if protocol == MQTT5:
            properties = connect_properties(settings)
            client.connect(address.host, address.port, KEEPALIVE_S, clean_start=False, properties=properties)
        else:
            client.connect(address.host, address.port, KEEPALIVE_S)
    except OSError as error:  # refused, unreachable, TLS handshake failed
        return client, _Answer("unreachable", f"{where}: {error}")
    deadline = time.monotonic() + timeout_s
    while not answers and time.monotonic() < deadline and not stop.is_set():
        client.loop(timeout=0.1)
    answer = answers[0] if answers else _Answer("not_v5", f"no CONNACK within {timeout_s:.0f}s from {where}")
    client.on_disconnect = on_disconnect
    client.on_connect = on_connect
    if answer.kind != "connected":
        client.on_disconnect = None
        client.disconnect()
        client.loop(timeout=0.1)  # sends the DISCONNECT and closes the socket
    return client, answer
