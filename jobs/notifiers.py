"""The notification channels: generic webhook (HMAC-signed), chat webhook, e-mail, MQTT (retained).

Each sender raises DeliveryError with a short reason when the recipient did not take the message;
the delivery job retries it later. Timeouts are short so that one dead recipient cannot hold up the
others for long.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import threading
import uuid
from email.message import EmailMessage
from typing import Any

import httpx
import paho.mqtt.client as mqtt

from plantwatch.mqtt import make_client
from plantwatch.settings import Settings

TIMEOUT_S = 5.0
SIGNATURE_HEADER = "X-Plantwatch-Signature"


class DeliveryError(Exception):
    pass


def summary(payload: dict[str, Any]) -> str:
    """One line an engineer reads: `CRITICAL rul_low opened on s1/l1/m1: predicted RUL 12 …`."""
    subject = payload.get("machine") or payload.get("line")
    severity = str(payload["severity"]).upper()
    # The step's own words (the message when it happened, or the engineer's comment), else the alert's.
    words = payload.get("comment") or payload["message"]
    return f"{severity} {payload['rule']} {payload['event']} on {subject}: {words}"


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        response = httpx.post(url, content=body, headers={"Content-Type": "application/json", **headers},
                              timeout=TIMEOUT_S)  # fmt: skip
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise DeliveryError(f"HTTP {response.status_code} from {url}: {response.text[:200]}")


def post_webhook(url: str, payload: dict[str, Any], delivery_id: int, settings: Settings) -> None:
    body = body_bytes(payload)
    headers = {
        "X-Plantwatch-Delivery": str(delivery_id),
        "X-Plantwatch-Event": str(payload["event"]),
        # One work request per alert in a CMMS that honours it, however often `opened` is delivered.
        "Idempotency-Key": f"plantwatch-alert-{payload['alert_id']}-{payload['event']}",
    }
    if settings.webhook_secret:
        headers[SIGNATURE_HEADER] = signature(settings.webhook_secret, body)
    _post(url, body, headers)


def post_chat(url: str, payload: dict[str, Any], delivery_id: int) -> None:
    """Slack and Teams incoming webhooks both take {"text": ...} (and ignore our header)."""
    _post(url, json.dumps({"text": summary(payload)}).encode(), {"X-Plantwatch-Delivery": str(delivery_id)})


def send_email(to: str, payload: dict[str, Any], settings: Settings) -> None:
    if not settings.smtp_host:
        raise DeliveryError("PLANTWATCH_SMTP_HOST is not set")
    message = EmailMessage()
    subject = payload.get("machine") or payload.get("line")
    message["Subject"] = (
        f"[plantwatch] {str(payload['severity']).upper()} {payload['event']}: {subject} {payload['rule']}"
    )
    message["From"], message["To"] = settings.smtp_from, to
    details = "\n".join(f"{key}: {value}" for key, value in sorted(payload.items()) if value is not None)
    message.set_content(f"{summary(payload)}\n\n{details}\n")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc


class MqttPublisher:
    """One connection per delivery run, opened on first use; publishes retained with QoS 1."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: mqtt.Client | None = None

    def _connect(self) -> mqtt.Client:
        if self.client is not None:
            return self.client
        client, address = make_client(
            self.settings, f"plantwatch-alerts-{uuid.uuid4().hex[:8]}", clean_session=True
        )
        connected = threading.Event()
        client.on_connect = lambda *_args: connected.set()
        try:
            client.connect(address.host, address.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"MQTT broker {address.host}:{address.port}: {exc}") from exc
        client.loop_start()
        if not connected.wait(TIMEOUT_S):
            client.loop_stop()
            raise DeliveryError(f"MQTT broker {address.host}:{address.port} did not answer")
        self.client = client
        return client

    def publish(self, topic: str, document: Any) -> None:
        client = self._connect()
        info = client.publish(topic, json.dumps(document, separators=(",", ":")), qos=1, retain=True)
        info.wait_for_publish(TIMEOUT_S)
        if not info.is_published():
            raise DeliveryError(f"MQTT broker did not acknowledge {topic} within {TIMEOUT_S:g} s")

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None
