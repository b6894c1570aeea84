"""Helpers of the fault tests: the ingestor as a real process (so that it can be killed), a numbered
QoS 1 stream, the broker's view of a session, and the check that every reading is stored exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from plantwatch.embedded import free_port
from plantwatch.mqtt import parse_mqtt_url

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "plantwatch/v1/site-f/line-1/machine-{}/telemetry"


class IngestProcess:
    """`python -m plantwatch ingest` in a child process with its own client id, var folder and log."""

    def __init__(self, work: Path, db_url: str, mqtt_url: str, client_id: str, **env: str) -> None:
        self.work, self.client_id = work, client_id
        self.log_path = work / f"{client_id}.log"
        self.metrics_port = free_port()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PLANTWATCH_") and k not in ("DATABASE_URL", "MQTT_URL")
        }
        self.env.update(
            PYTHONPATH=str(ROOT),
            DATABASE_URL=db_url,
            MQTT_URL=mqtt_url,
            PLANTWATCH_MQTT_CLIENT_ID=client_id,
            PLANTWATCH_VAR_DIR=str(work / "var"),
            PLANTWATCH_INGEST_FLUSH_MS="50",
            PLANTWATCH_METRICS_PORT=str(self.metrics_port),
            **env,
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30) -> IngestProcess:
        self.work.mkdir(parents=True, exist_ok=True)
        before = self.log().count("subscribed to ")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "plantwatch", "ingest"],
                cwd=self.work,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while self.log().count("subscribed to ") == before:
            assert self.process.poll() is None, f"the ingestor exited:\n{self.tail()}"
            assert time.monotonic() < deadline, f"the ingestor did not subscribe:\n{self.tail()}"
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """kill -9: no clean shutdown, nothing flushed, unacknowledged messages left at the broker."""
        assert self.process is not None and self.process.poll() is None, self.tail()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, as `docker stop` sends: finish the batch in hand and exit 0."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(30) == 0, self.tail()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def metric(self, name: str) -> float:
        """A sample of the process's /metrics (0 when absent)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    return float(line.rsplit(" ", 1)[1])
        return 0.0


class NumberedStream:
    """Publishes readings seq 1..count (distinct timestamps) at QoS 1 and `rate` messages/s from its
    own thread; rides out broker restarts (paho resends what the broker did not acknowledge)."""

    def __init__(self, mqtt_url: str, count: int, rate: float, machines: int = 3) -> None:
        self.count, self.rate, self.machines = count, rate, machines
        self.base = datetime.now(UTC) - timedelta(hours=1)
        self.sent = 0
        self.acked: set[int] = set()
        self._mids: set[int] = set()
        self._lock = threading.Lock()
        address = parse_mqtt_url(mqtt_url)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"stream-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311
        )
        self.client.max_inflight_messages_set(200)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_publish = self._on_publish
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        self.thread = threading.Thread(target=self._run, name="stream", daemon=True)

    def payload(self, seq: int) -> tuple[str, bytes]:
        ts = self.base + timedelta(milliseconds=10 * seq)
        document = {"ts": ts.isoformat(), "seq": seq, "values": {"speed": seq / 10, "temp": 40 + seq % 7}}
        return TOPIC.format(seq % self.machines), json.dumps(document).encode()

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, _r: object, _p: object) -> None:
        with self._lock:
            self.acked.add(mid)

    def _run(self) -> None:
        started = time.monotonic()
        for seq in range(1, self.count + 1):
            delay = started + seq / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            topic, body = self.payload(seq)
            info = self.client.publish(topic, body, qos=1)
            with self._lock:
                self._mids.add(info.mid)
            self.sent = seq

    def start(self) -> NumberedStream:
        self.thread.start()
        return self

    def wait_sent(self, seq: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.sent < seq:
            assert time.monotonic() < deadline, f"the stream is stuck at {self.sent}"
            time.sleep(0.02)

    def finish(self, timeout_s: float = 90) -> None:
        """Wait until every message is published and acknowledged by the broker, then disconnect."""
        self.thread.join(timeout_s)
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                missing = len(self._mids - self.acked)
            if not missing:
                break
            assert time.monotonic() < deadline, f"{missing} messages never acknowledged by the broker"
            time.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()


def stored(factory: sessionmaker[Session]) -> tuple[int, set[int]]:
    """(readings, their distinct seq values) in the readings table."""
    with factory() as session:
        rows = session.execute(text("SELECT seq FROM readings")).scalars().all()
    return len(rows), set(rows)


def dead_letters(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.execute(text("SELECT count(*) FROM dead_letters")).scalar_one())


def assert_exactly_once(
    factory: sessionmaker[Session], count: int, processes: list[IngestProcess], timeout_s: float = 60
) -> None:
    """Wait until ingest has stored `count` readings, then check they are seq 1..count, each once."""
    deadline = time.monotonic() + timeout_s
    while (n := stored(factory)[0]) < count:
        if time.monotonic() > deadline:
            logs = "\n\n".join(f"--- {p.client_id}\n{p.tail()}" for p in processes)
            raise AssertionError(f"only {n} of {count} readings stored after {timeout_s}s\n{logs}")
        time.sleep(0.2)
    time.sleep(1.0)  # anything stored twice would show up now
    n, seqs = stored(factory)
    assert n == count, f"{n} readings for {count} published"
    assert seqs == set(range(1, count + 1))
    assert dead_letters(factory) == 0


def pending_for(mqtt_url: str, client_id: str, listen_s: float = 1.0) -> int:
    """Messages the broker still holds for an (offline) MQTT 5 session, left unacknowledged."""
    address = parse_mqtt_url(mqtt_url)
    got: list[int] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.manual_ack_set(True)
    client.on_message = lambda _c, _u, message: got.append(message.mid)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    client.connect(address.host, address.port, clean_start=False, properties=properties)
    client.loop_start()
    time.sleep(listen_s)
    client.disconnect()
    client.loop_stop()
    return len(got)


def let_postgres_user_in(data_dir: Path) -> None:
    """As root, pgserver runs PostgreSQL as the `pgserver` user, which must traverse the folders above
    its data; another pytest session starting meanwhile resets /tmp/pytest-of-root to 0700."""
    if os.geteuid() != 0:
        return
    for folder in data_dir.parents:
        if folder in (Path("/"), Path(tempfile.gettempdir())):
            break
        folder.chmod(folder.stat().st_mode | 0o055)
