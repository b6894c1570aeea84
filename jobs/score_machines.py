"""The `score_machines` job: a prediction for every active machine, from its type's champion models.

Per machine type (scope), the champion RUL model (ONNX Runtime) gives RUL, its interval, the
failure probability within the horizon and the sensors that drove it; the health baseline (normal
operation, refitted daily) gives a health score even where no RUL model exists yet. Each machine gets
one `predictions` row: `ok` (RUL from a complete window), `degraded` (gaps filled, a sensor with an
active stuck or out-of-range alert, or a health score only, with the reason RUL is missing) or
`withheld` (no fresh data, nothing to score it with).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from db.repositories import alerts as alerts_repo
from db.repositories import assets as assets_repo
from db.repositories import predictions as predictions_repo
from db.tables import ModelVersion, Prediction
from jobs.health_baselines import current_baseline
from jobs.machine_windows import MachineWindow, recent_windows
from jobs.silent import human_duration
from jobs.training_data import failure_count, scope_of
from models.run_features import uses_run_features
from models.serving import RulPredictor
from models.windows import Runs, last_windows
from plantwatch.settings import Settings
from services.alert_rules import SENSOR_HEALTH_RULES
from services.predictors import ModelUnavailableError, champion_rul

log = logging.getLogger(__name__)

TOP_SENSORS = 3


def score_machines(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    machines = assets_repo.active_machine_types(session)
    positions = assets_repo.sensor_positions_of(session, [machine_id for machine_id, _, _ in machines])
    scopes: dict[str, dict[int, dict[str, int]]] = defaultdict(dict)
    for machine_id, _, machine_type in machines:
        scopes[scope_of(machine_type)][machine_id] = positions[machine_id]
    rows: list[Prediction] = []
    for scope, members in scopes.items():
        rows += score_scope(session, settings, now, scope, members)
    _mark_unhealthy_sensors(session, rows)
    predictions_repo.add_predictions(session, rows)
    counts = Counter(row.status for row in rows)
    return {
        "machines": len(rows),
        "scopes": len(scopes),
        **{status: counts.get(status, 0) for status in ("ok", "degraded", "withheld")},
    }


def _mark_unhealthy_sensors(session: Session, rows: list[Prediction]) -> None:
    """Degrade the `ok` predictions of machines with an active sensor-health alert, saying which sensors.

    The data-quality gate: the prediction rests on a sensor that is stuck or out of range, so it is
    shown as doubtful, and the alert engine opens no prediction alert on it (jobs/evaluate_alerts.py).
    """
    unhealthy = alerts_repo.active_sensor_health(session, SENSOR_HEALTH_RULES)
    for row in rows:
        found = unhealthy.get(row.machine_id)
        if not found:
            continue
        reason = "doubtful: " + "; ".join(
            f"{rule.replace('_', ' ')}: {', '.join(names)}" for rule, names in found
        )
        row.detail = {**row.detail, "reasons": [*row.detail.get("reasons", []), reason]}
        if row.status == "ok":
            row.status = "degraded"


def _rul_unavailable(session: Session, settings: Settings, scope: str) -> str:
    failures = failure_count(session, scope)
    if failures < settings.rul_min_failed_runs:
        return (
            f"RUL is learned once machines of type {scope!r} have {settings.rul_min_failed_runs} recorded "
            f"failures; {failures} so far (record them with POST /api/v1/events or "
            "`plantwatch import events`)"
        )
    return (
        f"no RUL model for type {scope!r} yet ({failures} failures recorded): the nightly train_rul job "
        "or `plantwatch train rul` trains one"
    )


def score_scope(
    session: Session, settings: Settings, now: datetime, scope: str, positions: dict[int, dict[str, int]]
) -> list[Prediction]:
    rul_reason: str | None = None
    rul: tuple[ModelVersion, RulPredictor] | None = None
    try:
        rul = champion_rul(session, scope)
    except ModelUnavailableError as exc:
        log.error("scoring %s without RUL: %s", scope, exc)
        rul_reason = str(exc)
    if rul is None and rul_reason is None:
        rul_reason = _rul_unavailable(session, settings, scope)
    health, health_reason = current_baseline(session, settings, scope, now)

    names = sorted({*(rul[1].sensor_names if rul else ()), *(health[1].sensor_names if health else ())})
    window = max(rul[1].window if rul else 1, health[1].window if health else 1)
    resample_s = int(rul[0].params.get("resample_s", 0)) if rul else settings.rul_resample_s
    windows = recent_windows(session, positions, names, window, resample_s, now)

    results: dict[int, dict[str, Any]] = {}
    for machine_id, recent in windows.items():
        result: dict[str, Any] = {"reasons": [], "scope": scope}
        stale = _staleness(recent, settings, now)
        if stale is not None:
            result["reasons"].append(stale)
        results[machine_id] = result
    fresh = {m: w for m, w in windows.items() if not results[m]["reasons"]}
    if rul is not None:
        _add_rul(rul, names, fresh, results)
    elif fresh:
        for machine_id in fresh:
            results[machine_id]["reasons"].append(rul_reason)
    if health is not None:
        _add_health(health, names, fresh, results)
    elif fresh and health_reason:
        for machine_id in fresh:
            results[machine_id]["reasons"].append(health_reason)
    return [_prediction(machine_id, result, rul, health, now) for machine_id, result in results.items()]


def _staleness(recent: MachineWindow, settings: Settings, now: datetime) -> str | None:
    if recent.last_reading is None:
        return "no readings yet"
    age = (now - recent.last_reading).total_seconds()
    if age > settings.score_stale_after_s:
        return (
            f"the newest reading is {human_duration(age)} old (predictions need one newer than "
            f"{human_duration(settings.score_stale_after_s)})"
        )
    return None


def _columns(names: list[str], wanted: list[str]) -> list[int]:
    return [names.index(name) for name in wanted]


def _add_rul(
    rul: tuple[ModelVersion, RulPredictor],
    names: list[str],
    fresh: dict[int, MachineWindow],
    results: dict[int, dict[str, Any]],
) -> None:
    predictor = rul[1]
    if uses_run_features(predictor.meta.config):
        for machine_id in fresh:
            results[machine_id]["reasons"].append(
                f"no RUL: model v{rul[0].version} takes each run's age and sensor drift as inputs, "
                "which scoring does not compute yet"
            )
        return
    kept = predictor.meta.scaler.kept_names
    columns = _columns(names, predictor.sensor_names)
    needed = predictor.meta.config.min_history or predictor.window
    ready: list[int] = []
    for machine_id, recent in fresh.items():
        reasons = results[machine_id]["reasons"]
        missing = [name for name in kept if name in recent.missing_sensors]
        steps = len(recent.values)
        x = recent.values[-predictor.window :][:, columns]
        kept_x = x[:, predictor.meta.scaler.kept]
        if missing:
            reasons.append(f"no RUL: the machine lacks sensor(s) {', '.join(missing)} the model needs")
        elif steps < predictor.window and not recent.whole_history:
            reasons.append(f"no RUL: readings in {steps} of the last {predictor.window} cycles only")
        elif steps < needed:
            reasons.append(f"no RUL: {steps} of the {needed} cycles the model needs so far")
        elif empty := [kept[j] for j in np.flatnonzero(np.isnan(kept_x).all(axis=0))]:
            reasons.append(f"no RUL: no value of {', '.join(empty)} in the last {len(x)} cycles")
        else:
            partial = results[machine_id]["partial"] = []
            if gaps := [kept[j] for j in np.flatnonzero(np.isnan(kept_x).any(axis=0))]:
                partial.append(f"gaps in {', '.join(gaps)} filled from neighbouring cycles")
            if len(x) < predictor.window:  # padded as the model learned (RulConfig.min_history)
                partial.append(f"{len(x)} of the {predictor.window} cycles of a window so far, "
                               "padded with the first")  # fmt: skip
                x = last_windows(x, Runs.of([len(x)]), predictor.window)[0]
            results[machine_id]["x"] = x
            ready.append(machine_id)
    if not ready:
        return
    batch = np.stack([results[m].pop("x") for m in ready])
    scored, drivers = predictor.predict_explained(batch, TOP_SENSORS)
    for i, machine_id in enumerate(ready):
        results[machine_id].update(
            rul=float(scored.rul[i]),
            rul_low=float(scored.low[i]),
            rul_high=float(scored.high[i]),
            failure_probability=float(scored.failure_probability[i]),
            top_sensors=[{"sensor": c.sensor, "score": c.score} for c in drivers[i]],
        )


def _add_health(
    health: tuple[ModelVersion, Any],
    names: list[str],
    fresh: dict[int, MachineWindow],
    results: dict[int, dict[str, Any]],
) -> None:
    _, baseline = health
    columns = _columns(names, baseline.sensor_names)
    usable = {m: w.values[-baseline.window :][:, columns] for m, w in fresh.items() if len(w.values)}
    usable = {m: x for m, x in usable.items() if not np.isnan(x[:, baseline.kept]).all()}
    if not usable:
        return
    # Windows of different lengths (a machine that just started) are scored one by one.
    for machine_id, x in usable.items():
        scored = baseline.score(x[None], TOP_SENSORS)
        results[machine_id]["health_score"] = round(float(scored.score[0]), 2)
        results[machine_id]["health_sensors"] = [
            {"sensor": c.sensor, "z": c.score} for c in scored.top_sensors[0]
        ]


def _prediction(
    machine_id: int,
    result: dict[str, Any],
    rul: tuple[ModelVersion, RulPredictor] | None,
    health: tuple[ModelVersion, Any] | None,
    now: datetime,
) -> Prediction:
    has_rul = "rul" in result
    health_score = result.get("health_score")
    if health_score is None and has_rul and rul is not None:
        health_score = round(100.0 * min(result["rul"], rul[1].meta.config.cap) / rul[1].meta.config.cap, 2)
    reasons = result["reasons"] + result.get("partial", [])
    if has_rul:
        status = "degraded" if result.get("partial") else "ok"
    else:
        status = "degraded" if health_score is not None else "withheld"
    detail: dict[str, Any] = {"scope": result["scope"], "reasons": reasons}
    if has_rul and rul is not None:
        detail["top_sensors"] = result["top_sensors"]
        detail["rul_model"] = {"id": rul[0].id, "version": rul[0].version}
        detail["horizon"] = rul[1].meta.config.horizon
        detail["coverage"] = rul[1].meta.config.coverage
    if "health_sensors" in result and health is not None:
        detail["health_sensors"] = result["health_sensors"]
        detail["health_model"] = {"id": health[0].id, "version": health[0].version}
    return Prediction(
        machine_id=machine_id,
        model_version_id=rul[0].id if has_rul and rul is not None else None,
        made_at=now,
        status=status,
        rul=result.get("rul"),
        rul_low=result.get("rul_low"),
        rul_high=result.get("rul_high"),
        failure_probability=result.get("failure_probability"),
        health_score=health_score,
        detail=detail,
    )
