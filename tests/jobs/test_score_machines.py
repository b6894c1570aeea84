"""The scoring job on a real database: health only before a RUL model exists, RUL after, and reasons."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import get_machine_by_path, register_machine, register_sensors
from db.repositories.predictions import latest_for_machines
from db.repositories.readings import insert_readings
from db.tables import ModelVersion, Prediction
from jobs import train_rul as train_rul_job
from jobs.runs import run_job
from jobs.score_machines import score_machines
from jobs.train_rul import train_scope
from plantwatch.settings import Settings
from services import alerts
from services.job_schedule import schedules
from services.predictors import champion_rul
from tests.jobs.plant import RUN, T0, add_machine, tiny_settings

EVENTS = ["failure", "maintenance", "failure"]
PUMP_END = T0 + timedelta(minutes=3 * RUN + 6)  # pumps: three runs and a running part


@pytest.fixture
def plant(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with transaction(session_factory) as session:
        ids = {f"pump{i}": add_machine(session, f"pump{i}", "pump", EVENTS) for i in range(6)}
        ids["odd"] = add_machine(session, "odd", None, ["maintenance"])
    return ids


def _score(session_factory: sessionmaker[Session], settings: Settings, now: datetime) -> dict[str, Any]:
    with transaction(session_factory) as session:
        return score_machines(session, settings, now)


def _latest(session_factory: sessionmaker[Session], ids: dict[str, int]) -> dict[str, Prediction]:
    with transaction(session_factory) as session:
        latest = latest_for_machines(session, ids.values())
        session.expunge_all()
    return {name: latest[machine_id] for name, machine_id in ids.items()}


def test_health_only_until_a_rul_model_exists_then_rul_with_interval_and_drivers(
    session_factory: sessionmaker[Session], settings: Settings, plant: dict[str, int]
) -> None:
    tiny = tiny_settings(settings).model_copy(update={"score_stale_after_s": 3600})
    first = _score(session_factory, tiny, PUMP_END)
    assert first == {"machines": 7, "scopes": 2, "ok": 0, "degraded": 6, "withheld": 1}
    before = _latest(session_factory, plant)
    pump = before["pump0"]
    assert pump.status == "degraded" and pump.rul is None and pump.health_score is not None
    assert "no RUL model for type 'pump' yet (12 failures recorded)" in pump.detail["reasons"][0]
    assert pump.detail["health_model"]["version"] == 1 and pump.detail["health_sensors"]
    # "odd" (no type: scope "default") has 15 healthy rows: too few windows to learn normal operation.
    odd = before["odd"]
    assert odd.status == "withheld" and odd.health_score is None
    assert any("no health index yet" in r for r in odd.detail["reasons"])
    assert any("have 3 recorded failures; 0 so far" in r for r in odd.detail["reasons"])

    with transaction(session_factory) as session:
        trained = train_scope(session, tiny, "pump")
        # A machine without `vib` and one with a gap in its last window join after training.
        missing = add_machine(session, "novib", "pump", EVENTS, sensors=("temp", "flat"))
        gappy = add_machine(session, "gappy", "pump", EVENTS)
        session.execute(
            text("""UPDATE readings SET "values"[1] = NULL WHERE machine_id = :m AND ts = :ts"""),
            {"m": gappy, "ts": T0 + timedelta(minutes=3 * RUN + 4)},
        )
        # The data-quality gate: a stuck sensor makes pump1's prediction doubtful.
        alerts.raise_or_update(session, plant["pump1"], "sensor_stuck", "warning", "stuck: vib", T0,
                               detail={"sensors": [{"sensor": "vib", "value": 0.5}]})  # fmt: skip
    assert trained["status"] == "champion"
    ids = {**plant, "novib": missing, "gappy": gappy}
    short = tiny.model_copy(update={"score_stale_after_s": 600})
    _score(session_factory, short, PUMP_END + timedelta(minutes=5))
    after = _latest(session_factory, ids)
    pump = after["pump0"]
    assert pump.status == "ok" and pump.detail["reasons"] == []
    assert pump.rul is not None and pump.rul_low is not None and pump.rul_high is not None
    assert pump.rul_low <= pump.rul <= pump.rul_high
    assert pump.failure_probability is not None and 0 <= pump.failure_probability <= 1
    assert pump.model_version_id == trained["id"] and pump.detail["rul_model"]["id"] == trained["id"]
    assert len(pump.detail["top_sensors"]) == 2  # temp and vib: `flat` was dropped as constant
    assert {d["sensor"] for d in pump.detail["top_sensors"]} == {"temp", "vib"}
    assert pump.detail["coverage"] == 0.9
    assert after["novib"].status == "degraded" and after["novib"].rul is None
    assert "lacks sensor(s) vib" in after["novib"].detail["reasons"][0]
    gap = after["gappy"]
    assert gap.status == "degraded" and gap.rul is not None
    assert any("gaps in" in r and "filled" in r for r in gap.detail["reasons"])
    stale = after["odd"]  # its last reading is 54 minutes old
    assert stale.status == "withheld" and "the newest reading is 54 min old" in stale.detail["reasons"][0]
    doubtful = after["pump1"]
    assert doubtful.status == "degraded" and doubtful.rul is not None
    assert doubtful.detail["reasons"] == ["doubtful: sensor stuck: vib"]


def test_an_altered_champion_is_reported_not_crashed_on(
    session_factory: sessionmaker[Session], settings: Settings, plant: dict[str, int]
) -> None:
    tiny = tiny_settings(settings).model_copy(update={"score_stale_after_s": 3600})
    with transaction(session_factory) as session:
        train_scope(session, tiny, "pump")
        row = session.scalars(select(ModelVersion).where(ModelVersion.kind == "rul")).one()
        (onnx := __import__("pathlib").Path(str(row.artifact_path)) / "model.onnx").write_bytes(b"tampered")
    _score(session_factory, tiny, PUMP_END)
    pump = _latest(session_factory, plant)["pump1"]
    assert pump.rul is None and pump.health_score is not None
    assert "cannot be loaded" in pump.detail["reasons"][0] and onnx.exists()
    with transaction(session_factory) as session:
        assert get_machine_by_path(session, "site/line/pump1") is not None


def test_scoring_runs_as_a_job_every_score_interval(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    every = {s.job_name: s.every for s in schedules(settings.model_copy(update={"score_interval_s": 120}))}
    assert every["score_machines"] == timedelta(seconds=120)
    result = run_job(session_factory, settings, "score_machines", PUMP_END)
    assert result.status == "succeeded" and result.summary == {
        "machines": 0,
        "scopes": 0,
        "ok": 0,
        "degraded": 0,
        "withheld": 0,
    }


def test_a_champion_taking_run_age_and_drift_gives_the_reason_instead_of_a_rul(
    session_factory: sessionmaker[Session],
    settings: Settings,
    plant: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tiny = tiny_settings(settings).model_copy(update={"score_stale_after_s": 3600})
    library_config = train_rul_job.rul_config
    monkeypatch.setattr(
        train_rul_job, "rul_config", lambda s: replace(library_config(s), run_age=True, run_baseline=3)
    )
    with transaction(session_factory) as session:
        assert train_scope(session, tiny, "pump")["status"] == "champion"
    _score(session_factory, tiny, PUMP_END)
    pump = _latest(session_factory, plant)["pump0"]
    assert pump.rul is None and pump.health_score is not None
    assert "takes each run's age and sensor drift as inputs" in pump.detail["reasons"][0]


def test_with_min_history_a_new_machine_is_scored_on_its_first_cycle_padded_like_training(
    session_factory: sessionmaker[Session], settings: Settings, plant: dict[str, int]
) -> None:
    tiny = tiny_settings(settings).model_copy(update={"score_stale_after_s": 3600, "rul_min_history": 2})
    start = PUMP_END - timedelta(minutes=3)
    rows = {"temp": [61.0, 75.0, 88.0], "vib": [0.02, 0.5, 0.9], "flat": [1.0, 1.0, 1.0]}
    with transaction(session_factory) as session:
        trained = train_scope(session, tiny, "pump")
        assert trained["status"] == "champion"
        ids = {}
        for name, count in (("newbie", 3), ("unborn", 1)):
            machine = register_machine(session, "site", "line", name)
            machine.machine_type = "pump"
            positions = register_sensors(session, machine.id, list(rows))
            ids[name] = machine.id
            insert_readings(session, [
                (machine.id, start + timedelta(minutes=k), None,
                 [rows[s][k] for s in sorted(positions, key=positions.__getitem__)])
                for k in range(count)
            ])  # fmt: skip
    _score(session_factory, tiny, PUMP_END)
    latest = _latest(session_factory, ids)
    assert latest["unborn"].rul is None
    assert "no RUL: 1 of the 2 cycles the model needs so far" in latest["unborn"].detail["reasons"]
    newbie = latest["newbie"]
    assert newbie.status == "degraded" and newbie.rul is not None
    assert newbie.detail["reasons"] == ["3 of the 4 cycles of a window so far, padded with the first"]
    with transaction(session_factory) as session:
        champion = champion_rul(session, "pump")
    assert champion is not None
    predictor = champion[1]
    assert predictor.meta.config.min_history == 2 and predictor.window == 4
    # the window the model learned from after three cycles: the first cycle repeated in front
    padded = np.array([[rows[s][k] for s in predictor.sensor_names] for k in (0, 0, 1, 2)])
    assert newbie.rul == pytest.approx(float(predictor.predict(padded[None]).rul[0]), abs=1e-4)
