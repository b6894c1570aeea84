"""What the quality and model endpoints return, as the Quality and Models pages use it: frozen
dataclasses (so `st.cache_data` can pickle them), built from the API's JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.records import optional_float, parse_ts, ts_field


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
                start=ts_field(s, "start"),
                inspected=int(s["inspected"]),
                defective=int(s["defective"]),
                rate=float(s["rate"]),
                center=optional_float(s.get("center")),
                upper=optional_float(s.get("upper")),
                lower=optional_float(s.get("lower")),
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
        taken_at=ts_field(raw, "taken_at"),
        label=raw.get("label"),
        labelled_by=raw.get("labelled_by"),
        predicted_label=raw.get("predicted_label"),
        confidence=optional_float(raw.get("confidence")),
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
        created_at=ts_field(raw, "created_at"),
        promoted_at=parse_ts(raw.get("promoted_at")),
        data_start=parse_ts(raw.get("data_start")),
        data_end=parse_ts(raw.get("data_end")),
    )
