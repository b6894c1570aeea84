"""The `train_qc` job: train one inspection-image classifier per line, register it, maybe promote it.

The same registry, artifact hashing, ONNX export and promotion rule as RUL models: the candidate
replaces the champion only when its error rate on the held-out images beats the champion's on the
very same images (the champion is scored on them with ONNX Runtime at training time). Artifacts go
under `{var_dir}/models/qc/{site_line}/v{N}/`. Without a scope every line with labelled images is
trained; a line with too little data is reported and skipped.
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
from jobs.training_images import LabelledImages, load_labelled, scopes_with_labels
from models.config import InsufficientDataError
from plantwatch.settings import Settings
from services import model_registry
from services.model_registry import SameSetComparison
from services.predictors import ModelUnavailableError, champion_qc

if TYPE_CHECKING:
    from models.fitting import TrainingProgress
    from models.qc import QcConfig
    from models.qc_training import TrainedQc

log = logging.getLogger(__name__)

KIND = "qc"
METRIC = "error_rate"


def qc_config(settings: Settings) -> QcConfig:
    from models.qc import QcConfig

    return QcConfig(
        image_size=settings.qc_image_size,
        epochs=settings.qc_epochs,
        review_threshold=settings.qc_review_threshold,
        min_images_per_class=settings.qc_min_images_per_class,
    )


def train_qc_job(
    session: Session,
    settings: Settings,
    now: datetime,
    scope: str | None = None,
    progress: Callable[[str, TrainingProgress], None] | None = None,
    scopes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train `scope` (a line, `site/line`), or `scopes`, or every line with labelled images."""
    if scope is not None:
        scopes = [scope]
    elif scopes is None:
        scopes = scopes_with_labels(session)
    if not scopes:
        raise InsufficientDataError(
            "no inspection has a known label: import labelled images (plantwatch import-images) or label some"
        )
    return train_each(
        scopes,
        lambda name: train_line(session, settings, name, progress),
        explicit=scope is not None,
        what="QC",
    )


def train_line(
    session: Session,
    settings: Settings,
    scope: str,
    progress: Callable[[str, TrainingProgress], None] | None = None,
) -> dict[str, Any]:
    from models.qc_artifacts import save_qc_artifacts
    from models.qc_training import train_qc

    started = time.perf_counter()
    config = qc_config(settings)
    data = load_labelled(
        session, scope, settings.images_directory, config.image_size, settings.qc_evaluation_fraction
    )
    hook = (lambda p: progress(scope, p)) if callable(progress) else None
    trained = train_qc(data.images, data.labels, config, evaluation=data.evaluation, progress=hook)
    metrics = {**trained.metrics, METRIC: 1.0 - float(trained.metrics["accuracy"])}
    version, directory = reserve_version_dir(session, settings, KIND, scope)
    sidecar_sha = save_qc_artifacts(trained, directory, extra={"scope": scope, "version": version})
    row = model_registry.register_version(
        session,
        kind=KIND,
        scope=scope,
        version=version,
        metrics={**metrics, "epochs_run": trained.epochs_run, "history": trained.history},
        params={
            "config": config.to_dict(),
            "classes": trained.classes,
            "images": len(data.ids),
            "skipped_images": data.skipped,
            "counts": trained.counts,
            "train_seconds": trained.train_seconds,
        },
        data_start=data.data_start,
        data_end=data.data_end,
        artifact_path=str(directory),
        artifact_sha256=sidecar_sha,
        evaluation_machines=[str(i) for i in data.ids[data.evaluation]],
        code_version=code_version(),
        duration_s=round(time.perf_counter() - started, 3),
        device=trained.device,
    )
    comparison = compare_with_champion(session, scope, data, trained)
    promoted, reason = model_registry.promote_if_better(
        session, row, METRIC, settings.qc_promotion_margin, comparison
    )
    log.info("QC %s v%d registered (id %d): %s", scope, version, row.id, reason)
    return {
        "id": row.id,
        "version": version,
        "status": row.status,
        "promoted": promoted,
        "reason": reason,
        "accuracy": metrics.get("accuracy"),
        METRIC: metrics[METRIC],
    }


def compare_with_champion(
    session: Session, scope: str, data: LabelledImages, trained: TrainedQc
) -> SameSetComparison | None:
    """Error rates of the candidate and the current champion on the candidate's held-out images."""
    found = None
    try:
        found = champion_qc(session, scope)
    except ModelUnavailableError as exc:
        log.warning("QC champion of %r not compared on the same images: %s", scope, exc)
    held = data.evaluation
    if found is None or not held.any():
        return None
    row, champion = found
    truth = np.asarray(data.labels, dtype=object)[held]
    if champion.image_size != trained.config.image_size:
        log.warning("QC champion v%d of %r reads other image sizes: not compared", row.version, scope)
        return None
    theirs = np.asarray(champion.classify(data.images[held]).labels, dtype=object)
    ours = np.asarray(trained.classes, dtype=object)[trained.predict_proba(data.images[held]).argmax(axis=1)]
    return SameSetComparison(
        champion_id=row.id,
        candidate=float(np.mean(ours != truth)),
        champion=float(np.mean(theirs != truth)),
        size=int(held.sum()),
    )
