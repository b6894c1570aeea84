"""`plantwatch api` with two worker processes reports the whole API's request metrics on every scrape."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from plantwatch.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 40


def _refused(text: str) -> float:
    """plantwatch_api_requests_total of GET /api/v1/machines answered 401, in a scrape."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "plantwatch_api_requests_total"
        and s.labels.get("route") == "/api/v1/machines"
        and s.labels.get("status") == "401"
    )


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the API did not answer within 60 s\n{log.read_text(errors='replace')[-3000:]}")


def test_every_scrape_counts_the_requests_of_both_workers(db_url: str, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLANTWATCH_", "PROMETHEUS_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=db_url,
        PLANTWATCH_VAR_DIR=str(tmp_path / "var"),
        PLANTWATCH_API_WORKERS="2",
        PLANTWATCH_API_METRICS="true",
        PLANTWATCH_METRICS_PORT=str(metrics_port),
    )
    log = tmp_path / "api.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "plantwatch", "api", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(url, process, log)
        # A new connection per request, so that both workers take a share.
        for _ in range(REQUESTS):
            assert httpx.get(f"{url}/api/v1/machines", timeout=5).status_code == 401
        scrapes = [httpx.get(f"{url}/metrics", timeout=5).text for _ in range(6)]
        assert [_refused(text) for text in scrapes] == [REQUESTS] * 6
        parent = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert _refused(parent) == REQUESTS
        pids = {line.split()[-1] for line in log.read_text().splitlines() if "Started server process" in line}
        assert len(pids) == 2, log.read_text(errors="replace")[-3000:]
        metrics_dir = Path(re.findall(r"request metrics in (\S+)\)", log.read_text())[0])
        assert sorted(metrics_dir.glob("*.db"))  # the workers' files
    finally:
        process.terminate()
        process.wait(30)
    assert not metrics_dir.exists(), "the workers' metric files outlived the API"
