"""The models in service now: each machine type's champion RUL model and health baseline, and each
line's champion inspection-image classifier.

Shared by the scoring job, the classifier, training (to score the champion) and the API. A
champion's ONNX model is loaded once per process (hashes verified against the registry on load) and
kept while it stays champion. Health baselines are small JSON kept in the registry itself (kind
`health`, parameters hold the baseline); each new one becomes champion at once, since there is no
labelled metric to compare them on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

from db.repositories import models as repo
from db.tables import ModelVersion
from models.artifacts import ArtifactIntegrityError
from models.health import HealthBaseline
from models.qc_serving import QcClassifier
from models.serving import RulPredictor
from services import model_registry

RUL = "rul"
QC = "qc"
HEALTH = "health"
T = TypeVar("T")

_lock = threading.Lock()
# "kind/scope#id" -> ("path@sha256", loaded model)
_loaded: dict[str, tuple[str, Any]] = {}


class ModelUnavailableError(RuntimeError):
    """A champion exists but cannot be used (artifacts missing or altered); the message says why."""


def champion_rul(
    session: Session, scope: str, *, to_serve: bool = False
) -> tuple[ModelVersion, RulPredictor] | None:
    """The champion RUL model of `scope` ready to score, or None when the scope has none; `to_serve`:
    its row without metrics and params (read when asked for, in the session), for a request that scores."""
    row = repo.champion(session, RUL, scope, to_serve=to_serve)
    if row is None:
        return None
    return row, _cached(row, RulPredictor.load)


def champion_qc(session: Session, scope: str) -> tuple[ModelVersion, QcClassifier] | None:
    """The champion classifier of the line `scope` (`site/line`), or None when it has none."""
    row = repo.champion(session, QC, scope)
    if row is None:
        return None
    return row, _cached(row, QcClassifier.load)


def rul_version(session: Session, version_id: int) -> tuple[ModelVersion, RulPredictor] | None:
    """Any registered RUL version by id (not only the champion), or None when there is no such one."""
    row = repo.get_version(session, version_id)
    if row is None or row.kind != RUL:
        return None
    return row, _cached(row, RulPredictor.load)


def _cached(row: ModelVersion, load: Callable[[Path, str | None], T]) -> T:
    """`load(directory, sidecar_sha256)` of the version's artifacts, once per process and version."""
    key = f"{row.kind}/{row.scope}#{row.id}"
    files = f"{row.artifact_path}@{row.artifact_sha256}"
    with _lock:
        cached = _loaded.get(key)
        if cached is not None and cached[0] == files:
            return cast(T, cached[1])
        name = f"{row.kind.upper()} model {row.scope} v{row.version}"
        if row.artifact_path is None:
            raise ModelUnavailableError(f"{name} has no artifacts")
        try:
            model = load(Path(row.artifact_path), row.artifact_sha256)
        except (ArtifactIntegrityError, OSError, ValueError) as exc:
            raise ModelUnavailableError(f"{name} cannot be loaded from {row.artifact_path}: {exc}") from exc
        # Keep one version per kind and scope: the one asked for last (normally the champion).
        for stale in [k for k in _loaded if k.startswith(f"{row.kind}/{row.scope}#")]:
            del _loaded[stale]
        _loaded[key] = (files, model)
        return model


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
