"""Evidence for the alert engine: do alerts come early enough, for every failure, without crying wolf?

    python -m bench.alerts [--cmapss FILE] [--lead 10] [--horizon 60] [--out FILE]
    python -m bench.alerts --simulated          # the simulator's own fleet instead of C-MAPSS

C-MAPSS (default): the engines of the development split's train.txt (bench.cmapss_split of
`--cmapss`, by default ../shared/data/cmapss/train_FD001.txt, 20 engines held out; made here when
absent) are replayed through the product (bench.cmapss_replay_stack:
`plantwatch simulate --replay-cmapss` → MQTT → `plantwatch ingest` → PostgreSQL, failure events
through `plantwatch api`) and the RUL model is trained from the database through the RUL job
(`ensemble: 1`; bench.cmapss_replay_model); it becomes the champion of scope "default". The training
engines are then retired, and the held-out engines of the split, never seen in training, are
replayed whole, all in parallel, while the real `plantwatch scheduler` process runs `score_machines`,
`evaluate_alerts` and `notify_alerts` (when registered) on its UTC grid.

The compressed clock: one cycle lasts `--pace` seconds of wall-clock time (1 s; the readings carry
wall-clock timestamps, as from a real line). The scheduler scores every `--score-interval-s` (10 s,
the lowest the settings allow, so one prediction per 10 cycles) and evaluates the rules every second;
the rules' minimum duration is 0 cycles (`--min-duration-cycles`): in production a C-MAPSS cycle is a
flight of hours, and the default wait (300 s) is a small fraction of one; staleness is three scoring
periods, as with the defaults (bench.alerts_stack.clock_env). The alert thresholds are the settings'
defaults, not tuned here. Predictions come once per 10 cycles where production, with several
scorings per cycle, would have one per cycle: alerts may open up to 10 cycles later than they would
there, so leads and recall here are, if anything, pessimistic. Measured (docs/benchmarks.md, 2
cores): a scoring of the 20 engines took 0.16 s on average and an evaluation of the rules 0.22 s, so
the scheduler keeps this clock with room; the whole C-MAPSS run takes about 9 minutes.

Afterwards the readings, failure events and alerts (rules rul_low and failure_probability_high) are
read back; times become cycles through each engine's reading timestamps (bench.alerts_figures says
how, and defines recall, median_lead, p10_lead, false_alarm_rate; L = `--lead`, H = `--horizon`,
default 10 and 60 cycles, as the issue fixes them). Baseline, from the same lives with the same figures:
time-based maintenance, an alert when a machine's age reaches A, A chosen on the training lives only
(their 5th percentile of life minus L, so that 95% of training lives would be warned L cycles ahead).
duplicate_notifications counts deliveries received twice by a local webhook and an MQTT subscriber
(bench.alerts_notify); null when no notification job is registered. `--simulated` is
bench.alerts_simulated.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench.alerts_db import failure_ages
from bench.alerts_figures import baseline_age
from bench.alerts_measure import TARGETS, evaluation_phase, summarise
from bench.alerts_stack import AlertStack
from bench.cmapss_data import read_cmapss
from bench.cmapss_replay import bench_config
from bench.cmapss_split import split_file
from bench.common import REPO, emit, setup_logging
from models.config import RulConfig

log = logging.getLogger("bench.alerts")

DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "cmapss" / "train_FD001.txt"
HOLDOUT_LINE = "holdout"  # the held-out engines become cmapss/holdout/engine-NNN


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.alerts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--simulated", action="store_true", help="the simulator's own fleet, not C-MAPSS")
    parser.add_argument(
        "--cmapss",
        dest="source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="C-MAPSS run-to-failure file to split",
    )
    parser.add_argument(
        "--split-dir", type=Path, help="bench.cmapss_split output (default: var/bench/alerts-<file>-s<seed>)"
    )
    parser.add_argument("--holdout", type=int, default=20, help="engines held out when making the split")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split when making it")
    parser.add_argument("--lead", type=int, default=10, help="L: cycles of warning that make a timely alert")
    parser.add_argument(
        "--horizon",
        type=int,
        default=60,
        help="H: an alert earlier than this before a failure is a false alarm",
    )
    parser.add_argument("--pace", type=float, help="seconds per cycle (default 1; 0.5 with --simulated)")
    parser.add_argument("--score-interval-s", type=int, default=10, help="the scheduler's score_interval_s")
    parser.add_argument("--min-duration-cycles", type=float, default=0.0, help="the rules' minimum duration")
    parser.add_argument(
        "--train-interval", type=float, default=0.1, help="seconds per tick replaying train.txt"
    )
    parser.add_argument("--config", default="{}", help="JSON overrides of the bench's RulConfig")
    parser.add_argument("--sim-lines", type=int, default=2, help="--simulated: lines per site")
    parser.add_argument("--sim-machines", type=int, default=10, help="--simulated: machines per line")
    parser.add_argument("--sim-seed", type=int, default=7, help="--simulated: the simulator's seed")
    parser.add_argument(
        "--sim-train-s", type=float, default=60.0, help="--simulated: seconds of training history"
    )
    parser.add_argument(
        "--sim-train-interval", type=float, default=0.05, help="--simulated: its tick, seconds"
    )
    parser.add_argument("--sim-eval-s", type=float, default=480.0, help="--simulated: seconds evaluated")
    parser.add_argument("--out", type=Path, help="also write the JSON line here")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs, database)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.pace is None:
        args.pace = 0.5 if args.simulated else 1.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop what this run started
    config = bench_config(args.config)
    began, load = time.time(), os.getloadavg()[0]
    if args.simulated:
        from bench.alerts_simulated import run_simulated

        mode, measured, extra = "simulated", *run_simulated(args, config)
    else:
        mode, measured, extra = "cmapss", *run_cmapss(args, config)
    emit(summarise(mode, args, measured, extra, began, load), args.out)
    return 0


def split_files(args: argparse.Namespace, work: Path) -> tuple[Path, Path]:
    """The split's train.txt (made when absent) and its held-out engines whole, written to `work`."""
    if args.split_dir is None:
        args.split_dir = REPO / "var" / "bench" / f"alerts-{args.source.stem}-s{args.seed}-h{args.holdout}"
    train = args.split_dir / "train.txt"
    if not train.exists():
        log.info("making the development split in %s", args.split_dir)
        split_file(args.source, args.split_dir, args.holdout, args.seed, cuts=5)
    trained = {line.split()[0] for line in train.read_text().splitlines() if line.strip()}
    held = [
        line
        for line in args.source.read_text().splitlines()
        if line.strip() and line.split()[0] not in trained
    ]
    holdout = work / f"{HOLDOUT_LINE}.txt"
    holdout.write_text("\n".join(held) + "\n")
    return train, holdout


def run_cmapss(args: argparse.Namespace, config: RulConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    stack = AlertStack()
    try:
        train, holdout = split_files(args, stack.work)
        train_data, held_data = read_cmapss(train), read_cmapss(holdout)
        rows = len(train_data.units) + len(held_data.units)
        engines = len(train_data.unit_ids) + len(held_data.unit_ids)
        stack.start()
        log.info("replaying %d training engines from %s", len(train_data.unit_ids), train)
        stack.replay(train, len(train_data.units), len(train_data.unit_ids), args.train_interval)
        model = stack.train(config)
        with stack.session_factory()() as session:
            lives = failure_ages(session, "cmapss/train/")
        age = baseline_age(lives, args.lead, TARGETS["recall"])
        log.info("retired %d training engines; baseline alert age %d", stack.retire("cmapss/train/"), age)

        def feed() -> dict[str, Any]:
            log.info("replaying %d held-out engines at %g s a cycle", len(held_data.unit_ids), args.pace)
            return stack.replay(holdout, rows, engines, args.pace)

        measured = evaluation_phase(
            stack, args, feed, f"cmapss/{HOLDOUT_LINE}/", new_at_start=True, window=config.window, age=age
        )
        extra = {
            "model": model,
            "training_engines": len(train_data.unit_ids),
            "held_out_engines": len(held_data.unit_ids),
            "split": str(args.split_dir),
            "broker": stack.broker.kind,
            "config": config.to_dict(),
        }
        return measured, extra
    finally:
        stack.close(args.keep)


if __name__ == "__main__":
    sys.exit(main())
