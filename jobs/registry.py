"""The jobs by name, shared by the scheduler and the job-request poller.

A job is a plain function `(session, settings, now, **params) -> dict` of figures for its run record;
it never commits (its run commits it). `services.job_requests.JOB_NAMES` must list exactly these
names, since the API validates requests against it without importing jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobs.classify import classify_inspections
from jobs.dead_letter_report import dead_letter_report
from jobs.evaluate_alerts import evaluate_alerts
from jobs.notify_alerts import notify_alerts
from jobs.partitions import partition_upkeep
from jobs.quality_check import quality_check
from jobs.retention import apply_retention
from jobs.rollups import rollups
from jobs.score_machines import score_machines
from jobs.silent import silent_machines
from jobs.train_worker import train_qc_in_worker, train_rul_in_worker
from services.job_requests import JOB_NAMES

JobFn = Callable[..., dict[str, Any]]
"""`(session: Session, settings: Settings, now: datetime, **params) -> dict[str, Any]`."""

JOBS: dict[str, JobFn] = {
    "evaluate_alerts": evaluate_alerts,
    "notify_alerts": notify_alerts,
    "dead_letter_report": dead_letter_report,
    "silent_machines": silent_machines,
    "partition_upkeep": partition_upkeep,
    "rollups": rollups,
    "train_rul": train_rul_in_worker,
    "score_machines": score_machines,
    "train_qc": train_qc_in_worker,
    "classify_inspections": classify_inspections,
    "quality_check": quality_check,
    "retention": apply_retention,
}

if set(JOBS) != set(JOB_NAMES):
    raise RuntimeError(
        f"jobs.registry.JOBS {sorted(JOBS)} and services.job_requests.JOB_NAMES {sorted(JOB_NAMES)} differ"
    )


def get_job(name: str) -> JobFn | None:
    return JOBS.get(name)
