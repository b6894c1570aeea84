"""What the job and dead-letter endpoints return, as the Jobs page uses it: frozen dataclasses (so
`st.cache_data` can pickle them), built from the API's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.records import optional_float, parse_ts, ts_field


@dataclass(frozen=True)
class JobRun:
    id: int
    job_name: str
    scheduled_for: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str
    error: str | None
    trigger: str
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Job:
    name: str
    every_s: float | None
    next_run_at: datetime | None
    params: dict[str, Any]
    last_run: JobRun | None


@dataclass(frozen=True)
class JobRequest:
    id: int
    job_name: str
    requested_by: str | None
    requested_at: datetime
    picked_at: datetime | None
    run: JobRun | None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload: str
    replayable: bool
    replayed_at: datetime | None
    replay_requested_at: datetime | None
    replay_error: str | None


@dataclass(frozen=True)
class DeadLetterSummary:
    total: int
    replayed: int
    replay_requested: int
    by_reason: dict[str, int]
    open_by_reason: dict[str, int]


def job_run_from_json(raw: dict[str, Any]) -> JobRun:
    return JobRun(
        id=int(raw["id"]),
        job_name=str(raw["job_name"]),
        scheduled_for=ts_field(raw, "scheduled_for"),
        started_at=ts_field(raw, "started_at"),
        finished_at=parse_ts(raw.get("finished_at")),
        status=str(raw["status"]),
        error=raw.get("error"),
        trigger=str(raw.get("trigger") or "schedule"),
        summary=dict(raw.get("summary") or {}),
    )


def job_from_json(raw: dict[str, Any]) -> Job:
    last = raw.get("last_run")
    return Job(
        name=str(raw["name"]),
        every_s=optional_float(raw.get("every_s")),
        next_run_at=parse_ts(raw.get("next_run_at")),
        params=dict(raw.get("params") or {}),
        last_run=job_run_from_json(last) if last else None,
    )


def job_request_from_json(raw: dict[str, Any]) -> JobRequest:
    run = raw.get("run")
    return JobRequest(
        id=int(raw["id"]),
        job_name=str(raw["job_name"]),
        requested_by=raw.get("requested_by"),
        requested_at=ts_field(raw, "requested_at"),
        picked_at=parse_ts(raw.get("picked_at")),
        run=job_run_from_json(run) if run else None,
    )


def dead_letter_from_json(raw: dict[str, Any]) -> DeadLetter:
    return DeadLetter(
        id=int(raw["id"]),
        received_at=ts_field(raw, "received_at"),
        topic=str(raw["topic"]),
        reason=str(raw["reason"]),
        detail=str(raw.get("detail") or ""),
        payload=str(raw.get("payload") or ""),
        replayable=bool(raw.get("replayable")),
        replayed_at=parse_ts(raw.get("replayed_at")),
        replay_requested_at=parse_ts(raw.get("replay_requested_at")),
        replay_error=raw.get("replay_error"),
    )


def dead_letter_summary_from_json(raw: dict[str, Any]) -> DeadLetterSummary:
    return DeadLetterSummary(
        total=int(raw.get("total") or 0),
        replayed=int(raw.get("replayed") or 0),
        replay_requested=int(raw.get("replay_requested") or 0),
        by_reason={str(k): int(v) for k, v in (raw.get("by_reason") or {}).items()},
        open_by_reason={str(k): int(v) for k, v in (raw.get("open_by_reason") or {}).items()},
    )
