"""The line simulator: an outside client that publishes the wire contract and posts failure events.

It talks MQTT (paho, QoS 1) and HTTP (httpx) only, like a real line would, so it imports nothing of
ours but settings. Machines come from plantwatch.simulation: a seeded fleet that degrades and fails
within minutes, or a C-MAPSS file replayed one cycle per tick (`replay_cmapss`).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import Counter

from plantwatch.metrics import serve_metrics
from plantwatch.settings import Settings
from plantwatch.simulation import CMAPSS_SENSORS, build_fleet, cmapss_line, read_cmapss

log = logging.getLogger(__name__)

# An event is retried for this long while the API is unreachable, answers 5xx, or does not know the
# machine yet (ingest registers it with its first reading, which may still be queued behind others).
EVENT_RETRY_S = 30.0

PUBLISHED = Counter("plantwatch_simulator_messages_published_total", "Telemetry messages published (QoS 1)")
CONFIRMED = Counter(
    "plantwatch_simulator_messages_confirmed_total", "Telemetry messages the broker acknowledged"
)
EVENTS = Counter(
    "plantwatch_simulator_events_total", "Events posted to the API, by outcome (posted, dropped)", ["outcome"]
)


def run_simulator(
    settings: Settings,
    *,
    replay_cmapss: Path | None = None,
    truncated: bool = False,
    stop: threading.Event | None = None,
    max_ticks: int | None = None,
) -> None:
    """Publish readings every `simulate_interval_s` until `stop`, `max_ticks`, or the replay's end."""
    stop = stop or threading.Event()
    serve_metrics(settings, "simulator")
    publisher = _Publisher(settings)
    events = _EventPoster(settings)
    try:
        ticks = _replay(replay_cmapss, truncated) if replay_cmapss else _simulate(settings)
        interval = settings.simulate_interval_s
        next_tick = time.monotonic()
        clock = _Clock()
        for number, tick in enumerate(ticks):
            if stop.is_set() or (max_ticks is not None and number >= max_ticks):
                break
            ts = clock.now()
            for path, seq, values, event, note in tick:
                if values is not None:
                    publisher.publish(path, {"ts": _rfc3339(ts), "seq": seq, "values": values})
                if event is not None:
                    events.post(path, event, ts, note)
            next_tick += interval
            stop.wait(max(0.0, next_tick - time.monotonic()))
    finally:
        publisher.close()
        events.close()


# One tick: for each machine (path, seq, values or None, event or None, note).
TickItems = list[tuple[str, int, dict[str, float] | None, str | None, str]]


def _simulate(settings: Settings) -> Iterator[TickItems]:
    fleet = build_fleet(
        settings.simulate_sites, settings.simulate_lines, settings.simulate_machines, settings.simulate_seed
    )
    log.info("simulating %d machines, a reading each every %ss", len(fleet), settings.simulate_interval_s)
    seq = 0
    while True:
        seq += 1
        items: TickItems = []
        for machine in fleet:
            step = machine.step()
            items.append((machine.path, seq, step.values, step.event, step.note))
        yield items


def _replay(path: Path, truncated: bool) -> Iterator[TickItems]:
    engines = read_cmapss(path)
    line = cmapss_line(path)
    log.info("replaying %d C-MAPSS engines from %s as cmapss/%s/engine-NNN", len(engines), path, line)
    longest = max((len(e.cycles) for e in engines), default=0)
    for index in range(longest):
        items: TickItems = []
        for engine in engines:
            if index >= len(engine.cycles):
                continue
            cycle, values = engine.cycles[index]
            last = index == len(engine.cycles) - 1
            event = "failure" if last and not truncated else None
            note = f"C-MAPSS {path.name} unit {engine.unit} failed after cycle {cycle}" if event else ""
            readings = dict(zip(CMAPSS_SENSORS, values, strict=True))
            items.append((f"cmapss/{line}/{engine.name}", cycle, readings, event, note))
        yield items


class _Clock:
    """Wall-clock UTC time, strictly increasing (two ticks never share a timestamp)."""

    def __init__(self) -> None:
        self.last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        self.last = max(datetime.now(UTC), self.last + timedelta(microseconds=1))
        return self.last


def _rfc3339(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Publisher:
    """A paho client publishing telemetry with QoS 1; `close` waits for the broker's acknowledgements."""

    def __init__(self, settings: Settings) -> None:
        if not settings.mqtt_url:
            raise ValueError("MQTT_URL is not set")
        url = urlsplit(settings.mqtt_url)
        tls = url.scheme in ("mqtts", "ssl")
        self.root = settings.mqtt_topic_root.rstrip("/")
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"plantwatch-sim-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        if url.username:
            self.client.username_pw_set(unquote(url.username), unquote(url.password or ""))
        if tls:
            self.client.tls_set(
                ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
                certfile=str(settings.mqtt_cert_file) if settings.mqtt_cert_file else None,
                keyfile=str(settings.mqtt_key_file) if settings.mqtt_key_file else None,
            )
        self.client.max_inflight_messages_set(200)
        self.client.reconnect_delay_set(1, 30)
        # Counters, not per-message handles: paho marks a message published while disconnected as
        # failed although it queues it and sends it on reconnection.
        self.sent = 0
        self.confirmed = 0
        connected = threading.Event()
        self.client.on_connect = lambda *_args: connected.set()
        self.client.on_publish = lambda *_args: self._confirm()
        self.client.connect_async(url.hostname or "localhost", url.port or (8883 if tls else 1883))
        self.client.loop_start()
        if not connected.wait(10):
            log.warning("no MQTT broker at %s yet; readings are queued until it answers", settings.mqtt_url)

    def _confirm(self) -> None:
        self.confirmed += 1  # only paho's network thread writes it
        CONFIRMED.inc()

    def publish(self, path: str, document: dict[str, object]) -> None:
        payload = json.dumps(document, separators=(",", ":"))
        self.client.publish(f"{self.root}/{path}/telemetry", payload, qos=1)
        self.sent += 1
        PUBLISHED.inc()

    def close(self, timeout_s: float = 10.0) -> None:
        """Wait (a while) until the broker has acknowledged every reading, then disconnect."""
        deadline = time.monotonic() + timeout_s
        while self.confirmed < self.sent and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.confirmed < self.sent:
            log.warning("%d readings were not confirmed by the broker", self.sent - self.confirmed)
        self.client.disconnect()
        self.client.loop_stop()


class _EventPoster:
    """Posts failure/maintenance events to the API from a thread, so a slow API never delays readings.

    A refused or failed post is logged as a warning and dropped: the simulator never stops for the API.
    """

    def __init__(self, settings: Settings) -> None:
        headers = {"X-API-Key": settings.api_key} if settings.api_key else {}
        self.http = httpx.Client(base_url=settings.api_url.rstrip("/"), headers=headers, timeout=5.0)
        self.inbox: queue.Queue[tuple[str, dict[str, str]] | None] = queue.Queue()
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._run, name="simulator-events", daemon=True)
        self.thread.start()

    def post(self, path: str, kind: str, ts: datetime, note: str) -> None:
        log.info("%s: %s (%s)", path, kind, note)
        url = "/api/v1/machines/" + "/".join(quote(part, safe="") for part in path.split("/")) + "/events"
        self.inbox.put((url, {"kind": kind, "ts": ts.isoformat().replace("+00:00", "Z"), "note": note}))

    def close(self, timeout_s: float = EVENT_RETRY_S + 15.0) -> None:
        """Send what is queued (retrying as usual, up to `timeout_s` in all), then stop."""
        self.closing.set()
        self.inbox.put(None)
        self.thread.join(timeout_s)
        self.http.close()

    def _run(self) -> None:
        while (item := self.inbox.get()) is not None:
            self._send(*item)

    def _send(self, url: str, body: dict[str, str]) -> None:
        problem = ""
        deadline = time.monotonic() + EVENT_RETRY_S
        delay = 0.5
        while True:
            try:
                response = self.http.post(url, json=body)
            except httpx.HTTPError as error:
                problem = f"API unreachable ({error})"
                if self.closing.is_set():  # shutting down: the API may be gone for good
                    break
            else:
                if response.is_success:
                    EVENTS.labels("posted").inc()
                    return
                problem = f"API answered {response.status_code}: {response.text[:200]}"
                if response.status_code not in (404, 429) and response.status_code < 500:
                    break
            if time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(2 * delay, 4.0)
        EVENTS.labels("dropped").inc()
        log.warning("could not post %s event to %s: %s", body["kind"], url, problem)
