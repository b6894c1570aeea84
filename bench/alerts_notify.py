"""The receiving end of alert notifications in bench.alerts: a local webhook and an MQTT subscriber.

The webhook (an HTTP server on a free local port, given to the scheduler as the one route of
PLANTWATCH_ALERT_ROUTES, for every kind of event) and a subscriber to plantwatch/v1/+/+/+/alerts count
what arrives. A webhook delivery is a duplicate when its X-Plantwatch-Delivery id, or its (alert_id,
event, event_at), arrived before (the body of jobs/notify_alerts.py). An MQTT message carries the
subject's state, not the event, so two events of one machine in one evaluation look alike: there a
duplicate is a message beyond the MQTT notifications the outbox marked sent. Deliveries need the
notification job registered and scheduled: `notify_job_present` says whether it is.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from plantwatch.embedded import free_port
from plantwatch.settings import DEFAULT_ROUTE_EVENTS, AlertEventKind, Settings

log = logging.getLogger("bench.alerts")

NOTIFY_JOB = "notify_alerts"
ALL_EVENTS: tuple[AlertEventKind, ...] = (*DEFAULT_ROUTE_EVENTS, "severity_lowered", "escalated")


def notify_job_present(settings: Settings) -> bool:
    """Whether the scheduler would run the notification job (registered and on its schedule)."""
    from jobs.registry import JOBS
    from jobs.scheduler import schedules

    return NOTIFY_JOB in JOBS and any(s.job_name == NOTIFY_JOB for s in schedules(settings))


def event_key(document: Any) -> tuple[Any, ...] | None:
    """(alert_id, event, event_at) of a webhook body; None when it lacks one of them."""
    if not isinstance(document, dict):
        return None
    key = tuple(document.get(name) for name in ("alert_id", "event", "event_at"))
    return None if any(part is None for part in key) else key


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received = 0
        self.ids: Counter[str] = Counter()
        self.events: Counter[tuple[Any, ...]] = Counter()
        self.unreadable = 0

    def add(self, delivery_id: str | None, body: bytes | None) -> None:
        try:
            key = event_key(json.loads(body)) if body is not None else None
        except ValueError:
            key = None
        with self.lock:
            self.received += 1
            if delivery_id:
                self.ids[delivery_id] += 1
            if key is None:
                self.unreadable += body is not None
            else:
                self.events[key] += 1

    def figures(self) -> dict[str, int]:
        with self.lock:
            return {
                "received": self.received,
                "duplicate_ids": sum(n - 1 for n in self.ids.values()),
                "duplicate_events": sum(n - 1 for n in self.events.values()),
                "distinct_events": len(self.events),
                "without_alert_and_event": self.unreadable,
            }


class NotificationSink:
    """Webhook receiver and MQTT subscriber, started at once; `close` stops both."""

    def __init__(self, broker_port: int, topic_root: str = "plantwatch/v1") -> None:
        self.webhook, self.mqtt = _Tally(), _Tally()
        tally = self.webhook

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                tally.add(self.headers.get("X-Plantwatch-Delivery"), body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:  # quiet
                pass

        port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/alerts"
        threading.Thread(target=self.server.serve_forever, name="bench-webhook", daemon=True).start()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-alerts-{uuid.uuid4().hex[:8]}"
        )
        topic = f"{topic_root}/+/+/+/alerts"
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_message = lambda _c, _u, message: self.mqtt.add(None, None)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect("127.0.0.1", broker_port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError(f"could not subscribe to {topic} on the broker at port {broker_port}")

    def route_env(self) -> dict[str, str]:
        """The scheduler's PLANTWATCH_ALERT_ROUTES: this webhook, for every kind of alert event."""
        route = {"channel": "webhook", "target": self.url, "events": list(ALL_EVENTS)}
        return {"PLANTWATCH_ALERT_ROUTES": json.dumps([route])}

    def figures(self, present: bool, sent: dict[str, int]) -> dict[str, Any]:
        """Duplicates (None without the job), and per channel what arrived against what was sent."""
        webhook, mqtt_figures = self.webhook.figures(), self.mqtt.figures()
        surplus = max(0, mqtt_figures["received"] - sent.get("mqtt", 0))
        duplicates = max(webhook["duplicate_ids"], webhook["duplicate_events"]) + surplus
        return {
            "duplicate_notifications": duplicates if present else None,
            "notifications": {
                "job": NOTIFY_JOB if present else f"{NOTIFY_JOB} not registered and scheduled: not measured",
                "webhook": {
                    **webhook,
                    "sent": sent.get("webhook", 0),
                    "sent_not_received": max(0, sent.get("webhook", 0) - len(self.webhook.ids)),
                },
                "mqtt": {
                    "received": mqtt_figures["received"],
                    "sent": sent.get("mqtt", 0),
                    "surplus": surplus,
                },
                "outbox": {k: v for k, v in sent.items() if k not in ("webhook", "mqtt")},
            },
        }

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.server.shutdown()
        self.server.server_close()
