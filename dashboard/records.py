"""What the API returns, as the dashboard uses it: frozen dataclasses (so `st.cache_data` can pickle
them), built from the API's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Sensor:
    name: str
    position: int
    unit: str | None = None
    normal_min: float | None = None
    normal_max: float | None = None


@dataclass(frozen=True)
class Machine:
    id: int
    path: str
    site: str
    line: str
    name: str
    machine_type: str | None = None
    external_code: str | None = None
    last_seen_at: datetime | None = None
    sensors: tuple[Sensor, ...] = ()
    latest_ts: datetime | None = None
    latest_values: dict[str, float | None] = field(default_factory=dict)

    @property
    def last_activity(self) -> datetime | None:
        """When the machine last reported: `last_seen_at`, else its newest reading."""
        candidates = [t for t in (self.last_seen_at, self.latest_ts) if t is not None]
        return max(candidates) if candidates else None

    def sensor(self, name: str) -> Sensor | None:
        return next((s for s in self.sensors if s.name == name), None)


@dataclass(frozen=True)
class Point:
    ts: datetime
    value: float  # a reading, or a bucket's average
    min: float | None = None  # a bucket's (None for raw readings)
    max: float | None = None
    n: int | None = None


@dataclass(frozen=True)
class Series:
    machine: str
    sensor: str
    unit: str | None
    points: tuple[Point, ...]
    truncated: bool = False
    bucket: str = "raw"  # or "1m" / "1h": points are bucket averages with min and max


@dataclass(frozen=True)
class Event:
    id: int | None
    kind: str
    ts: datetime
    note: str = ""
    created_by: str | None = None


@dataclass(frozen=True)
class Alert:
    id: int
    rule: str
    severity: str
    state: str
    message: str
    count: int
    machine: str | None
    line: str
    opened_at: datetime
    acknowledged_by: str | None = None
    shelved_until: datetime | None = None
    comment: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None


@dataclass(frozen=True)
class Driver:
    """A sensor behind a RUL prediction: `score` cycles of RUL its recent values take away."""

    sensor: str
    score: float


@dataclass(frozen=True)
class Health:
    """One prediction of the scoring job for a machine (`GET /health`, `/machines/{m}/predictions`)."""

    machine_id: int
    machine: str  # path
    status: str  # ok, degraded, withheld, pending
    severity: str | None = (
        None  # critical, warning, ok: the alert rules in effect rate it (None: nothing to rate)
    )
    made_at: datetime | None = None
    rul: float | None = None
    rul_low: float | None = None
    rul_high: float | None = None
    failure_probability: float | None = None
    horizon: float | None = None
    health_score: float | None = None
    reasons: tuple[str, ...] = ()
    top_sensors: tuple[Driver, ...] = ()


@dataclass(frozen=True)
class Identity:
    """Who the key belongs to, when the API says (`GET /api/v1/me`)."""

    name: str
    role: str


def parse_ts(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@lru_cache(maxsize=4096)
def _sensor(
    name: str, position: int, unit: str | None, normal_min: float | None, normal_max: float | None
) -> Sensor:
    # Machines of one type share their sensors' definitions: one (frozen) object for each definition,
    # not one per machine; making 20,000 took a quarter of a second for a fleet of 1,000 machines.
    return Sensor(name, position, unit, normal_min, normal_max)


def machine_from_json(raw: dict[str, Any]) -> Machine:
    latest = raw.get("latest") or {}
    return Machine(
        id=int(raw["id"]),
        path=str(raw["path"]),
        site=str(raw["site"]),
        line=str(raw["line"]),
        name=str(raw["name"]),
        machine_type=raw.get("machine_type"),
        external_code=raw.get("external_code"),
        last_seen_at=parse_ts(raw.get("last_seen_at")),
        sensors=tuple(
            _sensor(
                str(s["name"]),
                int(s.get("position") or 0),
                s.get("unit"),
                s.get("normal_min"),
                s.get("normal_max"),
            )
            for s in raw.get("sensors") or []
        ),
        latest_ts=parse_ts(latest.get("ts")),
        latest_values=dict(latest.get("values") or {}),
    )


def event_from_json(raw: dict[str, Any]) -> Event:
    ts = parse_ts(raw["ts"])
    assert ts is not None
    return Event(
        id=raw.get("id"),
        kind=str(raw["kind"]),
        ts=ts,
        note=str(raw.get("note") or ""),
        created_by=raw.get("created_by"),
    )


def alert_from_json(raw: dict[str, Any]) -> Alert:
    opened = parse_ts(raw["opened_at"])
    assert opened is not None
    return Alert(
        id=int(raw["id"]),
        rule=str(raw["rule"]),
        severity=str(raw["severity"]),
        state=str(raw["state"]),
        message=str(raw.get("message") or ""),
        count=int(raw.get("count") or 1),
        machine=raw.get("machine"),
        line=str(raw.get("line") or ""),
        opened_at=opened,
        acknowledged_by=raw.get("acknowledged_by"),
        shelved_until=parse_ts(raw.get("shelved_until")),
        comment=raw.get("comment"),
        acknowledged_at=parse_ts(raw.get("acknowledged_at")),
        resolved_at=parse_ts(raw.get("resolved_at")),
        resolved_by=raw.get("resolved_by"),
    )


def ts_field(raw: dict[str, Any], name: str) -> datetime:
    """A time the API always sends; ValueError when it did not."""
    value = parse_ts(raw.get(name))
    if value is None:
        raise ValueError(f"the API sent no {name}")
    return value


def optional_float(value: Any) -> float | None:
    """A JSON number or null as a float or None."""
    return None if value is None else float(value)


def health_from_json(raw: dict[str, Any]) -> Health:
    return Health(
        machine_id=int(raw["machine_id"]),
        machine=str(raw["machine"]),
        status=str(raw.get("status") or "pending"),
        severity=str(raw["severity"]) if raw.get("severity") else None,
        made_at=parse_ts(raw.get("made_at")),
        rul=optional_float(raw.get("rul")),
        rul_low=optional_float(raw.get("rul_low")),
        rul_high=optional_float(raw.get("rul_high")),
        failure_probability=optional_float(raw.get("failure_probability")),
        horizon=optional_float(raw.get("horizon")),
        health_score=optional_float(raw.get("health_score")),
        reasons=tuple(str(r) for r in raw.get("reasons") or []),
        top_sensors=tuple(
            Driver(sensor=str(d["sensor"]), score=float(d["score"])) for d in raw.get("top_sensors") or []
        ),
    )


@dataclass(frozen=True)
class AlertStep:
    """One step in an alert's life: who did what when (`kind`: opened, acknowledged, comment, …)."""

    at: datetime
    kind: str
    actor: str
    severity: str | None
    comment: str | None


def alert_step_from_json(raw: dict[str, Any]) -> AlertStep:
    at = parse_ts(raw["at"])
    assert at is not None
    return AlertStep(at, str(raw["kind"]), str(raw["actor"]), raw.get("severity"), raw.get("comment"))
