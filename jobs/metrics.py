"""Prometheus metrics of the scheduler (served by plantwatch.metrics on PLANTWATCH_METRICS_PORT)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from jobs.runs import RunResult

P = ParamSpec("P")

JOB_RUNS = Counter(
    "plantwatch_job_runs_total",
    "Job firings by job and status (succeeded, failed, or skipped: claimed by another scheduler)",
    ["job", "status"],
)
JOB_SECONDS = Histogram(
    "plantwatch_job_duration_seconds",
    "Time a job run took (succeeded or failed), by job",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
JOB_LAST_SUCCESS = Gauge(
    "plantwatch_job_last_success_timestamp_seconds", "When a job last succeeded (Unix time)", ["job"]
)
SCHEDULER_LEADER = Gauge(
    "plantwatch_scheduler_leader",
    "1 while this scheduler is the leader (fires scheduled jobs, serves job requests), 0 while it follows",
)


def measured(run: Callable[P, RunResult]) -> Callable[P, RunResult]:
    """Count and time every run of `run_job` by its outcome."""

    @functools.wraps(run)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> RunResult:
        started = time.perf_counter()
        result = run(*args, **kwargs)
        JOB_RUNS.labels(result.job_name, result.status).inc()
        if result.status != "skipped":
            JOB_SECONDS.labels(result.job_name).observe(time.perf_counter() - started)
        if result.status == "succeeded":
            JOB_LAST_SUCCESS.labels(result.job_name).set_to_current_time()
        return result

    return wrapper
