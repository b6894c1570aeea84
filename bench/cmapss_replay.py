"""C-MAPSS through the product: does a model trained on replayed engines match `bench.cmapss`?

    python -m bench.cmapss_replay --train train.txt --test test.txt --rul RUL.txt \\
        [--out result.json] [--config '{"epochs": 30}']

Replay: the training file goes through plantwatch's own path, every part a real process started here
(bench/cmapss_replay_stack.py): `plantwatch simulate --replay-cmapss` publishes each engine as machine
cmapss/<line>/engine-NNN (no machine type, so scope "default") over MQTT, one cycle per tick, and
posts each engine's failure event at its last cycle to `plantwatch api` (a `mes` key); `plantwatch
ingest` writes the readings to an embedded PostgreSQL. Once every row and failure is stored, the RUL
job's `train_scope` trains from the database (bench/cmapss_replay_model.py says how it gets the
benchmark's config). Direct: `bench.cmapss.run` on the same file with the same RulConfig. Both models
are scored on the test file with ONNX Runtime.

The JSON line holds both sides' RMSE, PHM08 score, coverage and width, `ratio` = replay RMSE / direct
RMSE and `within_10pct` (|ratio - 1| <= 0.1), the replayed rows against the rows in the database,
whether the job's dataset is the file value for value, and the ingest and training times. The two
models differ by design only in what the product does differently: the replay also carries the three
operating settings (the scaler drops the constant one), and engines are named by machine path, so
the seeded split into training and validation engines picks other engines.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cmapss as direct_bench
from bench.cmapss_data import read_cmapss
from bench.cmapss_replay_model import dataset_matches_file, evaluate_model_dir, train_through_job
from bench.cmapss_replay_stack import ReplayStack
from bench.common import emit, machine, setup_logging
from db.engine import transaction
from jobs.training_data import DEFAULT_SCOPE
from models.config import RulConfig
from plantwatch.settings import Settings

log = logging.getLogger("bench.cmapss_replay")

# RulConfig's defaults with one member, to keep two trainings short; --config overrides either.
DEFAULT_CONFIG: dict[str, Any] = {"ensemble": 1}
TOLERANCE = 0.10
SUMMARY = ("rmse", "score", "coverage", "interval_width", "rmse_capped")
JOB_FIGURES = ("train_seconds", "job_seconds", "epochs_run")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cmapss_replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--train", type=Path, required=True, help="C-MAPSS training file (run to failure)")
    parser.add_argument("--test", type=Path, required=True, help="test file: series cut before failure")
    parser.add_argument("--rul", type=Path, required=True, help="true RUL of each test engine, in unit order")
    parser.add_argument("--out", type=Path, help="also write the JSON line here")
    parser.add_argument("--config", default="{}", help="JSON overrides of models.config.RulConfig fields")
    parser.add_argument(
        "--interval",
        type=float,
        default=0.1,
        help="seconds between the simulator's ticks (a cycle of every engine each); much faster, and a "
        "failure can be posted before ingest has registered its engine: the simulator then drops it",
    )
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--keep", action="store_true", help="keep the replay's folder (logs, database)")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def bench_config(overrides: str) -> RulConfig:
    """RulConfig defaults, then DEFAULT_CONFIG, then the JSON overrides."""
    return RulConfig.merged(DEFAULT_CONFIG, json.loads(overrides))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    # Stopped by a signal, still stop the processes, broker and database this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = bench_config(args.config)
    emit(run(args, config), args.out)
    return 0


def run(args: argparse.Namespace, config: RulConfig) -> dict[str, Any]:
    began, load_before = time.time(), os.getloadavg()[0]
    train, test, rul, threads = args.train, args.test, args.rul, args.threads
    replay, ingest, check, job, broker = _replay_side(args, config)
    rows, engines = ingest["rows_in_file"], ingest["engines_in_file"]
    log.info("direct: bench.cmapss.run on %s with the same config", train)
    with tempfile.TemporaryDirectory(prefix="cmapss-direct-") as tmp:
        direct = direct_bench.run(train, test, rul, config, Path(tmp), threads, repeats=1)
        # The replay is scored by evaluate_model_dir: it must score the direct model as bench.cmapss did.
        rescored = evaluate_model_dir(Path(tmp), test, rul, threads=threads)
    ratio = replay["rmse"] / direct["rmse"]
    model = {key: job[key] for key in ("scope", "version", "status", "runs", "failed_runs")}
    return {
        "benchmark": "cmapss_replay",
        "train_file": train.name,
        "test_file": test.name,
        "test_engines": direct["engines"],
        "ratio": round(ratio, 3),
        "within_10pct": abs(ratio - 1) <= TOLERANCE,
        "direct": {
            **{key: direct[key] for key in SUMMARY},
            "train_seconds": direct["train_seconds"],
            "epochs_run": direct["epochs_run"],
            "sensors": rescored["sensors"],
        },
        "replay": {**replay, **{key: job[key] for key in JOB_FIGURES}, "model": model},
        "rows_replayed": rows,
        "rows_in_db": ingest["rows"],
        "rows_in_db_equal_file": ingest["rows"] == rows,
        "engines": engines,
        "machines_in_db": ingest["machines"],
        "failure_events_in_db": ingest["failures"],
        "dead_letters": ingest["dead_letters"],
        "db_dataset_equals_file": check["identical"],
        "scorer_matches_bench_cmapss": all(rescored[key] == direct[key] for key in SUMMARY),
        "ingest_seconds": ingest["ingest_seconds"],
        "simulate_seconds": ingest["simulate_seconds"],
        "simulate_interval_s": args.interval,
        "broker": broker,
        "failure_events_from": "plantwatch simulate, POST /api/v1/machines/{path}/events",
        "replay_training": "jobs.train_rul.train_scope with rul_config(settings) replaced by config",
        "device": direct["device"],
        "config": json.dumps(config.to_dict(), separators=(",", ":")),
        "seconds_total": round(time.time() - began, 1),
        "load_avg_1m_before": round(load_before, 2),
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _replay_side(
    args: argparse.Namespace, config: RulConfig
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], str]:
    """Replay, train through the job and score: metrics, ingest figures, data check, job, broker kind."""
    train, test, rul, threads = args.train, args.test, args.rul, args.threads
    cmapss = read_cmapss(train)
    rows, engines = len(cmapss.units), len(cmapss.unit_ids)
    stack = ReplayStack()
    try:
        stack.start()
        log.info("replaying %d rows of %d engines from %s", rows, engines, train)
        ingest = {
            **stack.replay(train, rows, engines, args.interval),
            "rows_in_file": rows,
            "engines_in_file": engines,
        }
        log.info("stored: %s", ingest)
        stack.stop_processes()
        factory = stack.session_factory()
        with factory() as session:
            check = dataset_matches_file(session, DEFAULT_SCOPE, train)
        log.info("the job's dataset against the file: %s", check)
        settings = Settings(database_url=stack.url, var_dir=stack.work / "var", rul_resample_s=0)
        log.info("replay: training through jobs.train_rul.train_scope")
        with transaction(factory) as session:
            job = train_through_job(session, settings, config)
        replay = evaluate_model_dir(
            Path(job["artifact_path"]), test, rul, job["artifact_sha256"], threads=threads
        )
        return replay, ingest, check, job, stack.broker.kind
    finally:
        stack.close(args.keep)


if __name__ == "__main__":
    sys.exit(main())
