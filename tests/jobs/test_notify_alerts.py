"""Alert notifications end to end: routing, a real HTTP and SMTP recipient, the test broker, retries."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine
from db.tables import Notification
from jobs.notifiers import signature
from jobs.notify_alerts import notify_alerts
from plantwatch.mqtt import parse_mqtt_url
from plantwatch.settings import AlertRoute, Settings
from services import alerts
from tests.jobs.receivers import HttpRecipient, SmtpRecipient, http_recipient, smtp_recipient

T = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
SECRET = "s3cret"


def _settings(
    settings: Settings, http: HttpRecipient, smtp: SmtpRecipient, mqtt_on: bool = False
) -> Settings:
    routes = [
        AlertRoute(channel="webhook", target=f"{http.url}/all"),
        AlertRoute(
            channel="webhook", target=f"{http.url}/critical-rul", rules=["rul_low"], min_severity="critical"
        ),
        AlertRoute(channel="webhook", target=f"{http.url}/line2", lines=["plant/l2"]),
        AlertRoute(channel="chat", target=f"{http.url}/chat", events=["opened", "escalated"]),
        AlertRoute(channel="email", target="shift@plant.example", events=["resolved"]),
        AlertRoute(channel="webhook", target="http://127.0.0.1:9/refused"),  # nobody listens on port 9
    ]
    return settings.model_copy(update={
        "alert_routes": routes, "alert_mqtt": mqtt_on, "webhook_secret": SECRET, "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port, "notify_retry_base_s": 10.0, "notify_max_attempts": 3,
    })  # fmt: skip


def _run(factory: sessionmaker[Session], settings: Settings, at: datetime) -> dict:
    with transaction(factory) as session:
        return notify_alerts(session, settings, at)


def _by_path(http: HttpRecipient) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for r in http.received:
        found.setdefault(r.path, []).append(json.loads(r.body))
    return found


def test_routes_sign_retry_and_never_send_twice(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with http_recipient() as http, smtp_recipient() as smtp:
        tuned = _settings(settings, http, smtp)
        with transaction(session_factory) as session:
            m1 = register_machine(session, "plant", "l1", "m1").id
            m2 = register_machine(session, "plant", "l2", "m2").id
            a = alerts.raise_or_update(session, m1, "rul_low", "warning", "RUL 40", T)
            alerts.raise_or_update(session, m1, "rul_low", "warning", "RUL 39", T)  # a repeat: no news
            alerts.raise_or_update(session, m1, "rul_low", "critical", "RUL 15", T)
            alerts.comment(session, a, "eve", "looking", T)
            b = alerts.raise_or_update(session, m2, "silent", "warning", "quiet", T)
            alerts.shelve(session, b, "eve", T + timedelta(hours=1), T, None)
            alerts.raise_or_update(session, m2, "silent", "critical", "very quiet", T)  # shelved: held
            alerts.resolve(session, b, "eve", T)  # resolved still goes out
        http.failures_left["/all"] = 1  # the first delivery to /all fails once
        first = _run(session_factory, tuned, T)
        assert first["events_routed"] == 7
        received = _by_path(http)
        assert [p["event"] for p in received["/critical-rul"]] == ["severity_raised"]
        assert [p["event"] for p in received["/line2"]] == ["opened", "resolved"], "held while shelved"
        assert [json.loads(r.body)["text"] for r in http.received if r.path == "/chat"] == [
            "WARNING rul_low opened on plant/l1/m1: RUL 40", "WARNING silent opened on plant/l2/m2: quiet",
        ]  # fmt: skip
        assert len(smtp.messages) == 1 and smtp.messages[0][1] == ["shift@plant.example"]
        assert "Subject: [plantwatch] CRITICAL resolved: plant/l2/m2 silent" in smtp.messages[0][2]
        # /all: m1's opened and raised, m2's opened and resolved, one of them failing once: 3 so far.
        # The comment and the step taken while shelved are not sent.
        assert len(received["/all"]) == 3
        for r in http.received:
            if r.path == "/all":
                assert r.headers["X-Plantwatch-Signature"] == signature(SECRET, r.body)
                body = json.loads(r.body)
                assert r.headers["Idempotency-Key"] == f"plantwatch-alert-{body['alert_id']}-{body['event']}"
        assert first["retried"] == 5  # one /all delivery, four to the refused port

        again = _run(session_factory, tuned, T + timedelta(seconds=5))
        assert (again["sent"], again["retried"]) == (0, 0), "nothing due yet"
        later = _run(session_factory, tuned, T + timedelta(seconds=11))
        assert later["sent"] == 1 and later["retried"] == 4
        assert sorted((p["machine"], p["event"]) for p in _by_path(http)["/all"]) == [
            ("plant/l1/m1", "opened"), ("plant/l1/m1", "severity_raised"),
            ("plant/l2/m2", "opened"), ("plant/l2/m2", "resolved"),
        ]  # fmt: skip
        deliveries = [r.headers["X-Plantwatch-Delivery"] for r in http.received]
        assert len(deliveries) == len(set(deliveries)), "a notification was delivered twice"
        _run(session_factory, tuned, T + timedelta(seconds=31))  # third attempt: gives up
        with transaction(session_factory) as session:
            refused = session.scalars(select(Notification).where(Notification.target.like("%refused"))).all()
            assert {(n.status, n.attempts) for n in refused} == {("failed", 3)}
            assert all("ConnectError" in (n.last_error or "") for n in refused)
            assert session.scalars(select(Notification).where(Notification.status == "pending")).all() == []


def test_mqtt_holds_each_machines_current_alerts(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with http_recipient() as http, smtp_recipient() as smtp:
        tuned = _settings(settings, http, smtp, mqtt_on=True).model_copy(update={"alert_routes": []})
        with transaction(session_factory) as session:
            m1 = register_machine(session, "plant", "l1", "m1").id
            a = alerts.raise_or_update(session, m1, "rul_low", "critical", "RUL 15", T)
            alerts.raise_or_update(session, m1, "sensor_stuck", "warning", "stuck: vib", T)
        assert _run(session_factory, tuned, T)["sent"] == 2
        assert _retained(tuned, "plantwatch/v1/plant/l1/m1/alerts")["alerts"][0]["rule"] == "rul_low"
        with transaction(session_factory) as session:
            alerts.resolve(session, a, "eve", T)
        _run(session_factory, tuned, T + timedelta(seconds=1))
        state = _retained(tuned, "plantwatch/v1/plant/l1/m1/alerts")
        assert [(x["rule"], x["state"]) for x in state["alerts"]] == [("sensor_stuck", "open")]


def _retained(settings: Settings, topic: str) -> dict:
    """The retained message on `topic`, as a fresh subscriber gets it."""
    address = parse_mqtt_url(settings.mqtt_url or "")
    got: list[bytes] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-alert-reader")
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        got.append(bytes(message.payload))
        done.set()

    client.on_message = on_message
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        assert done.wait(10), f"no retained message on {topic}"
    finally:
        client.disconnect()
        client.loop_stop()
    return json.loads(got[-1])
