"""RUL training from the database: runs cut at events, a tiny model trained, registered and promoted."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.tables import ModelVersion
from jobs.runs import run_job
from jobs.training_data import load_scope
from models.serving import RulPredictor
from plantwatch.settings import Settings
from services.job_schedule import schedules
from tests.jobs.plant import RUN, T0, add_machine, tiny_settings


@pytest.fixture
def plant(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        for i in range(6):
            add_machine(session, f"pump{i}", "pump", ["failure", "maintenance", "failure"])
        add_machine(session, "odd", None, ["maintenance"])


def test_runs_are_cut_at_failures_and_maintenance(
    session_factory: sessionmaker[Session], plant: None
) -> None:
    with transaction(session_factory) as session:
        data = load_scope(session, "pump")
        default = load_scope(session, "default", resample_s=120)
    runs = data.dataset.runs
    assert data.dataset.sensor_names == ["flat", "temp", "vib"]
    assert list(runs.lengths) == [RUN, RUN, RUN, 6] * 6
    assert list(runs.failed) == [True, False, True, False] * 6
    assert data.machine_count == 6 and data.data_start == T0
    temp, vib = data.dataset.values[:, 1], data.dataset.values[:, 2]
    assert (temp > 50).all() and (vib < 2).all()  # matched by name whatever the position
    assert temp[0] < temp[RUN - 1]  # temp rises within a run
    # Resampled to 2 minutes: half as many cycles (24 → 12, 6 → 3), still cut at the event.
    assert list(default.dataset.runs.lengths) == [12, 3]
    assert list(default.dataset.runs.failed) == [False, False]


def test_the_job_trains_registers_and_promotes_then_keeps_a_worse_candidate(
    session_factory: sessionmaker[Session], settings: Settings, plant: None
) -> None:
    tiny = tiny_settings(settings)
    result = run_job(session_factory, tiny, "train_rul", T0, trigger="request")
    assert result.status == "succeeded", result.error
    assert result.summary is not None
    assert result.summary["worker_pid"] != os.getpid()  # trained in a worker process of its own
    first = result.summary["trained"]["pump"]
    assert first["version"] == 1 and first["status"] == "champion" and first["promoted"]
    assert result.summary["skipped"] == {}  # "default" has no failure: not even tried
    with transaction(session_factory) as session:
        row = session.scalars(select(ModelVersion)).one()
        assert row.data_start == T0 and row.params["device"]
        assert row.params["evaluation_machines"] and row.metrics["rmse"] is not None
        assert 0.9 <= row.params["interval_level"] <= 0.99
        # The training curves (for the Models page): a loss per epoch run.
        assert len(row.metrics["history"]["loss"]) == row.metrics["epochs_run"] > 0
        path, sha = Path(str(row.artifact_path)), row.artifact_sha256
    assert path == tiny.var_dir / "models" / "rul" / "pump" / "v1"
    predictor = RulPredictor.load(path, sha)  # the registered hash is the sidecar's
    assert predictor.window == 4 and "temp" in predictor.sensor_names

    # Same data, same seed, same evaluation machines: a demanding margin keeps v2 a candidate.
    strict = tiny.model_copy(update={"rul_promotion_margin": 0.5})
    second = run_job(session_factory, strict, "train_rul", T0 + timedelta(days=1), params={"scope": "pump"})
    assert second.status == "succeeded", second.error
    assert second.summary is not None
    v2 = second.summary["trained"]["pump"]
    assert v2["version"] == 2 and v2["status"] == "candidate" and "does not beat" in v2["reason"]

    # New machines change the evaluation machines: the champion is scored on the candidate's own.
    with transaction(session_factory) as session:
        for i in range(6, 9):
            add_machine(session, f"pump{i}", "pump", ["failure", "maintenance", "failure"])
    third = run_job(session_factory, tiny, "train_rul", T0 + timedelta(days=2), params={"scope": "pump"})
    assert third.status == "succeeded", third.error
    assert third.summary is not None
    assert "on the same" in third.summary["trained"]["pump"]["reason"]
    with transaction(session_factory) as session:
        v3 = session.scalars(select(ModelVersion).where(ModelVersion.version == 3)).one()
        same_set = v3.params["promotion"]["same_set"]
        assert same_set["champion_id"] == first["id"] and same_set["size"] > 0


def test_too_little_labelled_data_fails_the_run_with_the_reason(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with transaction(session_factory) as session:
        add_machine(session, "lonely", "press", ["failure"])
    result = run_job(session_factory, tiny_settings(settings), "train_rul", T0)
    assert result.status == "failed"
    assert result.error is not None and "at least 3 are needed" in result.error
    nothing = run_job(
        session_factory, tiny_settings(settings), "train_rul", T0 + timedelta(days=1), params={"scope": "x"}
    )
    assert nothing.status == "failed" and "no machine has type 'x'" in (nothing.error or "")


def test_training_fires_hourly_for_the_local_training_hour() -> None:
    (schedule,) = [s for s in schedules(Settings(rul_train_hour=3)) if s.job_name == "train_rul"]
    assert schedule.every == timedelta(hours=1)
    assert schedule.params == {"local_hour": 3}
    assert schedule.slot(datetime(2026, 5, 5, 12, 40, tzinfo=UTC)) == datetime(2026, 5, 5, 12, tzinfo=UTC)


def test_a_training_past_its_timeout_is_stopped_and_recorded_failed(
    session_factory: sessionmaker[Session], settings: Settings, plant: None
) -> None:
    # Starting a worker (spawn, importing Keras) alone takes longer than this.
    short = tiny_settings(settings).model_copy(update={"train_timeout_s": 0.5})
    result = run_job(session_factory, short, "train_rul", T0, trigger="request")
    assert result.status == "failed" and "rul training stopped after 0.5 s" in (result.error or "")
    with transaction(session_factory) as session:
        assert session.scalars(select(ModelVersion)).all() == []
