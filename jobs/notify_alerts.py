"""The `notify_alerts` job (every `notify_interval_s`): route new alert events, then deliver what is due.

Routing turns each new step of an alert's history into notifications (the outbox): one per matching
route of `alert_routes` (channel, target, events, rules, min_severity, lines) and, with `alert_mqtt`,
one on the subject's MQTT topic for every step that changes its state. Steps taken while the alert
was shelved (`held`) reach no route; its resolution always does.

Delivery sends due notifications one at a time, each in a transaction of its own that commits its
result at once, so a crash later in the run never makes a recipient get a message twice (the
webhook's X-Plantwatch-Delivery id lets it drop the rare repeat after a crash between send and
commit). A failed send is retried after notify_retry_base_s · 2^(attempts-1), and marked failed after
notify_max_attempts; one recipient's failure never holds up the others.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import alerts as alerts_repo
from db.repositories import notifications as repo
from db.tables import Alert, AlertEvent, Notification
from jobs.notifiers import DeliveryError, MqttPublisher, post_chat, post_webhook, send_email
from plantwatch.settings import Settings
from services.alerts import severity_rank

log = logging.getLogger(__name__)

ROUTE_BATCH = 500
DELIVERY_BATCH = 200
MQTT_SILENT_KINDS = ("commented",)  # no change of state to publish


def _topic(settings: Settings, machine: str | None, line: str) -> str:
    return f"{settings.mqtt_topic_root.rstrip('/')}/{machine or line}/alerts"


def _payload(alert: Alert, machine: str | None, line: str, event: AlertEvent) -> dict[str, Any]:
    return {
        "alert_id": alert.id, "event": event.kind, "event_at": event.at.isoformat(), "actor": event.actor,
        "comment": event.comment, "rule": alert.rule, "severity": event.severity or alert.severity,
        "state": alert.state, "machine": machine, "line": line, "message": alert.message,
        "opened_at": alert.opened_at.isoformat(), "count": alert.count,
    }  # fmt: skip


def route_events(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    events = repo.unrouted_events(session, ROUTE_BATCH)
    rows: list[dict[str, Any]] = []
    for event in events:
        found = alerts_repo.get_alert_row(session, event.alert_id)
        if found is None:
            continue
        alert, machine, line = found
        payload = _payload(alert, machine, line, event)
        targets: list[tuple[str, str]] = []
        if settings.alert_mqtt and event.kind not in MQTT_SILENT_KINDS:
            targets.append(("mqtt", _topic(settings, machine, line)))
        for route in [] if event.held else settings.alert_routes:
            if (
                event.kind in route.events
                and (route.rules is None or alert.rule in route.rules)
                and severity_rank(payload["severity"]) >= severity_rank(route.min_severity)
                and (route.lines is None or line in route.lines)
            ):
                targets.append((route.channel, route.target))
        rows += [
            {"alert_id": alert.id, "alert_event_id": event.id, "channel": channel, "target": target,
             "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": now,
             "created_at": now}
            for channel, target in dict.fromkeys(targets)
        ]  # fmt: skip
    created = repo.add_notifications(session, rows)
    repo.mark_routed(session, [event.id for event in events], now)
    return {"events_routed": len(events), "notifications_created": created}


def _send(session: Session, notification: Notification, settings: Settings, mqtt: MqttPublisher) -> None:
    payload = notification.payload
    if notification.channel == "mqtt":
        # The subject's state now, not as of the event: the retained message is what a subscriber sees.
        alert = session.get_one(Alert, notification.alert_id)
        active = repo.active_alerts_of(session, alert.machine_id, alert.line_id)
        mqtt.publish(notification.target, {
            "machine": payload["machine"], "line": payload["line"], "updated_at": payload["event_at"],
            "alerts": [{"id": a.id, "rule": a.rule, "severity": a.severity, "state": a.state,
                        "message": a.message, "opened_at": a.opened_at.isoformat()} for a in active],
        })  # fmt: skip
    elif notification.channel == "webhook":
        post_webhook(notification.target, payload, notification.id, settings)
    elif notification.channel == "chat":
        post_chat(notification.target, payload, notification.id)
    elif notification.channel == "email":
        send_email(notification.target, payload, settings)
    else:
        raise DeliveryError(f"unknown channel {notification.channel!r}")


def _deliver_one(session: Session, settings: Settings, now: datetime, mqtt: MqttPublisher) -> str | None:
    """Send the oldest due notification; what became of it (None: nothing was due)."""
    notification = repo.claim_due(session, now)
    if notification is None:
        return None
    notification.attempts += 1
    try:
        _send(session, notification, settings, mqtt)
    except DeliveryError as exc:
        notification.last_error = str(exc)[:1000]
        if notification.attempts >= settings.notify_max_attempts:
            notification.status = "failed"
            log.error("notification %d to %s %s failed for good: %s", notification.id,
                      notification.channel, notification.target, exc)  # fmt: skip
            return "failed"
        delay = settings.notify_retry_base_s * 2 ** (notification.attempts - 1)
        notification.next_attempt_at = now + timedelta(seconds=delay)
        log.warning("notification %d to %s %s: %s; retry in %.0f s", notification.id,
                    notification.channel, notification.target, exc, delay)  # fmt: skip
        return "retried"
    notification.status, notification.sent_at, notification.last_error = "sent", now, None
    return "sent"


def notify_alerts(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """Route, then deliver; each in transactions of its own (the run's own session only records it)."""
    factory = sessionmaker(bind=session.get_bind())
    with transaction(factory) as own:
        figures: dict[str, Any] = route_events(own, settings, now)
    figures.update(sent=0, retried=0, failed=0)
    mqtt = MqttPublisher(settings)
    try:
        for _ in range(DELIVERY_BATCH):
            with transaction(factory) as own:  # each result committed at once: see the module docstring
                outcome = _deliver_one(own, settings, now, mqtt)
            if outcome is None:
                break
            figures[outcome] += 1
    finally:
        mqtt.close()
    return figures
