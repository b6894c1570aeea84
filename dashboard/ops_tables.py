"""Pure helpers of the Quality, Models and Jobs pages: the tables they show and the figures in them.

No Streamlit here, so they are tested directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

import pandas as pd

from dashboard.formatting import relative_age
from dashboard.job_records import DeadLetter, Job, JobRun
from dashboard.ops_records import Inspection, ModelVersion, QualitySample

STATUS_ICONS = {"succeeded": "✅", "failed": "❌", "running": "⏳", "champion": "👑", "candidate": "🆕",
                "retired": "💤", "rejected": "🚫"}  # fmt: skip
# Metrics shown as columns of the versions table, when a version has them (others are in its details).
HEADLINE_METRICS = ("rmse", "mae", "score", "error_rate", "accuracy", "macro_f1")


def local(ts: datetime | None, tz: tzinfo) -> str:
    return "" if ts is None else ts.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def duration_text(seconds: float | None) -> str:
    """'0.25 s', '12 s', '3 min 5 s', '2 h 4 min'; '' for None (still running)."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def every_text(every_s: float | None) -> str:
    return "on request only" if every_s is None else f"every {duration_text(every_s)}"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


# --- quality --------------------------------------------------------------------------------------


def quality_totals(samples: Sequence[QualitySample]) -> tuple[int, int, int]:
    """(inspected, defective, samples out of control)."""
    return (
        sum(s.inspected for s in samples),
        sum(s.defective for s in samples),
        sum(s.out_of_control for s in samples),
    )


def inspections_table(inspections: Sequence[Inspection], tz: tzinfo) -> pd.DataFrame:
    rows = [
        {
            "id": i.id,
            "taken": local(i.taken_at, tz),
            "line": i.line_path,
            "station": i.station,
            "part": i.part_id or "",
            "predicted": i.predicted_label or "",
            "confidence": i.confidence,
            "label": i.label or "",
            "labelled by": i.labelled_by or "",
            "review": "👀" if i.needs_review else "",
        }
        for i in inspections
    ]
    columns = ["id", "taken", "line", "station", "part", "predicted", "confidence", "label",
               "labelled by", "review"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def inspection_caption(inspection: Inspection) -> str:
    predicted = inspection.predicted_label or "not classified yet"
    if inspection.confidence is not None:
        predicted += f" ({inspection.confidence:.0%})"
    label = f" · label {inspection.label}" if inspection.label else ""
    return f"#{inspection.id} {inspection.station}: {predicted}{label}"


# --- models ---------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def versions_table(versions: Sequence[ModelVersion], tz: tzinfo) -> pd.DataFrame:
    """One row per version, newest first, with the headline metrics any of them has."""
    metrics = [m for m in HEADLINE_METRICS if any(_number(v.metrics.get(m)) is not None for v in versions)]
    rows = []
    for v in sorted(versions, key=lambda v: v.version, reverse=True):
        row: dict[str, object] = {
            "id": v.id,
            "version": f"v{v.version}",
            "status": f"{STATUS_ICONS.get(v.status, '')} {v.status}",
        }
        row.update({m: _number(v.metrics.get(m)) for m in metrics})
        row.update(
            {
                "trained": local(v.created_at, tz),
                "promoted": local(v.promoted_at, tz),
                "decision": v.decision,
            }
        )
        rows.append(row)
    columns = ["id", "version", "status", *metrics, "trained", "promoted", "decision"]
    return pd.DataFrame(rows, columns=columns)


def training_history(metrics: dict[str, Any]) -> dict[str, list[float]]:
    """Per-epoch curves a version's metrics carry: `metrics["history"]` (name -> list, as the training
    jobs record it) and any metric that is itself a list of numbers."""
    found: dict[str, Any] = {}
    history = metrics.get("history")
    if isinstance(history, dict):
        found.update(history)
    found.update({k: v for k, v in metrics.items() if k != "history" and isinstance(v, list)})
    curves = {}
    for name, values in found.items():
        if isinstance(values, list) and values and all(_number(x) is not None for x in values):
            curves[str(name)] = [float(x) for x in values]
    return curves


def scalar_metrics(metrics: dict[str, Any]) -> pd.DataFrame:
    rows = [{"metric": k, "value": _number(v)} for k, v in sorted(metrics.items()) if _number(v) is not None]
    return pd.DataFrame(rows, columns=["metric", "value"])


# --- jobs and dead letters ------------------------------------------------------------------------


def jobs_table(jobs: Sequence[Job], now: datetime, tz: tzinfo) -> pd.DataFrame:
    rows = []
    for job in jobs:
        last = job.last_run
        rows.append(
            {
                "job": job.name,
                "schedule": every_text(job.every_s),
                "next run": local(job.next_run_at, tz),
                "params": ", ".join(f"{k}={v}" for k, v in sorted(job.params.items())),
                "last run": f"{STATUS_ICONS.get(last.status, '')} {last.status}" if last else "never",
                "last started": relative_age(last.started_at, now) if last else "",
                "last duration": duration_text(last.duration_s) if last else "",
                "last error": (last.error or "") if last else "",
            }
        )
    columns = [
        "job",
        "schedule",
        "next run",
        "params",
        "last run",
        "last started",
        "last duration",
        "last error",
    ]
    return pd.DataFrame(rows, columns=columns)


def runs_table(runs: Sequence[JobRun], tz: tzinfo) -> pd.DataFrame:
    rows = [
        {
            "id": r.id,
            "job": r.job_name,
            "started": local(r.started_at, tz),
            "duration": duration_text(r.duration_s),
            "status": f"{STATUS_ICONS.get(r.status, '')} {r.status}",
            "trigger": r.trigger,
            "error": r.error or "",
        }
        for r in runs
    ]
    return pd.DataFrame(rows, columns=["id", "job", "started", "duration", "status", "trigger", "error"])


def replay_state(letter: DeadLetter) -> str:
    if letter.replayed_at is not None:
        return "replayed"
    if letter.replay_requested_at is not None:
        return "replay requested"
    if letter.replay_error:
        return f"replay refused: {letter.replay_error}"
    return "waiting" if letter.replayable else "not replayable (payload cut)"


def dead_letters_table(letters: Sequence[DeadLetter], tz: tzinfo) -> pd.DataFrame:
    rows = [
        {
            "id": d.id,
            "received": local(d.received_at, tz),
            "reason": d.reason,
            "detail": d.detail,
            "topic": d.topic,
            "payload": d.payload[:120],
            "replay": replay_state(d),
        }
        for d in letters
    ]
    return pd.DataFrame(rows, columns=["id", "received", "reason", "detail", "topic", "payload", "replay"])
