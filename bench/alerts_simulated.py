"""bench.alerts --simulated: the same figures on the simulator's own fleet (plantwatch/simulation.py).

Its machines degrade, fail, are repaired (a `maintenance` event) and start again from new, so they
have healthy periods between failures. History: `plantwatch simulate` runs site-1 (`--sim-lines` x
`--sim-machines` machines) at a fast tick (`--sim-train-interval`) for `--sim-train-s`, and the RUL
model is trained from it through the job, as for C-MAPSS. Site-1 is then retired and the simulator
restarted with two sites at `--pace` seconds a tick: only site-2, whose machines never appeared in
training (each machine's randomness is seeded by its path), is evaluated, for `--sim-eval-s` while
the scheduler runs. A tick is a cycle.

Each machine starts part-way through its first life (at a random wear), so a first life counts only
when its failure event states the machine's age and at least window + H of its cycles were seen;
a life still running at the end counts up to H cycles before its end (bench.alerts_figures). The
baseline's alert age comes from the ages at failure of the training history.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from bench.alerts_db import failure_ages
from bench.alerts_figures import baseline_age
from bench.alerts_measure import TARGETS, evaluation_phase
from bench.alerts_stack import AlertStack
from models.config import RulConfig

log = logging.getLogger("bench.alerts")

TRAIN_SITE, EVAL_SITE = "site-1/", "site-2/"


def run_simulated(args: argparse.Namespace, config: RulConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    fleet = ["--lines", str(args.sim_lines), "--machines", str(args.sim_machines)]
    stack = AlertStack()
    try:
        stack.start()
        log.info(
            "training history: site-1 for %g s at %g s a tick", args.sim_train_s, args.sim_train_interval
        )
        history = stack.run_fleet(
            ["--sites", "1", *fleet, "--interval", str(args.sim_train_interval)],
            args.sim_train_s, TRAIN_SITE, args.sim_seed,
        )  # fmt: skip
        with stack.session_factory()() as session:
            ages = failure_ages(session, TRAIN_SITE)
        if len(ages) < 3:
            raise RuntimeError(f"only {len(ages)} failures in the training history: raise --sim-train-s")
        model = stack.train(config)
        age = baseline_age(ages, args.lead, TARGETS["recall"])
        log.info("retired %d training machines; baseline alert age %d", stack.retire(TRAIN_SITE), age)

        def feed() -> dict[str, Any]:
            log.info("evaluating site-2 for %g s at %g s a tick", args.sim_eval_s, args.pace)
            return stack.run_fleet(
                ["--sites", "2", *fleet, "--interval", str(args.pace)],
                args.sim_eval_s,
                EVAL_SITE,
                args.sim_seed,
            )

        measured = evaluation_phase(
            stack, args, feed, EVAL_SITE, new_at_start=False, window=config.window, age=age
        )
        extra = {
            "model": model,
            "training_history": {**history, "failures": len(ages), "seconds": args.sim_train_s},
            "evaluated_seconds": args.sim_eval_s,
            "broker": stack.broker.kind,
            "config": config.to_dict(),
            "note": _note(measured, args),
        }
        return measured, extra
    finally:
        stack.close(args.keep)


def _note(measured: dict[str, Any], args: argparse.Namespace) -> str:
    return (
        f"{measured['failures']} failures of site-2 within {args.sim_eval_s:g} s "
        f"({args.sim_eval_s / args.pace:.0f} ticks; lives last 360-840 ticks); "
        f"{measured['lives_not_counted']} lives not counted (first lives seen for fewer than window + H "
        "ticks, or still running with no known age); the model learned from "
        f"{args.sim_train_s:g} s of history at {args.sim_train_interval:g} s a tick"
    )
