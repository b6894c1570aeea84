"""Seeding bench.api's database, once: a fleet with predictions, open alerts, readings and a RUL champion.

- A RUL model for machine type `pump`, trained by the product's job (`jobs.train_rul.train_scope`, a
  small LSTM) on six training machines of their own site (`bench-train/train`), each with three runs
  ending in a recorded failure; its artifacts live in the models folder, kept with the database.
- Readings as bench.readings seeds them (`bench.readings_seed.seed`: binary COPY, 20 sensors every
  10 s) for 100 machines, 10 on each line `bench/line0` … `bench/line9`, then 90 more machines on each
  line (1,000 in all, 10 lines of 100, every one with the 20 sensors and type `pump`), and the rollups
  refreshed as the rollups job keeps them.
- For each of the 1,000 machines a prediction as the scoring job writes it and an open `rul_low` alert.

A marker file next to the data folder records the parameters, so a later run with the same ones reuses
the data (the readings then end where they ended when seeded).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import insert, text, update
from sqlalchemy.orm import Session, sessionmaker

from bench.readings_seed import SeedParams, seed
from db.engine import libpq_url, transaction
from db.migrate import upgrade
from db.repositories.assets import register_machine, register_sensors
from db.repositories.events import add_event
from db.repositories.readings import ReadingRow, insert_readings
from db.rollups import HOUR, floor_to, refresh_rollups
from db.tables import Alert, Machine, Prediction, Sensor
from plantwatch.settings import Settings

log = logging.getLogger("bench.api")

SITE = "bench"
MACHINE_TYPE = "pump"
SENSORS = [f"s{k:02d}" for k in range(1, 21)]  # the names bench.readings_seed gives
TRAIN_RUN = 80  # readings per run of a training machine, one a minute
WINDOW = 30


LINES = 10
READINGS_MACHINES = 100  # bench.readings_seed puts ten on each line `line{n // 10}`


@dataclass(frozen=True)
class FleetParams:
    per_line: int = 100
    days: int = 1
    interval_s: int = 10

    def readings(self) -> SeedParams:
        return SeedParams(READINGS_MACHINES, len(SENSORS), self.days, self.interval_s)


def read_marker(marker: Path, params: FleetParams) -> dict[str, Any] | None:
    try:
        seeded: dict[str, Any] = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return seeded if seeded.get("params") == asdict(params) else None


def refresh_bench_rollups(session: Session, end: datetime) -> None:
    """Roll the readings up to their end, as the rollups job would have (5 minutes' lateness)."""
    log.info("rollups refreshed: %s", refresh_rollups(session, until=end, lateness=timedelta(minutes=5)))


def seed_all(
    url: str, factory: sessionmaker[Session], params: FleetParams, models_dir: Path
) -> dict[str, Any]:
    """Everything above into a fresh database; what the marker records."""
    if params.per_line < READINGS_MACHINES // LINES:
        raise ValueError(f"per_line must be at least {READINGS_MACHINES // LINES}")
    began = time.perf_counter()
    upgrade(url)
    model = _train_model(factory, url, models_dir, params.days)
    readings = seed(url, factory, params.readings())
    end = datetime.fromisoformat(readings["end"])
    with transaction(factory) as session:
        _register_fleet(session, params)
        _predictions_and_alerts(session, model, end)
    with transaction(factory) as session:
        refresh_bench_rollups(session, end)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    seconds = round(time.perf_counter() - began, 1)
    log.info("seeded in %.0f s", seconds)
    return {
        "params": asdict(params),
        "end": readings["end"],
        "readings_rows": readings["rows"],
        "model": model,
        "seed_seconds": seconds,
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _register_fleet(session: Session, params: FleetParams) -> None:
    """Fill each line up to `per_line` machines after the readings seed's (named m000 … m099), in bulk."""
    first, extra = READINGS_MACHINES, params.per_line - READINGS_MACHINES // LINES
    lines = {k: register_machine(session, SITE, f"line{k}", f"m{k * 10:03d}").line_id for k in range(LINES)}
    rows = []
    for number in range(first, LINES * params.per_line):
        line = (number - first) // extra
        rows.append(
            {"line_id": lines[line], "name": f"m{number:03d}", "path": f"{SITE}/line{line}/m{number:03d}"}
        )
    ids = session.scalars(insert(Machine).returning(Machine.id), rows).all()
    sensors = [
        {"machine_id": i, "name": name, "position": p} for i in ids for p, name in enumerate(SENSORS, 1)
    ]
    session.execute(insert(Sensor), sensors)
    session.execute(
        update(Machine).where(Machine.path.startswith(f"{SITE}/")).values(machine_type=MACHINE_TYPE)
    )
    log.info("registered %d machines", LINES * params.per_line)


def _predictions_and_alerts(session: Session, model: dict[str, Any], now: datetime) -> None:
    """One prediction each, shaped as the scoring job's, and one open alert each."""
    rng = np.random.default_rng(3)
    ids = list(session.scalars(text("SELECT id FROM machines WHERE path LIKE 'bench/%' ORDER BY id")))
    predictions, alerts = [], []
    for machine_id in ids:
        rul = float(rng.uniform(5, 120))
        drivers = rng.choice(SENSORS, 3, replace=False)
        detail = {
            "scope": MACHINE_TYPE,
            "reasons": [],
            "top_sensors": [{"sensor": str(s), "score": round(float(rng.uniform(0, 9)), 3)} for s in drivers],
            "rul_model": {"id": model["id"], "version": model["version"]},
            "horizon": 30.0,
            "coverage": 0.9,
        }
        predictions.append(prediction_row(machine_id, model["id"], now, rul, detail))
        severity = "critical" if rul * 0.7 <= 20 else "warning"
        opened = now - timedelta(minutes=float(rng.uniform(1, 600)))
        alerts.append(
            {
                "machine_id": machine_id,
                "rule": "rul_low",
                "severity": severity,
                "message": f"RUL low: {rul * 0.7:.0f} cycles",
                "opened_at": opened,
                "last_seen_at": now,
                "detail": {"value": rul * 0.7, "threshold": 50.0 if severity == "warning" else 20.0},
            }
        )
    session.execute(insert(Prediction), predictions)
    session.execute(insert(Alert), alerts)
    log.info("%d predictions and %d open alerts", len(predictions), len(alerts))


def prediction_row(
    machine_id: int, model_id: int | None, made_at: datetime, rul: float, detail: dict[str, Any]
) -> dict[str, Any]:
    """A prediction's columns for this RUL (its interval, failure probability and health score
    derived from it as the benchmarks' fleet has them)."""
    return {
        "machine_id": machine_id,
        "model_version_id": model_id,
        "made_at": made_at,
        "status": "ok",
        "rul": rul,
        "rul_low": rul * 0.7,
        "rul_high": rul * 1.3,
        "failure_probability": float(np.exp(-rul / 30)),
        "health_score": round(min(rul, 125) / 1.25, 2),
        "detail": detail,
    }


def _train_model(factory: sessionmaker[Session], url: str, models_dir: Path, days: int) -> dict[str, Any]:
    """Six training machines with three failed runs each, then the product's RUL training job."""
    from jobs.train_rul import train_scope  # loads Keras

    rng = np.random.default_rng(11)
    settings = Settings(
        database_url=url,
        var_dir=models_dir,
        rul_window=WINDOW,
        rul_cap=60.0,
        rul_epochs=3,
        rul_lstm_units=8,
        rul_min_failed_runs=3,
        rul_resample_s=0,
    )
    with transaction(factory) as session:
        for n in range(6):
            machine = register_machine(session, "bench-train", "train", f"t{n}")
            machine.machine_type = MACHINE_TYPE
            positions = register_sensors(session, machine.id, SENSORS)
            rows: list[ReadingRow] = []
            # Just before the fleet's readings, so that the rollups cover few days.
            ts = floor_to(datetime.now(UTC), HOUR) - timedelta(days=days + 1, hours=6 * (n + 1))
            for _run in range(3):
                for k in range(TRAIN_RUN):
                    values = degrading_step(rng, k / TRAIN_RUN)
                    rows.append((machine.id, ts, None, [values[p - 1] for p in sorted(positions.values())]))
                    ts += timedelta(minutes=1)
                add_event(session, machine_id=machine.id, kind="failure", ts=ts - timedelta(seconds=30),
                          note="", work_order_id=None, created_by=None)  # fmt: skip
            insert_readings(session, rows)
        began = time.perf_counter()
        trained = train_scope(session, settings, MACHINE_TYPE)
    log.info("RUL model trained in %.0f s: %s", time.perf_counter() - began, trained)
    if trained["status"] != "champion":
        raise RuntimeError(f"the bench's RUL model is not the champion: {trained}")
    return {"id": trained["id"], "version": trained["version"]}


def degrading_step(rng: np.random.Generator, wear: float) -> list[float | None]:
    """One reading of the 20 sensors at `wear` (0 new, 1 failing): five drift with wear, all are noisy."""
    values = 50 + rng.normal(0, 1, len(SENSORS))
    values[:5] += 30 * wear
    return [float(v) for v in values]
