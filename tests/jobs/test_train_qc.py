"""QC training from the database and image store, promotion on the same images, and classification."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.images import check_image, store_image
from db.repositories.assets import register_machine
from db.tables import Inspection, ModelVersion
from jobs.classify import classify_inspections
from jobs.train_qc import train_qc_job
from plantwatch.settings import Settings

T0 = datetime(2026, 6, 1, tzinfo=UTC)
SCOPE = "plant/paint"


def _png(kind: str, seed: int) -> bytes:
    """A 24x24 grayscale image: horizontal stripes or a bright blob, with noise."""
    rng = np.random.default_rng(seed)
    pixels = rng.normal(100, 10, (24, 24))
    if kind == "stripes":
        pixels[::4] += 120
    else:
        pixels[8:16, 8:16] += 120
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L").save(out, format="PNG")
    return out.getvalue()


def _add(
    session: Session, settings: Settings, line_id: int, data: bytes, label: str | None, i: int
) -> Inspection:
    image = check_image(data, max_bytes=settings.image_max_bytes)
    row = Inspection(
        line_id=line_id,
        station="cam-1",
        taken_at=T0 + timedelta(minutes=i),
        image_path=store_image(settings.images_directory, data, image),
        image_sha256=image.sha256,
        content_type=image.content_type,
        size_bytes=image.size_bytes,
        width=image.width,
        height=image.height,
        known_label=label,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def tiny(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "qc_image_size": 32,
            "qc_epochs": 3,
            "qc_min_images_per_class": 5,
            "qc_evaluation_fraction": 0.25,
        }
    )


@pytest.fixture
def line_id(session_factory: sessionmaker[Session], tiny: Settings) -> int:
    with transaction(session_factory) as session:
        line = register_machine(session, "plant", "paint", "booth").line_id
        for i in range(40):
            kind = "stripes" if i % 2 else "blob"
            _add(session, tiny, line, _png(kind, i), kind, i)
        return line


def test_train_register_promote_then_classify_new_images(
    session_factory: sessionmaker[Session], tiny: Settings, line_id: int
) -> None:
    with transaction(session_factory) as session:
        summary = train_qc_job(session, tiny, T0)
    first = summary["trained"][SCOPE]
    assert first["version"] == 1 and first["status"] == "champion" and first["promoted"]
    with transaction(session_factory) as session:
        row = session.scalars(select(ModelVersion).where(ModelVersion.kind == "qc")).one()
        assert row.params["classes"] == ["blob", "stripes"] and row.params["images"] == 40
        assert 0 <= row.metrics["accuracy"] <= 1 and row.metrics["error_rate"] == 1 - row.metrics["accuracy"]
        assert len(row.metrics["history"]["loss"]) == row.metrics["epochs_run"] > 0
        assert row.params["evaluation_machines"]  # the held-out inspection ids
        assert row.artifact_path and (tiny.var_dir / "models" / "qc" / "plant_paint" / "v1").is_dir()

    # Same images, a demanding margin: the candidate is compared on the same held-out images and kept back.
    strict = tiny.model_copy(update={"qc_promotion_margin": 0.99})
    with transaction(session_factory) as session:
        second = train_qc_job(session, strict, T0, scope=SCOPE)["trained"][SCOPE]
    assert second["status"] == "candidate" and "on the same" in second["reason"]

    with transaction(session_factory) as session:
        new = [_add(session, tiny, line_id, _png(kind, 1000 + i), None, 100 + i)
               for i, kind in enumerate(["stripes", "blob", "stripes"])]  # fmt: skip
        gone = new[2]
        (tiny.images_directory / gone.image_path).unlink()
        ids = [row.id for row in new]
    with transaction(session_factory) as session:
        counts = classify_inspections(session, tiny, T0 + timedelta(hours=1))
    # Every waiting image is classified, the labelled ones too (so the two can be compared).
    assert counts == {"classified": 42, "review": counts["review"], "unreadable": 1}
    with transaction(session_factory) as session:
        rows = {r.id: r for r in session.scalars(select(Inspection).where(Inspection.id.in_(ids)))}
        for seen in (rows[ids[0]], rows[ids[1]]):
            assert seen.predicted_label in ("blob", "stripes") and seen.confidence is not None
            assert seen.model_version_id == first["id"] and seen.classified_at is not None
            assert seen.needs_review == (seen.confidence < tiny.qc_review_threshold)
        unreadable = rows[ids[2]]
        assert unreadable.predicted_label is None and unreadable.needs_review
    with transaction(session_factory) as session:  # nothing left to do
        assert classify_inspections(session, tiny, T0 + timedelta(hours=2))["classified"] == 0


def test_too_few_labelled_images_is_refused_with_the_reason(
    session_factory: sessionmaker[Session], tiny: Settings
) -> None:
    from models.config import InsufficientDataError

    with (
        pytest.raises(InsufficientDataError, match="no inspection has a known label"),
        transaction(session_factory) as session,
    ):
        train_qc_job(session, tiny, T0)
    with transaction(session_factory) as session:
        line = register_machine(session, "plant", "paint", "booth").line_id
        for i in range(4):
            _add(session, tiny, line, _png("blob", i), "blob", i)
            _add(session, tiny, line, _png("stripes", i), "stripes", 10 + i)
    with pytest.raises(InsufficientDataError), transaction(session_factory) as session:
        train_qc_job(session, tiny, T0, scope=SCOPE)
