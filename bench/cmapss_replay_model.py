"""The model side of bench.cmapss_replay: train through the RUL job, check its data, score a model dir.

- `train_through_job` runs `jobs.train_rul.train_scope` (load_scope from PostgreSQL, train, save the
  artifacts, register the version, promotion rule) with the benchmark's RulConfig in place of the
  job's `rul_config(settings)`, which fixes an LSTM that settings cannot turn into the library default;
  the config the job registered is checked to be the benchmark's.
- `dataset_matches_file` checks that what the job reads from the database is the file, value for value.
- `evaluate_model_dir` scores a saved model (direct or replayed) on a C-MAPSS test file with ONNX
  Runtime, taking the test file's columns by the model's own sensor names.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from sqlalchemy.orm import Session

from bench.cmapss_data import COLUMNS, SENSOR_NAMES, Cmapss, read_rul
from db.tables import ModelVersion
from jobs import train_rul as train_rul_job
from jobs.training_data import load_scope, scopes_with_failures
from models.config import RulConfig
from models.evaluation import rul_metrics
from models.run_features import raw_sensor_names
from models.serving import RulPredictor
from plantwatch.settings import Settings
from plantwatch.simulation import CMAPSS_SENSORS, cmapss_line, read_cmapss

# A file column for every name a C-MAPSS model may use: the simulator's (op_setting_1, sensor_01, ...)
# and bench.cmapss_data's (s1 ... s21; unit and cycle are columns 0 and 1).
FILE_COLUMN = {name: 2 + i for i, name in enumerate(CMAPSS_SENSORS)} | {
    name: 5 + i for i, name in enumerate(SENSOR_NAMES)
}


def train_through_job(session: Session, settings: Settings, config: RulConfig) -> dict[str, Any]:
    """Train the only scope with failures through the job; what the registry recorded about it."""
    scopes = scopes_with_failures(session)
    if len(scopes) != 1:
        raise RuntimeError(f"expected the replayed engines as one machine type, found scopes {scopes}")
    started = time.perf_counter()
    with mock.patch.object(train_rul_job, "rul_config", lambda _settings: config):
        outcome = train_rul_job.train_scope(session, settings, scopes[0])
    job_seconds = time.perf_counter() - started
    row = session.get(ModelVersion, outcome["id"])
    if row is None or row.artifact_path is None:
        raise RuntimeError(f"the job registered no model artifacts: {outcome}")
    if row.params.get("config") != config.to_dict():
        raise RuntimeError(f"the job trained with another config: {row.params.get('config')}")
    return {
        "scope": scopes[0],
        "version": row.version,
        "status": row.status,
        "artifact_path": row.artifact_path,
        "artifact_sha256": row.artifact_sha256,
        "train_seconds": round(float(row.params["train_seconds"]), 1),
        "job_seconds": round(job_seconds, 1),
        "epochs_run": row.metrics.get("epochs_run"),
        "runs": row.params.get("runs"),
        "failed_runs": row.params.get("failed_runs"),
        "sensors": row.params.get("sensors"),
        "validation": {k: round(v, 3) for k, v in row.metrics.items() if isinstance(v, float)},
    }


def dataset_matches_file(session: Session, scope: str, train_path: Path) -> dict[str, Any]:
    """Runs, failure labels and every value of the job's dataset against the replayed file."""
    data = load_scope(session, scope).dataset
    line = cmapss_line(train_path)
    engines = {f"cmapss/{line}/{engine.name}": engine for engine in read_cmapss(train_path)}
    runs = data.runs
    identical = (
        sorted(data.sensor_names) == sorted(CMAPSS_SENSORS)
        and sorted(str(m) for m in data.machines) == sorted(engines)
        and bool(runs.failed.all())
    )
    order = [CMAPSS_SENSORS.index(name) for name in data.sensor_names] if identical else []
    for r in range(len(runs.lengths)) if identical else ():
        expected = np.array([values for _, values in engines[str(data.machines[r])].cycles])[:, order]
        block = data.values[runs.starts[r] : runs.starts[r] + runs.lengths[r]]
        identical = identical and np.array_equal(block, expected)
    return {
        "runs": len(runs.lengths),
        "failed_runs": int(runs.failed.sum()),
        "rows": int(runs.total),
        "identical": bool(identical),
    }


def evaluate_model_dir(
    model_dir: Path,
    test_path: Path,
    rul_path: Path,
    sidecar_sha256: str | None = None,
    threads: int = 2,
) -> dict[str, Any]:
    """RMSE, PHM08 score, coverage and width of the interval at each test engine's last cycle."""
    predictor = RulPredictor.load(model_dir, sidecar_sha256, threads=threads)
    rows = np.loadtxt(test_path, ndmin=2)
    if rows.shape[1] != COLUMNS:
        raise ValueError(f"{test_path}: expected {COLUMNS} columns")
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    columns = [FILE_COLUMN[name] for name in raw_sensor_names(predictor.sensor_names, predictor.meta.config)]
    test = Cmapss(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, columns])
    truth = read_rul(rul_path)
    if len(truth) != len(test.unit_ids):
        raise ValueError(f"{rul_path} has {len(truth)} values for {len(test.unit_ids)} test engines")
    pred = predictor.predict(test.last_windows(predictor.meta.config))
    metrics = rul_metrics(truth, pred.rul, predictor.meta.conformal)
    capped = rul_metrics(np.minimum(truth, predictor.meta.config.cap), pred.rul, predictor.meta.conformal)
    return {
        "rmse": round(metrics["rmse"], 3),
        "score": round(metrics["score"], 1),
        "coverage": round(metrics["coverage"], 3),
        "interval_width": round(metrics["interval_width"], 2),
        "rmse_capped": round(capped["rmse"], 3),
        "sensors": predictor.meta.scaler.kept_names,
    }
