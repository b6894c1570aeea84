"""The models that score machines now: each machine type's champion RUL model and health baseline.

Shared by the scoring job and the API's `POST /predict/rul`. A champion's ONNX model is loaded once
per process (hashes verified against the registry on load) and kept while it stays champion. Health
baselines are small JSON kept in the registry itself (kind `health`, parameters hold the baseline);
each new one becomes champion at once, since there is no labelled metric to compare them on.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from db.repositories import models as repo
from db.tables import ModelVersion
from models.artifacts import ArtifactIntegrityError
from models.health import HealthBaseline
from models.serving import RulPredictor
from services import model_registry

RUL = "rul"
HEALTH = "health"

_lock = threading.Lock()
# "scope#id" -> (version id, "path@sha256", predictor)
_loaded: dict[str, tuple[int, str, RulPredictor]] = {}


class ModelUnavailableError(RuntimeError):
    """A champion exists but cannot be used (artifacts missing or altered); the message says why."""


def champion_rul(session: Session, scope: str) -> tuple[ModelVersion, RulPredictor] | None:
    """The champion RUL model of `scope` ready to score, or None when the scope has none."""
    row = repo.champion(session, RUL, scope)
    if row is None:
        return None
    return row, _predictor(row)


def rul_version(session: Session, version_id: int) -> tuple[ModelVersion, RulPredictor] | None:
    """Any registered RUL version by id (not only the champion), or None when there is no such one."""
    row = repo.get_version(session, version_id)
    if row is None or row.kind != RUL:
        return None
    return row, _predictor(row)


def _predictor(row: ModelVersion) -> RulPredictor:
    key = f"{row.scope}#{row.id}"
    with _lock:
        cached = _loaded.get(key)
        if cached is not None and cached[1] == f"{row.artifact_path}@{row.artifact_sha256}":
            return cached[2]
        if row.artifact_path is None:
            raise ModelUnavailableError(f"RUL model {row.scope} v{row.version} has no artifacts")
        try:
            predictor = RulPredictor.load(Path(row.artifact_path), row.artifact_sha256)
        except (ArtifactIntegrityError, OSError, ValueError) as exc:
            raise ModelUnavailableError(
                f"RUL model {row.scope} v{row.version} cannot be loaded from {row.artifact_path}: {exc}"
            ) from exc
        # Keep only what is champion now or was asked for by id; old versions are dropped.
        for stale in [k for k in _loaded if k.startswith(f"{row.scope}#")]:
            del _loaded[stale]
        _loaded[key] = (row.id, f"{row.artifact_path}@{row.artifact_sha256}", predictor)
        return predictor


def champion_health(session: Session, scope: str) -> tuple[ModelVersion, HealthBaseline] | None:
    row = repo.champion(session, HEALTH, scope)
    if row is None:
        return None
    try:
        return row, HealthBaseline.from_dict(row.params["baseline"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelUnavailableError(f"health baseline {scope} v{row.version} is unreadable: {exc}") from exc


def register_health_baseline(
    session: Session,
    scope: str,
    baseline: HealthBaseline,
    *,
    data_start: datetime | None,
    data_end: datetime | None,
    duration_s: float | None = None,
) -> ModelVersion:
    """Register `baseline` as the new champion health baseline of `scope`."""
    row = model_registry.register_version(
        session,
        kind=HEALTH,
        scope=scope,
        metrics={"healthy_windows": baseline.healthy_windows, "distance_q99": baseline.distance_q99},
        params={"baseline": baseline.to_dict(), "sensors": baseline.kept_names},
        data_start=data_start,
        data_end=data_end,
        artifact_path=None,
        artifact_sha256=None,
        duration_s=duration_s,
        device="cpu",
    )
    return model_registry.promote(session, row.id)
