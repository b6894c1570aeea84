"""Job-run metrics: counted by job and status, timed, and served over HTTP by a running scheduler."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from jobs.runs import run_job
from jobs.scheduler import run_scheduler
from plantwatch.embedded import free_port
from plantwatch.settings import Settings


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_runs_are_counted_by_job_and_status(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    def fine(_session: Session, _settings: Settings, _now: datetime, **_params: Any) -> dict[str, Any]:
        return {}

    def broken(_session: Session, _settings: Settings, _now: datetime, **_params: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    jobs = {"metrics_fine": fine, "metrics_broken": broken}
    before = {
        status: sample("plantwatch_job_runs_total", job="metrics_fine", status=status)
        for status in ("succeeded", "skipped")
    }
    failed_before = sample("plantwatch_job_runs_total", job="metrics_broken", status="failed")
    timed_before = sample("plantwatch_job_duration_seconds_count", job="metrics_fine")
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    assert run_job(session_factory, settings, "metrics_fine", slot, jobs=jobs).status == "succeeded"
    assert run_job(session_factory, settings, "metrics_fine", slot, jobs=jobs).status == "skipped"
    assert run_job(session_factory, settings, "metrics_broken", slot, jobs=jobs).status == "failed"
    for status in ("succeeded", "skipped"):
        assert sample("plantwatch_job_runs_total", job="metrics_fine", status=status) == before[status] + 1
    assert sample("plantwatch_job_runs_total", job="metrics_broken", status="failed") == failed_before + 1
    # Skipped runs are not timed.
    assert sample("plantwatch_job_duration_seconds_count", job="metrics_fine") == timed_before + 1
    assert sample("plantwatch_job_last_success_timestamp_seconds", job="metrics_fine") > time.time() - 60


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_scheduler_serves_its_job_metrics(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    port = free_port()
    settings = settings.model_copy(update={"metrics_port": port, "silent_check_interval_s": 1})
    succeeded = ("plantwatch_job_runs_total", (("job", "silent_machines"), ("status", "succeeded")))
    before = sample(succeeded[0], **dict(succeeded[1]))
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(settings, stop))
    thread.start()
    try:
        deadline = time.monotonic() + 20
        scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        while time.monotonic() < deadline:
            try:
                scraped = _scrape(port)
            except httpx.HTTPError:
                scraped = {}
            if scraped.get(succeeded, 0) > before:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    assert scraped.get(succeeded, 0) > before, f"no silent_machines run in /metrics on port {port}"
    assert scraped[("plantwatch_job_duration_seconds_count", (("job", "silent_machines"),))] >= 1
