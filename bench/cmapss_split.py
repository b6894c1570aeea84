"""Make official-format development files from a C-MAPSS training file, holding engines out by engine.

    python -m bench.cmapss_split --train ../shared/data/cmapss/train_FD001.txt --holdout 20 \\
        --out var/bench/cmapss-dev/

writes `train.txt` (the other engines, whole), `test.txt` (each held-out engine cut at a random cycle,
renumbered 1..n) and `RUL.txt` (the cycles removed from each, i.e. its true RUL at the cut), so that
`bench.cmapss` can be tuned without ever touching the official test set. The number of cycles removed
is drawn uniformly between 1 and `--max-rul` (145, the largest true RUL of the official FD001 test
set, as published with the data), keeping at least `--min-keep` cycles (31, the shortest official
test series). `--cuts N` cuts each held-out engine at N random points, each a test unit of its own,
which makes the estimate less noisy than one cut of a few engines. `--folds K --fold k` holds out the
k-th of K disjoint groups of engines instead of a random `--holdout` (see `bench.cmapss_cv`, which
runs every fold so that each engine is tested once).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from bench.common import setup_logging

log = logging.getLogger("bench.cmapss_split")


def split_file(
    train: Path,
    out: Path,
    holdout: int,
    seed: int = 0,
    min_keep: int = 31,
    max_rul: int = 145,
    cuts: int = 1,
    fold: tuple[int, int] | None = None,
) -> tuple[Path, Path, Path]:
    """Write train.txt, test.txt and RUL.txt under `out`; returns their paths.

    `fold` = (k, K): hold out group k of the engines shuffled with `seed` and dealt into K groups
    (then `holdout` is ignored); the cuts are drawn with `seed` + k.
    """
    lines = [line for line in train.read_text().splitlines() if line.strip()]
    units = np.asarray([int(float(line.split()[0])) for line in lines])
    unit_ids = np.unique(units)
    if fold is not None:
        k, folds = fold
        if not 0 <= k < folds <= len(unit_ids) or folds < 2:
            raise ValueError(f"--fold must be in 0..{folds - 1} and --folds in 2..{len(unit_ids)}")
        held = np.sort(np.random.default_rng(seed).permutation(unit_ids)[k::folds])
        rng = np.random.default_rng(seed + k)
    elif not 0 < holdout < len(unit_ids):
        raise ValueError(f"--holdout must be between 1 and {len(unit_ids) - 1}")
    else:
        rng = np.random.default_rng(seed)
        held = np.sort(rng.choice(unit_ids, size=holdout, replace=False))
    held_set = {int(u) for u in held}
    train_lines = [line for line, u in zip(lines, units, strict=True) if int(u) not in held_set]
    test_lines: list[str] = []
    removed: list[int] = []
    new_id = 0
    for unit in held:
        rows = [line.split() for line, u in zip(lines, units, strict=True) if u == unit]
        rows.sort(key=lambda r: int(float(r[1])))
        # The true RUL at the cut: at least 1, at most max_rul, leaving at least min_keep cycles.
        most = max(1, min(max_rul, len(rows) - min_keep))
        for rul in rng.integers(1, most + 1, size=cuts):
            new_id += 1
            removed.append(int(rul))
            test_lines += [" ".join([str(new_id), *r[1:]]) for r in rows[: len(rows) - int(rul)]]
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / "train.txt", out / "test.txt", out / "RUL.txt")
    paths[0].write_text("\n".join(train_lines) + "\n")
    paths[1].write_text("\n".join(test_lines) + "\n")
    paths[2].write_text("\n".join(str(r) for r in removed) + "\n")
    log.info(
        "held out %d engines (%s) as %d test units; true RUL mean %.1f, range %d-%d",
        len(held), ", ".join(str(u) for u in held), len(removed),
        float(np.mean(removed)), min(removed), max(removed),
    )  # fmt: skip
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True, help="a C-MAPSS training file")
    parser.add_argument("--holdout", type=int, default=20, help="engines to hold out as the test set")
    parser.add_argument("--out", type=Path, required=True, help="folder for train.txt, test.txt, RUL.txt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-rul", type=int, default=145, help="largest true RUL at a cut")
    parser.add_argument("--cuts", type=int, default=1, help="random cuts per held-out engine")
    parser.add_argument("--min-keep", type=int, default=31, help="fewest cycles kept per test engine")
    parser.add_argument("--folds", type=int, help="deal the engines into this many disjoint groups")
    parser.add_argument("--fold", type=int, default=0, help="with --folds: the group to hold out (0-based)")
    args = parser.parse_args(argv)
    setup_logging()
    fold = (args.fold, args.folds) if args.folds else None
    for path in split_file(
        args.train, args.out, args.holdout, args.seed, args.min_keep, args.max_rul, args.cuts, fold
    ):
        print(path)


if __name__ == "__main__":
    main()
