"""Inspections for bench.dashboard's Quality page: what a line with cameras has, so that the page is
measured with its p-chart, its latest images and a review queue rather than its empty state.

`seed_inspections` gives one line (bench/line0) three days of inspections at two stations, one image
every five minutes each, stored as the API stores uploads (services.inspections.store_inspection, in
the API's images folder) and classified as the classifier would: mostly `ok`, a few defects, a
confidence each, the unsure ones queued for review. Run after run it adds nothing once there are
inspections of the last hour.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.tables import Inspection
from services.inspections import Upload, store_inspection

log = logging.getLogger("bench.dashboard")

SITE, LINE, STATIONS = "bench", "line0", ("cam-1", "cam-2")
SPAN = timedelta(days=3)
EVERY = timedelta(minutes=5)
DEFECTS = ("scratches", "inclusion", "patches")
REVIEW_BELOW = 0.6  # confidence under which an inspection waits for a person


def seed_inspections(factory: sessionmaker[Session], images_dir: Path) -> int:
    """Inspections of the last SPAN on bench/line0 unless there are some of the last hour; how many."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with transaction(factory) as session:
        recent = session.scalar(
            select(func.count()).select_from(Inspection).where(Inspection.taken_at > now - timedelta(hours=1))
        )
        if recent:
            return 0
        rng = np.random.default_rng(int(now.timestamp()))
        added = 0
        for step in range(int(SPAN / EVERY)):
            for station in STATIONS:
                _inspect(session, images_dir, station, now - step * EVERY, rng)
                added += 1
    log.info("%d inspections on %s/%s in %s", added, SITE, LINE, images_dir)
    return added


def _inspect(
    session: Session, images_dir: Path, station: str, taken_at: datetime, rng: np.random.Generator
) -> None:
    pixels = rng.integers(0, 256, size=(48, 48), dtype=np.uint8)  # noise: every image is new
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, format="PNG")
    upload = Upload(
        site=SITE, line=LINE, station=station, part_id=None, taken_at=taken_at, data=png.getvalue()
    )
    row, _ = store_inspection(session, upload, images_dir=images_dir, max_bytes=1 << 20, by=None)
    defect = rng.random() < 0.04
    confidence = float(rng.uniform(0.35, 0.99))
    session.execute(
        update(Inspection)
        .where(Inspection.id == row.inspection.id)
        .values(
            predicted_label=str(rng.choice(DEFECTS)) if defect else "ok",
            confidence=confidence,
            classified_at=taken_at + timedelta(seconds=2),
            needs_review=confidence < REVIEW_BELOW,
        )
    )
