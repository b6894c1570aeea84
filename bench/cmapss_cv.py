"""RUL benchmark cross-validated by engine: every training engine is a test engine once.

    python -m bench.cmapss_cv --train ../shared/data/cmapss/train_FD001.txt [--folds 5] [--cuts 5] \\
        [--config '{"ensemble": 1}'] [--out result.json] [--predictions DIR]

One held-out split of 20 engines moves the RMSE by about two cycles between seeds, more than most
changes worth trying. Here the engines are dealt into `--folds` disjoint groups; for each group
`bench.cmapss_split` cuts its engines at `--cuts` random points (official format) and `bench.cmapss`
trains on the other engines and scores the cuts. The figures are pooled over all test units (so
over every engine): `rmse` and `rmse_capped`, `score_per_100` (the PHM08 sum per 100 test units, the
size of the official test set), `coverage`, `interval_width` and `by_stage` (see `bench.cmapss`);
`folds` keeps each fold's own line; `--predictions DIR` keeps each fold's test units (see
`bench.cmapss --predictions`) as `DIR/foldK.csv`, to combine runs afterwards (say, averaging seeds).
Prints one JSON line on stdout (logs on stderr). Uses the training file only, never a test set.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import tempfile
from pathlib import Path
from typing import Any

import keras

from bench.cmapss import DEFAULT_CONFIG, run
from bench.cmapss_split import split_file
from bench.common import emit, machine, setup_logging
from models.config import RulConfig

log = logging.getLogger("bench.cmapss_cv")

FOLD_FIGURES = ("engines", "rmse", "rmse_capped", "score", "coverage", "interval_width", "interval_level",
                "train_seconds", "epochs_run")  # fmt: skip


def pooled_rmse(parts: list[tuple[float, int]]) -> float:
    """The RMSE over the union of parts given as (rmse, number of units)."""
    return round(math.sqrt(sum(rmse**2 * n for rmse, n in parts) / sum(n for _, n in parts)), 3)


def pooled(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Figures over the union of the folds' test units (each fold weighted by its number of units)."""
    n = sum(r["engines"] for r in results)

    def mean(key: str) -> float:
        return sum(r[key] * r["engines"] for r in results) / n

    return {
        "units": n,
        "rmse": pooled_rmse([(r["rmse"], r["engines"]) for r in results]),
        "rmse_capped": pooled_rmse([(r["rmse_capped"], r["engines"]) for r in results]),
        "score_per_100": round(sum(r["score"] for r in results) * 100 / n, 1),
        "coverage": round(mean("coverage"), 3),
        "interval_width": round(mean("interval_width"), 2),
        "train_seconds_mean": round(sum(r["train_seconds"] for r in results) / len(results), 1),
        "validation_rmse_mean": round(sum(r["validation"]["rmse"] for r in results) / len(results), 3),
        "by_stage": pooled_stages([r["by_stage"] for r in results]),
    }


def pooled_stages(stages: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """`bench.cmapss`'s error by stage over the union of the folds' test units."""
    out: dict[str, dict[str, float]] = {}
    for name in stages[0]:
        parts = [s[name] for s in stages if s[name]["n"]]
        n = sum(p["n"] for p in parts)
        out[name] = {"n": n}
        if n:
            out[name].update(
                rmse=pooled_rmse([(p["rmse"], int(p["n"])) for p in parts]),
                bias=round(sum(p["bias"] * p["n"] for p in parts) / n, 3),
            )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True, help="C-MAPSS training file (run to failure)")
    parser.add_argument("--folds", type=int, default=5, help="disjoint groups of engines")
    parser.add_argument("--cuts", type=int, default=5, help="random cuts per held-out engine")
    parser.add_argument("--seed", type=int, default=0, help="seed of the grouping and the cuts")
    parser.add_argument("--config", default="{}", help="JSON overrides of models.config.RulConfig fields")
    parser.add_argument("--out", type=Path, help="also write the JSON line here")
    parser.add_argument("--predictions", type=Path, help="write each fold's test units to DIR/foldK.csv")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    config = RulConfig.merged(DEFAULT_CONFIG, json.loads(args.config))
    results = []
    with tempfile.TemporaryDirectory(prefix="cmapss-cv-") as tmp:
        for k in range(args.folds):
            folder = Path(tmp) / f"fold{k}"
            train, test, rul = split_file(
                args.train, folder, 0, args.seed, cuts=args.cuts, fold=(k, args.folds)
            )
            keras.backend.clear_session()
            predictions = args.predictions / f"fold{k}.csv" if args.predictions else None
            result = run(train, test, rul, config, folder / "model", threads=2, repeats=1,
                         predictions=predictions)  # fmt: skip
            log.info("fold %d/%d: rmse %.2f, score %.0f", k + 1, args.folds, result["rmse"], result["score"])
            results.append(result)
    summary = {
        "benchmark": "cmapss_rul_cv",
        "train_file": args.train.name,
        **pooled(results),
        "folds": [{key: r[key] for key in FOLD_FIGURES} for r in results],
        "config": json.dumps(config.to_dict(), separators=(",", ":")),
        "seed": args.seed,
        "machine": machine(),
    }
    emit(summary, args.out)


if __name__ == "__main__":
    main()
