"""The `train_rul` job: train one RUL model per machine type, register it and apply the promotion rule.

Artifacts go under `{var_dir}/models/rul/{scope}/v{N}/`. Without a scope every machine type with a
recorded failure is trained; a type with too little labelled data is reported and skipped, and the job
fails (with the reasons) only when no type could be trained.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.orm import Session

from jobs.model_versions import code_version, reserve_version_dir, train_each
from jobs.training_data import load_scope, scopes_with_failures
from models.comparison import evaluation_windows, rmse_on
from models.config import ArchitectureConfig, InsufficientDataError, RulConfig, RulDataset
from models.prediction import InvalidWindowError
from models.run_features import uses_run_features
from plantwatch.settings import Settings
from services import model_registry
from services.model_registry import SameSetComparison
from services.predictors import ModelUnavailableError, champion_rul

if TYPE_CHECKING:
    from models.fitting import TrainingProgress
    from models.training import TrainedRul

log = logging.getLogger(__name__)

KIND = "rul"


def rul_config(settings: Settings) -> RulConfig:
    """A small, CPU-friendly LSTM by default; every knob that matters comes from settings."""
    return RulConfig(
        window=settings.rul_window,
        cap=settings.rul_cap,
        min_history=settings.rul_min_history,
        horizon=settings.rul_horizon,
        epochs=settings.rul_epochs,
        min_failed_runs=settings.rul_min_failed_runs,
        architecture=ArchitectureConfig(
            kind="lstm", lstm_units=(settings.rul_lstm_units,), dense_units=16, dropout=0.1
        ),
    )


def train_rul_job(
    session: Session,
    settings: Settings,
    now: datetime,
    scope: str | None = None,
    progress: Callable[[str, TrainingProgress], None] | None = None,
    scopes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train `scope`, or `scopes`, or every type with failures; `progress(scope, p)` after each epoch."""
    if scope is not None:
        scopes = [scope]
    elif scopes is None:
        scopes = scopes_with_failures(session)
    if not scopes:
        raise InsufficientDataError("no machine has a recorded failure: nothing to learn RUL from")
    return train_each(
        scopes,
        lambda name: train_scope(session, settings, name, progress),
        explicit=scope is not None,
        what="RUL",
    )


def train_scope(
    session: Session,
    settings: Settings,
    scope: str,
    progress: Callable[[str, TrainingProgress], None] | None = None,
) -> dict[str, Any]:
    """Train, save, register and maybe promote one scope's model; returns what happened."""
    # Keras loads here, not when the scheduler imports the job registry.
    from models.artifacts import save_rul_artifacts
    from models.training import train_rul

    started = time.perf_counter()
    data = load_scope(session, scope, settings.rul_resample_s)
    config = rul_config(settings)
    # `progress` comes from the CLI; a job request's JSON params can never make it a callable.
    hook = (lambda p: progress(scope, p)) if callable(progress) else None
    trained = train_rul(data.dataset, config, progress=hook)
    version, directory = reserve_version_dir(session, settings, KIND, scope)
    sidecar_sha = save_rul_artifacts(trained, directory, extra={"scope": scope, "version": version})
    row = model_registry.register_version(
        session,
        kind=KIND,
        scope=scope,
        version=version,
        metrics={**trained.metrics, "epochs_run": trained.epochs_run, "history": trained.history},
        params={
            "config": config.to_dict(),
            "resample_s": settings.rul_resample_s,
            "machines": data.machine_count,
            "runs": len(data.dataset.runs.lengths),
            "failed_runs": int(data.dataset.runs.failed.sum()),
            "sensors": trained.scaler.kept_names,
            "dropped_sensors": trained.scaler.dropped,
            "train_seconds": trained.train_seconds,
            "interval_level": trained.conformal.level,  # the quantile level of the interval's offsets
        },
        data_start=data.data_start,
        data_end=data.data_end,
        artifact_path=str(directory),
        artifact_sha256=sidecar_sha,
        evaluation_machines=trained.split.validation,
        code_version=code_version(),
        duration_s=round(time.perf_counter() - started, 3),
        device=trained.device,
    )
    comparison = (
        compare_with_champion(session, scope, data.dataset, trained)
        if settings.rul_promotion_metric == "rmse"
        else None
    )
    promoted, reason = model_registry.promote_if_better(
        session, row, settings.rul_promotion_metric, settings.rul_promotion_margin, comparison
    )
    log.info("RUL %s v%d registered (id %d): %s", scope, version, row.id, reason)
    return {
        "id": row.id,
        "version": version,
        "status": row.status,
        "promoted": promoted,
        "reason": reason,
        settings.rul_promotion_metric: row.metrics.get(settings.rul_promotion_metric),  # NaN-free
    }


def compare_with_champion(
    session: Session, scope: str, dataset: RulDataset, trained: TrainedRul
) -> SameSetComparison | None:
    """RMSE of the candidate and of the current champion on the candidate's evaluation machines.

    None when there is no champion, or it cannot be scored on them (artifacts unavailable, a sensor
    it needs is missing): the registry then falls back to the metrics recorded at training.
    """
    found = None
    try:
        found = champion_rul(session, scope)
    except ModelUnavailableError as exc:
        log.warning("champion of %r not compared on the same machines: %s", scope, exc)
    if found is None:
        return None
    row, champion = found
    config = trained.config
    if uses_run_features(config) or uses_run_features(champion.meta.config):
        log.warning("champion v%d of %r not compared on the same machines: run age and drift inputs "
                    "are not built for the comparison", row.version, scope)  # fmt: skip
        return None
    x, truth = evaluation_windows(dataset, trained.split.validation, config.window, config.cap)
    if len(x) == 0:  # cross-fitted models hold no machine out
        return None
    try:
        columns = [dataset.sensor_names.index(name) if name in dataset.sensor_names else -1
                   for name in champion.sensor_names]  # fmt: skip
        champion_x = np.where(np.asarray(columns) >= 0, x[:, :, np.maximum(columns, 0)], np.nan)
        if champion.window != trained.config.window:
            raise InvalidWindowError(
                f"its window is {champion.window} cycles, the candidate's {config.window}"
            )
        return SameSetComparison(
            champion_id=row.id,
            candidate=rmse_on(lambda w: trained.predict(w).rul, x, truth),
            champion=rmse_on(lambda w: champion.predict(w).rul, champion_x, truth),
            size=len(x),
        )
    except InvalidWindowError as exc:
        log.warning(
            "champion v%d of %r cannot score the candidate's evaluation set: %s", row.version, scope, exc
        )
        return None
