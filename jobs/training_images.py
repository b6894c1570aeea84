"""Training data for quality-control models, read from PostgreSQL and the image store.

A scope is a line (`site/line`): one classifier per line, trained on its inspections that have a
known label. Which images are held out for evaluation is decided by each image's hash, so an image
stays held out (or not) from one training to the next and versions compare on nearly the same set.
An image whose file is missing or no longer matches its hash is left out and counted.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.images import image_file
from db.tables import Inspection, Line, Site
from models.config import InsufficientDataError
from models.images import ImageDecodeError, decode_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledImages:
    ids: NDArray[np.int64]
    images: NDArray[np.uint8]  # [N, size, size]
    labels: list[str]
    evaluation: NDArray[np.bool_]
    data_start: datetime
    data_end: datetime
    skipped: int  # unreadable or altered files


def held_out_by_hash(sha256: str, fraction: float) -> bool:
    """Whether an image is in the evaluation set: the same answer for the same image, always."""
    return int(sha256[:8], 16) / 0x1_0000_0000 < fraction


def line_of_scope(session: Session, scope: str) -> Line | None:
    site, _, line = scope.partition("/")
    return session.scalar(select(Line).join(Line.site).where(Site.name == site, Line.name == line))


def scopes_with_labels(session: Session) -> list[str]:
    """Lines (`site/line`) with at least one labelled inspection, sorted."""
    rows = session.execute(
        select(Site.name, Line.name)
        .join(Line.site)
        .where(
            select(Inspection.id)
            .where(Inspection.line_id == Line.id, Inspection.known_label.is_not(None))
            .exists()
        )
    ).all()
    return sorted(f"{site}/{line}" for site, line in rows)


def load_labelled(
    session: Session, scope: str, images_dir: Path, size: int, evaluation_fraction: float
) -> LabelledImages:
    """The labelled inspections of the line `scope`, decoded at `size`; InsufficientDataError if none."""
    line = line_of_scope(session, scope)
    if line is None:
        raise InsufficientDataError(f"no line {scope!r} (name it site/line)")
    rows = session.execute(
        select(Inspection.id, Inspection.image_path, Inspection.image_sha256, Inspection.known_label,
               Inspection.taken_at)
        .where(Inspection.line_id == line.id, Inspection.known_label.is_not(None))
        .order_by(Inspection.id)
    ).all()  # fmt: skip
    ids: list[int] = []
    images: list[NDArray[np.uint8]] = []
    labels: list[str] = []
    held: list[bool] = []
    stamps: list[datetime] = []
    skipped = 0
    for row in rows:
        try:
            data = image_file(images_dir, row.image_path).read_bytes()
            if hashlib.sha256(data).hexdigest() != row.image_sha256:
                raise ValueError("the file does not match its recorded SHA-256")
            images.append(decode_image(data, size))
        except (OSError, ValueError, ImageDecodeError) as exc:
            skipped += 1
            log.warning("inspection %d left out of training: %s", row.id, exc)
            continue
        ids.append(row.id)
        labels.append(str(row.known_label))
        held.append(held_out_by_hash(row.image_sha256, evaluation_fraction))
        stamps.append(row.taken_at)
    if not ids:
        raise InsufficientDataError(f"line {scope!r} has no readable labelled inspection image")
    return LabelledImages(
        ids=np.asarray(ids, dtype=np.int64),
        images=np.stack(images),
        labels=labels,
        evaluation=np.asarray(held, dtype=bool),
        data_start=min(stamps),
        data_end=max(stamps),
        skipped=skipped,
    )
