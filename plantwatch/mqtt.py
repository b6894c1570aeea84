"""paho-mqtt 2 clients from settings: broker URL (mqtt:// or mqtts://), credentials and TLS.

Shared by the ingestor (ingest/mqtt.py adds its persistent session) and the notification job, which
publishes alert state.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from plantwatch.settings import Settings

MQTT5, MQTT311 = MQTTProtocolVersion.MQTTv5, MQTTProtocolVersion.MQTTv311


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


def parse_mqtt_url(url: str) -> BrokerAddress:
    """`mqtt://user:pass@host:1883` or `mqtts://…:8883` (the port defaults by scheme)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT_URL must start with mqtt:// or mqtts://, not {url!r}")
    if not parts.hostname:
        raise ValueError(f"MQTT_URL {url!r} names no host")
    tls = parts.scheme in ("mqtts", "ssl")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def make_client(
    settings: Settings, client_id: str, *, clean_session: bool, protocol: MQTTProtocolVersion = MQTT311
) -> tuple[mqtt.Client, BrokerAddress]:
    """A client, not yet connected (3.1.1 by default, so amqtt works too). For MQTT 5, clean start
    and the session's properties are given at connection (`connect_properties`), not here."""
    if not settings.mqtt_url:
        raise ValueError("MQTT_URL is not set; `plantwatch up` starts an embedded broker when it is unset")
    address = parse_mqtt_url(settings.mqtt_url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if protocol == MQTT5 else clean_session,
        protocol=protocol,
    )
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(
            ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
            certfile=str(settings.mqtt_cert_file) if settings.mqtt_cert_file else None,
            keyfile=str(settings.mqtt_key_file) if settings.mqtt_key_file else None,
        )
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client, address
