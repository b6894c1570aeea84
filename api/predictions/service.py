"""Machine health for the API (the scoring job's latest prediction, or its history) and scoring of
sent windows."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from sqlalchemy.orm import Session

from api.errors import ApiError, invalid, not_found
from api.machines.service import find_machine
from api.pagination import Page, TimeRange, decode_id_cursor, decode_time_id_cursor, encode_cursor, page_size
from api.predictions.schemas import (
    MachineHealthOut,
    PredictRulIn,
    PredictRulOut,
    RulModelOut,
    RulPredictionOut,
    SensorDriver,
)
from db.repositories import assets as assets_repo
from db.repositories import predictions as predictions_repo
from db.tables import Machine, Prediction
from models.prediction import InvalidWindowError
from plantwatch.settings import Settings
from services import alert_rules
from services.predictors import ModelUnavailableError, champion_rul, rul_version

DEFAULT_TYPE = "default"
NOT_SCORED = "not scored yet: the score_machines job scores every machine every few minutes"


class _MachineLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def machine_type(self) -> str | None: ...
    @property
    def line_id(self) -> int: ...


class _Rating:
    """Rates predictions by the prediction rules in effect for each machine (overrides read once)."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.rules = alert_rules.prediction_rule_index(session)
        self.settings = settings

    def __call__(self, machine: _MachineLike, row: Any | None) -> str | None:
        if row is None or row.status in ("pending", "withheld"):
            return None
        return alert_rules.prediction_severity(
            self.rules, machine.id, machine.line_id, row.rul, row.failure_probability, self.settings
        )


def _health(machine: _MachineLike, row: Any | None, severity: str | None) -> dict[str, Any]:
    """The fields of MachineHealthOut from a machine and its prediction (a Prediction, or a row of
    predictions_repo.HEALTH_COLUMNS), left for pydantic to validate."""
    if row is None:
        return {
            "machine_id": machine.id, "machine": machine.path, "machine_type": machine.machine_type,
            "status": "pending", "severity": None, "made_at": None, "rul": None, "rul_low": None,
            "rul_high": None, "interval_coverage": None, "failure_probability": None, "horizon": None,
            "health_score": None, "reasons": [NOT_SCORED], "top_sensors": [], "health_sensors": [],
            "rul_model": None, "health_model": None,
        }  # fmt: skip
    detail: dict[str, Any] = row.detail or {}
    return {
        "machine_id": machine.id, "machine": machine.path, "machine_type": machine.machine_type,
        "status": row.status, "severity": severity, "made_at": row.made_at, "rul": row.rul,
        "rul_low": row.rul_low, "rul_high": row.rul_high, "interval_coverage": detail.get("coverage"),
        "failure_probability": row.failure_probability, "horizon": detail.get("horizon"),
        "health_score": row.health_score, "reasons": detail.get("reasons", []),
        "top_sensors": detail.get("top_sensors", []), "health_sensors": detail.get("health_sensors", []),
        "rul_model": detail.get("rul_model"), "health_model": detail.get("health_model"),
    }  # fmt: skip


def _health_out(machine: Machine, row: Prediction | None, rating: _Rating) -> MachineHealthOut:
    return MachineHealthOut.model_validate(_health(machine, row, rating(machine, row)))


def machine_health(session: Session, settings: Settings, ref: str) -> MachineHealthOut:
    machine = find_machine(session, ref)
    latest = predictions_repo.latest_for_machines(session, [machine.id])
    return _health_out(machine, latest.get(machine.id), _Rating(session, settings))


def machine_history(
    session: Session, settings: Settings, ref: str, period: TimeRange, cursor: str | None, limit: int | None,
    max_page: int,
) -> Page[MachineHealthOut]:  # fmt: skip
    """The machine's predictions over time, newest first (what GET …/health said at each run)."""
    machine = find_machine(session, ref)
    size = page_size(limit, max_page, "predictions")
    rows = predictions_repo.history(
        session,
        machine.id,
        since=period.since,
        until=period.until,
        before=decode_time_id_cursor(cursor),
        limit=size + 1,
    )
    page = rows[:size]
    last = page[-1] if len(rows) > size else None
    rating = _Rating(session, settings)
    return Page[MachineHealthOut](
        items=[_health_out(machine, row, rating) for row in page],
        next_cursor=encode_cursor(last.made_at.isoformat(), last.id) if last is not None else None,
    )


def fleet_health(
    session: Session,
    settings: Settings,
    *,
    site: str | None,
    line: str | None,
    predicted: TimeRange,
    cursor: str | None,
    limit: int | None,
    max_page: int,
) -> Page[MachineHealthOut]:
    limit = page_size(limit, max_page, "machines")
    machines = assets_repo.machine_refs(
        session, site=site, line=line, after_id=decode_id_cursor(cursor), limit=limit + 1,
        predicted=(predicted.since, predicted.until),
    )  # fmt: skip
    page = machines[:limit]
    latest = predictions_repo.latest_health(session, [m.id for m in page])
    rate = _Rating(session, settings)
    # One validation (in Rust) of the whole page: far cheaper than a model per machine.
    return Page[MachineHealthOut].model_validate(
        {
            "items": [_health(m, latest.get(m.id), rate(m, latest.get(m.id))) for m in page],
            "next_cursor": encode_cursor(page[-1].id) if len(machines) > limit else None,
        }
    )


def predict_rul(session: Session, body: PredictRulIn) -> PredictRulOut:
    try:
        if body.model_id is not None:
            found = rul_version(session, body.model_id)
            if found is None:
                raise not_found(f"no RUL model version {body.model_id} (see GET /api/v1/models?kind=rul)")
        else:
            machine_type = body.machine_type or DEFAULT_TYPE
            found = champion_rul(session, machine_type, to_serve=True)
            if found is None:
                raise not_found(
                    f"no RUL model for machine type {machine_type!r} yet; one is trained once machines of "
                    "that type have enough recorded failures (see GET /api/v1/models)"
                )
    except ModelUnavailableError as exc:
        raise ApiError(503, str(exc)) from exc
    row, predictor = found
    windows = _windows_in_model_order(body, predictor.sensor_names)
    try:
        if body.explain:
            scored, drivers = predictor.predict_explained(windows)
        else:
            scored, drivers = predictor.predict(windows), None
    except InvalidWindowError as exc:
        raise invalid(f"body.windows: {exc}") from exc
    return PredictRulOut(
        model=RulModelOut(
            id=row.id,
            version=row.version,
            machine_type=row.scope,
            status=row.status,
            window=predictor.window,
            sensors=predictor.sensor_names,
            interval_coverage=predictor.meta.config.coverage,
            horizon=predictor.meta.config.horizon,
            cap=predictor.meta.config.cap,
        ),
        predictions=[
            RulPredictionOut(
                rul=float(scored.rul[i]),
                rul_low=float(scored.low[i]),
                rul_high=float(scored.high[i]),
                failure_probability=float(scored.failure_probability[i]),
                top_sensors=[SensorDriver(sensor=c.sensor, score=c.score) for c in drivers[i]]
                if drivers is not None
                else None,
            )
            for i in range(len(scored))
        ],
    )


def _windows_in_model_order(body: PredictRulIn, model_sensors: list[str]) -> np.ndarray[Any, Any]:
    """The windows as a float array [n, steps, model sensors]; null → NaN, absent sensors → NaN."""
    widths = {len(step) for window in body.windows for step in window}
    steps = {len(window) for window in body.windows}
    if len(steps) != 1:
        raise invalid(f"body.windows: all windows need the same number of time steps, got {sorted(steps)}")
    names = body.sensors if body.sensors is not None else model_sensors
    if widths != {len(names)}:
        raise invalid(
            f"body.windows: every time step needs {len(names)} values "
            f"({'the sensors named in body.sensors' if body.sensors else 'the model sensors, in order'}: "
            f"{', '.join(names)}), got {sorted(widths)}"
        )
    if len(set(names)) != len(names):
        raise invalid("body.sensors: names must be unique")
    unknown = [name for name in names if name not in model_sensors]
    if unknown:
        raise invalid(
            f"body.sensors: the model does not know {', '.join(unknown)}; "
            f"its sensors are {', '.join(model_sensors)}"
        )
    sent = np.array(
        [[[np.nan if v is None else v for v in step] for step in window] for window in body.windows],
        dtype=np.float64,
    )
    out = np.full((*sent.shape[:2], len(model_sensors)), np.nan)
    for j, name in enumerate(names):
        out[:, :, model_sensors.index(name)] = sent[:, :, j]
    return out
