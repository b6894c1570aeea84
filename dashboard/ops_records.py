"""What the quality, model and job endpoints return, as the Quality, Models and Jobs pages use it:
frozen dataclasses (so `st.cache_data` can pickle them), built from the API's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.records import parse_ts


@dataclass(frozen=True)
class QualitySample:
    start: datetime
    inspected: int
    defective: int
    rate: float
    center: float | None
    upper: float | None
    lower: float | None
    out_of_control: bool


@dataclass(frozen=True)
class Quality:
    """A line's (or station's) p-chart: `GET /quality`."""

    site: str
    line: str
    station: str | None
    bucket_s: int
    baseline_samples: int
    good_labels: tuple[str, ...]
    samples: tuple[QualitySample, ...]


@dataclass(frozen=True)
class Inspection:
    id: int
    site: str
    line: str
    station: str
    part_id: str | None
    taken_at: datetime
    label: str | None
    labelled_by: str | None
    predicted_label: str | None
    confidence: float | None
    needs_review: bool
    model_version_id: int | None = None

    @property
    def line_path(self) -> str:
        return f"{self.site}/{self.line}"


@dataclass(frozen=True)
class ModelVersion:
    id: int
    kind: str
    scope: str
    version: int
    status: str
    metrics: dict[str, Any]
    params: dict[str, Any]
    created_at: datetime
    promoted_at: datetime | None = None
    data_start: datetime | None = None
    data_end: datetime | None = None

    @property
    def decision(self) -> str:
        """The recorded reason of the automatic promotion decision ('' when none was taken)."""
        promotion = self.params.get("promotion")
        return str(promotion.get("reason") or "") if isinstance(promotion, dict) else ""


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


def _ts(raw: dict[str, Any], name: str) -> datetime:
    value = parse_ts(raw.get(name))
    if value is None:
        raise ValueError(f"the API sent no {name}")
    return value


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def quality_from_json(raw: dict[str, Any]) -> Quality:
    return Quality(
        site=str(raw["site"]),
        line=str(raw["line"]),
        station=raw.get("station"),
        bucket_s=int(raw["bucket_s"]),
        baseline_samples=int(raw.get("baseline_samples") or 0),
        good_labels=tuple(str(label) for label in raw.get("good_labels") or []),
        samples=tuple(
            QualitySample(
                start=_ts(s, "start"),
                inspected=int(s["inspected"]),
                defective=int(s["defective"]),
                rate=float(s["rate"]),
                center=_float(s.get("center")),
                upper=_float(s.get("upper")),
                lower=_float(s.get("lower")),
                out_of_control=bool(s.get("out_of_control")),
            )
            for s in raw.get("samples") or []
        ),
    )


def inspection_from_json(raw: dict[str, Any]) -> Inspection:
    return Inspection(
        id=int(raw["id"]),
        site=str(raw["site"]),
        line=str(raw["line"]),
        station=str(raw["station"]),
        part_id=raw.get("part_id"),
        taken_at=_ts(raw, "taken_at"),
        label=raw.get("label"),
        labelled_by=raw.get("labelled_by"),
        predicted_label=raw.get("predicted_label"),
        confidence=_float(raw.get("confidence")),
        needs_review=bool(raw.get("needs_review")),
        model_version_id=raw.get("model_version_id"),
    )


def model_version_from_json(raw: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        id=int(raw["id"]),
        kind=str(raw["kind"]),
        scope=str(raw["scope"]),
        version=int(raw["version"]),
        status=str(raw["status"]),
        metrics=dict(raw.get("metrics") or {}),
        params=dict(raw.get("params") or {}),
        created_at=_ts(raw, "created_at"),
        promoted_at=parse_ts(raw.get("promoted_at")),
        data_start=parse_ts(raw.get("data_start")),
        data_end=parse_ts(raw.get("data_end")),
    )


def job_run_from_json(raw: dict[str, Any]) -> JobRun:
    return JobRun(
        id=int(raw["id"]),
        job_name=str(raw["job_name"]),
        scheduled_for=_ts(raw, "scheduled_for"),
        started_at=_ts(raw, "started_at"),
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
        every_s=_float(raw.get("every_s")),
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
        requested_at=_ts(raw, "requested_at"),
        picked_at=parse_ts(raw.get("picked_at")),
        run=job_run_from_json(run) if run else None,
    )


def dead_letter_from_json(raw: dict[str, Any]) -> DeadLetter:
    return DeadLetter(
        id=int(raw["id"]),
        received_at=_ts(raw, "received_at"),
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
