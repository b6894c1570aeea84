"""Classifying inspection images as they arrive, with each line's champion classifier (ONNX Runtime).

`plantwatch classify` runs `run_classifier`: it polls for images not classified yet every
`qc_classify_poll_s` and classifies them in batches of `qc_classify_batch` (rows claimed with
SKIP LOCKED, so several classifiers share the work). Images of lines without a champion wait until
one is promoted. A prediction less confident than the model's review threshold is flagged for
review; an image that cannot be read any more is flagged too, with no class. The same pass is the
`classify_inspections` job, for a backlog on demand.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.base import utcnow
from db.engine import make_engine, make_session_factory, transaction
from db.images import image_file
from db.repositories import models as models_repo
from db.tables import Inspection
from jobs.training_images import line_of_scope
from models.images import ImageDecodeError
from plantwatch.metrics import serve_metrics
from plantwatch.settings import Settings
from services.predictors import ModelUnavailableError, champion_qc

log = logging.getLogger(__name__)

CLASSIFIED = Counter(
    "plantwatch_inspections_classified_total", "Inspection images classified", ["outcome"]
)  # outcome: confident, review, unreadable
DELAY = Histogram(
    "plantwatch_inspection_classification_delay_seconds",
    "From an inspection's arrival to its classification",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
MAX_PER_JOB_RUN = 100_000


def classify_pending(session: Session, settings: Settings, now: datetime, limit: int) -> dict[str, int]:
    """Classify up to `limit` waiting images of lines that have a champion; returns counts."""
    counts = {"classified": 0, "review": 0, "unreadable": 0}
    models: dict[int, Any] = {}
    for scope in models_repo.champion_scopes(session, "qc"):
        line = line_of_scope(session, scope)
        if line is None:
            continue
        try:
            found = champion_qc(session, scope)
        except ModelUnavailableError as exc:
            log.error("inspections of %s wait: %s", scope, exc)
            continue
        if found is not None:
            models[line.id] = found
    if not models:
        return counts
    rows = session.scalars(
        select(Inspection)
        .where(Inspection.classified_at.is_(None), Inspection.line_id.in_(models))
        .order_by(Inspection.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for line_id in {row.line_id for row in rows}:
        version, classifier = models[line_id]
        batch = [row for row in rows if row.line_id == line_id]
        verdicts = classifier.classify_bytes([_read(settings, row) for row in batch])
        for row, verdict in zip(batch, verdicts, strict=True):
            row.classified_at = now
            row.model_version_id = version.id
            if isinstance(verdict, ImageDecodeError):
                row.predicted_label, row.confidence, row.needs_review = None, None, True
                counts["unreadable"] += 1
                CLASSIFIED.labels("unreadable").inc()
                log.warning("inspection %d cannot be classified: %s", row.id, verdict)
                continue
            row.predicted_label = verdict.label
            row.confidence = round(verdict.confidence, 6)
            row.needs_review = verdict.needs_review
            counts["classified"] += 1
            counts["review"] += int(verdict.needs_review)
            CLASSIFIED.labels("review" if verdict.needs_review else "confident").inc()
            DELAY.observe(max(0.0, (now - row.created_at).total_seconds()))
    session.flush()
    return counts


def _read(settings: Settings, row: Inspection) -> bytes:
    """The image's bytes; b"" (unreadable) when the file is gone or no longer matches its hash."""
    try:
        data = image_file(settings.images_directory, row.image_path).read_bytes()
    except (OSError, ValueError) as exc:
        log.warning("inspection %d: image file unreadable: %s", row.id, exc)
        return b""
    return data if hashlib.sha256(data).hexdigest() == row.image_sha256 else b""


def classify_inspections(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """The `classify_inspections` job: every waiting image of a line with a champion."""
    total = {"classified": 0, "review": 0, "unreadable": 0}
    while sum(total.values()) < MAX_PER_JOB_RUN:
        counts = classify_pending(session, settings, now, settings.qc_classify_batch)
        for key, value in counts.items():
            total[key] += value
        if sum(counts.values()) < settings.qc_classify_batch:
            break
    return total


def run_classifier(settings: Settings, stop: threading.Event | None = None) -> None:
    """Classify new inspection images until `stop` is set."""
    if not settings.database_url:
        raise ValueError("the classifier needs DATABASE_URL")
    stop = stop or threading.Event()
    serve_metrics(settings, "classify")
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    log.info("classifier started: polling every %.1f s", settings.qc_classify_poll_s)
    try:
        while not stop.is_set():
            try:
                with transaction(factory) as session:
                    counts = classify_pending(session, settings, utcnow(), settings.qc_classify_batch)
            except Exception:  # the database may be down: log, wait, go on
                log.exception("classification pass failed; retrying in %.1f s", settings.qc_classify_poll_s)
                counts = {}
            if counts.get("classified", 0) + counts.get("unreadable", 0):
                log.info("classified %s", counts)
            else:
                stop.wait(settings.qc_classify_poll_s)
    finally:
        engine.dispose()
        log.info("classifier stopped")
