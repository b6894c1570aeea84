"""The ingestor's MQTT session: MQTT 5 with Mosquitto, 3.1.1 with amqtt, shared subscriptions,
TLS with a client certificate and a password."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.orm import Session, sessionmaker

from ingest.mqtt import connect_persistent, receive_maximum, subscription_filter
from ingest.service import run_ingestor
from plantwatch.embedded import EmbeddedBroker, free_port, wait_for_port
from plantwatch.mqtt import MQTT5, MQTT311, parse_mqtt_url
from plantwatch.settings import Settings
from tests.ingest.faults import pending_for
from tests.ingest.helpers import RunningIngestor, Start, publish, wait_for
from tests.ingest.test_service import TOPIC, needs_persistent_sessions, payload, readings


def test_receive_maximum_and_filters() -> None:
    settings = Settings(ingest_batch_messages=500)
    assert receive_maximum(settings) == 2000
    assert receive_maximum(Settings(ingest_batch_messages=50_000)) == 65535
    assert receive_maximum(Settings(mqtt_receive_maximum=64)) == 64
    assert subscription_filter(settings, MQTT5) == "plantwatch/v1/+/+/+/telemetry"
    shared = Settings(ingest_shared_group="plantwatch")
    assert subscription_filter(shared, MQTT5) == "$share/plantwatch/plantwatch/v1/+/+/+/telemetry"
    assert subscription_filter(shared, MQTT311) == "plantwatch/v1/+/+/+/telemetry"


def _connect(
    settings: Settings, got: list[mqtt.MQTTMessage], present: list[bool]
) -> tuple[mqtt.Client, MQTTProtocolVersion]:
    """A persistent session subscribed to telemetry that records and never acknowledges."""

    def configure(client: mqtt.Client, protocol: MQTTProtocolVersion) -> None:
        client.manual_ack_set(True)
        client.on_message = lambda _c, _u, message: got.append(message)

        def on_connect(c: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, _r: object, _p: object) -> None:
            present.append(flags.session_present)
            c.subscribe(subscription_filter(settings, protocol), qos=1)

        client.on_connect = on_connect

    connected = connect_persistent(settings, configure, threading.Event())
    assert connected is not None
    return connected


def test_mqtt5_session_with_mosquitto(settings: Settings, mqtt_broker: EmbeddedBroker) -> None:
    needs_persistent_sessions(mqtt_broker)
    settings = settings.model_copy(update={"mqtt_receive_maximum": 10})
    got: list[mqtt.MQTTMessage] = []
    present: list[bool] = []
    client, protocol = _connect(settings, got, present)
    assert protocol == MQTT5 and present == [False]
    time.sleep(0.3)
    publish(settings, [(TOPIC, payload(seq)) for seq in range(1, 51)])
    time.sleep(1.0)
    assert len(got) == 10, "the broker keeps to our Receive Maximum while nothing is acknowledged"
    client.disconnect()
    client.loop_stop()
    # The session outlives the connection (Session Expiry Interval): the 50 are still there.
    got.clear()
    client, _ = _connect(settings.model_copy(update={"mqtt_receive_maximum": 100}), got, present)
    wait_for(lambda: len(got) == 50, what="50 messages kept by the session")
    assert present[-1] is True and sum(m.dup for m in got) == 10
    for message in got:
        client.ack(message.mid, message.qos)
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def test_mqtt311_when_asked(settings: Settings, mqtt_broker: EmbeddedBroker) -> None:
    client, protocol = _connect(settings.model_copy(update={"mqtt_protocol": "3.1.1"}), [], [])
    assert protocol == MQTT311
    client.disconnect()
    client.loop_stop()


def test_amqtt_gets_mqtt311(
    tmp_path: Path,
    settings: Settings,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = EmbeddedBroker(tmp_path / "amqtt", free_port(), prefer="amqtt")
    broker.start()
    try:
        amqtt = settings.model_copy(update={"mqtt_url": broker.url, "ingest_shared_group": "plantwatch"})
        with caplog.at_level(logging.INFO, logger="ingest"):
            ingestor = RunningIngestor(amqtt).start()  # MQTT 5 gets no answer within 5 s, then 3.1.1
            publish(amqtt, [(TOPIC, payload(1))])
            wait_for(lambda: readings(session_factory) == 1, what="a reading through amqtt")
            ingestor.stop()
    finally:
        broker.stop()
    assert "does not speak MQTT 5" in caplog.text
    assert "connected with MQTT 3.1.1" in caplog.text
    assert "no shared subscriptions on MQTT 3.1.1: run a single ingest replica" in caplog.text
    assert "subscribed to plantwatch/v1/+/+/+/telemetry" in caplog.text


def test_a_shared_subscription_holds_an_absent_members_share(
    settings: Settings,
    session_factory: sessionmaker[Session],
    start_ingestor: Start,
    mqtt_broker: EmbeddedBroker,
) -> None:
    """Mosquitto keeps routing a share to a replica that is away, for its session; it gets them back
    when it returns under the same client id."""
    needs_persistent_sessions(mqtt_broker)
    group = f"group-{uuid.uuid4().hex[:8]}"
    replicas = [
        settings.model_copy(
            update={
                "ingest_shared_group": group,
                "mqtt_client_id": f"{settings.mqtt_client_id}-{n}",
                "var_dir": settings.var_dir / str(n),
            }
        )
        for n in (1, 2)
    ]
    for replica in replicas:
        start_ingestor(replica).stop()  # joins the group, then goes away
    publish(settings, [(TOPIC, payload(seq)) for seq in range(1, 101)])
    held = [pending_for(settings.mqtt_url or "", r.mqtt_client_id) for r in replicas]
    assert sum(held) == 100 and min(held) > 0, held
    running = [start_ingestor(replica) for replica in replicas]
    wait_for(lambda: readings(session_factory) == 100, what="100 readings")
    for ingestor in running:
        ingestor.stop()
    assert [pending_for(settings.mqtt_url or "", r.mqtt_client_id) for r in replicas] == [0, 0]


def session_present(url: str, client_id: str) -> bool:
    """Whether the broker has a session for the client id (asked without changing it)."""
    address = parse_mqtt_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.manual_ack_set(True)
    present: list[bool] = []
    client.on_connect = lambda _c, _u, flags, _r, _p: present.append(flags.session_present)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    client.connect(address.host, address.port, clean_start=False, properties=properties)
    client.loop_start()
    wait_for(lambda: present, what="a CONNACK")
    client.disconnect()
    client.loop_stop()
    return present[0]


def _tools() -> dict[str, str]:
    tools = {name: shutil.which(name) for name in ("mosquitto", "mosquitto_passwd", "openssl")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not on PATH")
    return {name: path for name, path in tools.items() if path}


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Mosquitto with TLS only, client certificates required, and a password file (user ingest)."""
    tools = _tools()
    pki = tmp_path / "pki"
    pki.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run([tools["openssl"], *args], cwd=pki, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test-ca")
    (pki / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, extra in (("server", ["-extfile", "san.ext"]), ("client", [])):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        openssl(
            *["x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"],
            *["-out", f"{name}.crt", "-days", "2", *extra],
        )
    subprocess.run(
        [tools["mosquitto_passwd"], "-c", "-b", str(pki / "passwd"), "ingest", "s3cret"], check=True
    )
    port = free_port()
    (pki / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\n"
        f"cafile {pki}/ca.crt\ncertfile {pki}/server.crt\nkeyfile {pki}/server.key\n"
        "require_certificate true\nallow_anonymous false\n"
        f"password_file {pki}/passwd\n" + ("user root\n" if os.geteuid() == 0 else "")
    )
    log = open(pki / "mosquitto.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [tools["mosquitto"], "-c", str(pki / "mosquitto.conf")], stdout=log, stderr=log
    )
    try:
        assert wait_for_port(port, 10), (pki / "mosquitto.log").read_text()
        yield port, pki
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_tls_client_certificate_and_password_with_mqtt5(
    tls_broker: tuple[int, Path], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    port, pki = tls_broker
    tls = settings.model_copy(
        update={
            "mqtt_url": f"mqtts://ingest:s3cret@127.0.0.1:{port}",
            "mqtt_ca_file": pki / "ca.crt",
            "mqtt_cert_file": pki / "client.crt",
            "mqtt_key_file": pki / "client.key",
        }
    )
    client, protocol = _connect(tls, [], [])
    assert protocol == MQTT5
    client.disconnect()
    client.loop_stop()
    # A wrong password is refused (and retried), never taken for a broker without MQTT 5.
    wrong = tls.model_copy(update={"mqtt_url": f"mqtts://ingest:wrong@127.0.0.1:{port}"})
    stop = threading.Event()
    threading.Timer(2.0, stop.set).start()
    with caplog.at_level(logging.INFO, logger="ingest"):
        assert connect_persistent(wrong, lambda c, p: None, stop) is None
    assert "refused the connection" in caplog.text and "MQTT 3.1.1" not in caplog.text


def test_retiring_a_replica(
    settings: Settings,
    session_factory: sessionmaker[Session],
    start_ingestor: Start,
    mqtt_broker: EmbeddedBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Scaling down: the retired replica takes its share still at the broker and leaves the group;
    what comes next goes to the replicas that stay."""
    needs_persistent_sessions(mqtt_broker)
    group = f"group-{uuid.uuid4().hex[:8]}"
    stays, goes = (
        settings.model_copy(
            update={
                "ingest_shared_group": group,
                "mqtt_client_id": f"{settings.mqtt_client_id}-{n}",
                "var_dir": settings.var_dir / str(n),
            }
        )
        for n in (1, 2)
    )
    start_ingestor(stays).stop()
    start_ingestor(goes).stop()
    publish(settings, [(TOPIC, payload(seq)) for seq in range(1, 41)])
    stop = threading.Event()
    retiring = threading.Thread(target=run_ingestor, args=(goes, stop), kwargs={"retire": True})
    with caplog.at_level(logging.INFO, logger="ingest"):
        retiring.start()
        retiring.join(30)  # returns by itself once it has everything
    stop.set()
    assert not retiring.is_alive() and f"retired '{goes.mqtt_client_id}'" in caplog.text
    assert 0 < readings(session_factory) < 40  # its share, stored
    publish(settings, [(TOPIC, payload(seq)) for seq in range(41, 61)])
    assert not session_present(settings.mqtt_url or "", goes.mqtt_client_id), "the broker forgot it"
    assert session_present(settings.mqtt_url or "", stays.mqtt_client_id)
    start_ingestor(stays)
    wait_for(lambda: readings(session_factory) == 60, what="60 readings")


def test_retiring_on_mqtt311(settings: Settings, start_ingestor: Start, mqtt_broker: EmbeddedBroker) -> None:
    needs_persistent_sessions(mqtt_broker)
    old = settings.model_copy(update={"mqtt_protocol": "3.1.1"})
    start_ingestor(old).stop()
    assert session_present(settings.mqtt_url or "", old.mqtt_client_id)
    run_ingestor(old, threading.Event(), retire=True)  # returns once it has everything
    assert not session_present(settings.mqtt_url or "", old.mqtt_client_id)
