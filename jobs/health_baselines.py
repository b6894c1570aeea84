"""Keeping each machine type's health baseline (normal operation) fresh for the scoring job.

The champion baseline is used while it is younger than `health_refit_hours`; then it is refitted
from the type's readings in PostgreSQL (the first part of every run counts as healthy) and registered.
When a type has too little data, the reason is remembered for a while so that the scoring job does not
read the whole history again every few minutes.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from db.tables import ModelVersion
from jobs.training_data import load_scope
from models.config import InsufficientDataError
from models.health import HealthBaseline
from plantwatch.settings import Settings
from services.predictors import ModelUnavailableError, champion_health, register_health_baseline

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=30)
_failed: dict[str, tuple[datetime, str]] = {}  # scope -> (when a fit last failed, why)


def current_baseline(
    session: Session, settings: Settings, scope: str, now: datetime
) -> tuple[tuple[ModelVersion, HealthBaseline] | None, str | None]:
    """(champion row and baseline, None), or (None, why there is no health index for `scope`)."""
    found: tuple[ModelVersion, HealthBaseline] | None = None
    try:
        found = champion_health(session, scope)
    except ModelUnavailableError as exc:
        log.error("%s: refitting", exc)
    if found is not None and now - found[0].created_at < timedelta(hours=settings.health_refit_hours):
        return found, None
    failed = _failed.get(scope)
    if failed is not None and now - failed[0] < RETRY_AFTER:
        return found, None if found else failed[1]
    try:
        return (fit_baseline(session, settings, scope), None)
    except InsufficientDataError as exc:
        reason = f"no health index yet: {exc}"
        _failed[scope] = (now, reason)
        log.info("health baseline of %r not fitted: %s", scope, exc)
        return found, None if found else reason


def fit_baseline(session: Session, settings: Settings, scope: str) -> tuple[ModelVersion, HealthBaseline]:
    """Fit `scope`'s baseline from its readings and register it as champion."""
    started = time.perf_counter()
    data = load_scope(session, scope, settings.rul_resample_s)
    dataset = data.dataset
    baseline = HealthBaseline.fit(
        dataset.values,
        dataset.runs,
        dataset.sensor_names,
        settings.rul_window,
        settings.health_healthy_fraction,
    )
    row = register_health_baseline(
        session,
        scope,
        baseline,
        data_start=data.data_start,
        data_end=data.data_end,
        duration_s=round(time.perf_counter() - started, 3),
    )
    _failed.pop(scope, None)
    log.info(
        "health baseline %s v%d fitted on %d healthy windows (%d sensors)",
        scope, row.version, baseline.healthy_windows, len(baseline.kept),
    )  # fmt: skip
    return row, baseline
