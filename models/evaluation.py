"""RUL error measures and the split-conformal prediction interval.

The interval is split-conformal with two one-sided offsets (each at miscoverage alpha/2) computed on
the signed residuals `truth - prediction` of held-out calibration machines; the lower end is clipped
at 0 (a RUL is never negative) and the interval always contains the point prediction. With n
calibration residuals the finite-sample quantile level is ceil((n + 1)(1 - alpha/2)) / n, which
guarantees coverage >= 1 - alpha for exchangeable data.

Errors grow with the distance to failure and shrink again at the cap, and a test set cut at random
cycles does not weigh life stages like a calibration set of every window does, so the offsets are
computed per bin of predicted RUL (Mondrian conformal): coverage then holds within each bin, whatever
the mix of life stages being scored.

Calibration residuals come in groups (a machine's windows, strongly correlated), and a test scores each
machine once, so a dozen calibration machines stand for a dozen draws, not thousands: offsets at the
nominal level then cover new machines less often than nominal. Given the groups, the level is raised
(by LEVEL_STEP, at most MAX_LEVEL) until offsets fitted without each group cover that group's
residuals at the nominal share on average (leave one group out, groups weighted equally); fewer than
3 groups are too few to judge and keep the nominal level. `level` records the level used.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from models.windows import Runs, Windows, true_rul_within

log = logging.getLogger(__name__)


def rmse(truth: ArrayLike, predicted: ArrayLike) -> float:
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return float(np.sqrt(np.mean(d**2))) if d.size else math.nan


def phm08_score(truth: ArrayLike, predicted: ArrayLike) -> float:
    """PHM08 challenge score: late predictions (d = predicted - truth > 0) cost more than early ones."""
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


@dataclass(frozen=True)
class Conformal:
    """Offsets added to a point prediction, per bin of predicted RUL (Mondrian conformal).

    interval = [max(0, pred + low[b]), pred + high[b]] where b is the bin of `pred` among `edges`.
    """

    edges: tuple[float, ...]  # inner bin edges on the predicted RUL, ascending; () for a single bin
    low: tuple[float, ...]  # per bin (len(edges) + 1)
    high: tuple[float, ...]
    coverage: float  # nominal, e.g. 0.9
    n_calibration: int
    level: float  # the quantile level the offsets were fitted at: `coverage` or above (see above)

    @classmethod
    def calibrate(
        cls,
        truth: ArrayLike,
        predicted: ArrayLike,
        coverage: float = 0.9,
        bins: int = 1,
        min_per_bin: int = 50,
        groups: ArrayLike | None = None,
    ) -> Conformal:
        """Offsets from calibration residuals; up to `bins` bins of equal count (at least `min_per_bin`).

        `groups` (one label per residual, say its machine): raise the level as the module says.
        """
        t = np.asarray(truth, dtype=np.float64)
        p = np.asarray(predicted, dtype=np.float64)
        known = ~np.isnan(t) & ~np.isnan(p)
        t, p = t[known], p[known]
        if not 0 < coverage < 1:
            raise ValueError("coverage must be between 0 and 1")
        edges = _edges(p, bins, min_per_bin)
        level = coverage
        if groups is not None:
            level = _group_level(t, p, np.asarray(groups)[known], coverage, edges)
        low, high = _fit(t, p, level, edges)
        return cls(edges, low, high, coverage, int(t.size), level)

    def interval(self, predicted: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return _bounds(self.edges, self.low, self.high, np.asarray(predicted, dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "low": list(self.low), "high": list(self.high),
                "coverage": self.coverage, "n_calibration": self.n_calibration,
                "level": self.level}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conformal:
        edges, low, high = (tuple(float(v) for v in data[k]) for k in ("edges", "low", "high"))
        if len(low) != len(edges) + 1 or len(high) != len(low) or list(edges) != sorted(edges):
            raise ValueError("inconsistent conformal description")
        coverage = float(data["coverage"])
        level = float(data.get("level", coverage))  # absent from artifacts saved before it existed
        return cls(edges, low, high, coverage, int(data["n_calibration"]), level)

    @classmethod
    def none(cls, coverage: float = 0.9) -> Conformal:
        """A zero-width interval: for raw point predictions before calibration."""
        return cls((), (0.0,), (0.0,), coverage, 0, coverage)


def interval_truth(runs: Runs, w: Windows, max_rul: float | None) -> NDArray[np.float32]:
    """The labels an interval is calibrated on, NaN for windows left out.

    None: the capped RUL of every labelled window. A number: the true (uncapped) RUL of the failed
    runs' windows at most `max_rul` cycles from failure, as when machines are scored at random points
    of their last `max_rul` cycles; the interval then covers the true RUL, also above the cap.
    """
    if max_rul is None:
        return w.rul
    return true_rul_within(runs, w, max_rul)


MAX_LEVEL = 0.99
LEVEL_STEP = 0.005


def _edges(p: NDArray[np.float64], bins: int, min_per_bin: int) -> tuple[float, ...]:
    """Inner edges of up to `bins` bins of about equal count of predictions (`min_per_bin` per bin)."""
    bins = max(1, min(bins, p.size // max(min_per_bin, 1)))
    edges = np.unique(np.quantile(p, np.arange(1, bins) / bins)) if bins > 1 else np.empty(0)
    counts = np.bincount(np.searchsorted(edges, p, side="right"), minlength=edges.size + 1)
    # Tied predictions can leave a bin empty: drop its upper edge (the last bin holds the largest)
    return tuple(float(e) for e, n in zip(edges, counts[:-1], strict=True) if n > 0)


def _bins(edges: tuple[float, ...], p: NDArray[np.float64]) -> NDArray[np.intp]:
    return np.searchsorted(np.asarray(edges, dtype=np.float64), p, side="right")


def _fit(
    t: NDArray[np.float64], p: NDArray[np.float64], level: float, edges: tuple[float, ...]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Each bin's (low, high) offsets at `level`."""
    which = _bins(edges, p)
    offsets = [_offsets(t[which == b] - p[which == b], level) for b in range(len(edges) + 1)]
    return tuple(lo for lo, _ in offsets), tuple(hi for _, hi in offsets)


def _bounds(
    edges: tuple[float, ...], low: tuple[float, ...], high: tuple[float, ...], p: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    b = _bins(edges, p)
    return np.maximum(p + np.asarray(low)[b], 0.0), np.maximum(p + np.asarray(high)[b], 0.0)


def _feasible(p: NDArray[np.float64], edges: tuple[float, ...], level: float) -> bool:
    """Whether every bin holds enough residuals for offsets at `level` (see _offsets)."""
    counts = np.bincount(_bins(edges, p), minlength=len(edges) + 1)
    return all(0 < math.ceil((n + 1) * (1 - (1 - level) / 2)) <= n for n in counts)


def _group_level(
    t: NDArray[np.float64],
    p: NDArray[np.float64],
    groups: NDArray[Any],
    coverage: float,
    edges: tuple[float, ...],
) -> float:
    """The lowest level from `coverage` up (by LEVEL_STEP, at most MAX_LEVEL) covering left-out groups."""
    names = np.unique(groups)
    if names.size < 3:
        log.info("%d calibration machine(s), too few to judge: the interval keeps the nominal level",
                 names.size)  # fmt: skip
        return coverage
    steps = round((MAX_LEVEL - coverage) / LEVEL_STEP)
    levels = [
        lv
        for lv in (round(coverage + i * LEVEL_STEP, 6) for i in range(steps + 1))
        if _feasible(p, edges, lv)
    ]
    if not levels:
        return coverage  # too few residuals even for the nominal level: _offsets says so

    def covers(level: float) -> bool:
        return _left_out_coverage(t, p, groups, names, level, edges) >= coverage

    if not covers(levels[-1]):
        log.warning("at level %.3f, the highest the calibration residuals allow, the interval covers "
                    "machines left out less often than %.0f%%", levels[-1], coverage * 100)  # fmt: skip
        return levels[-1]
    first, last = 0, len(levels) - 1  # left-out coverage grows with the level: bisect
    while first < last:
        middle = (first + last) // 2
        first, last = (first, middle) if covers(levels[middle]) else (middle + 1, last)
    return levels[first]


def _left_out_coverage(
    t: NDArray[np.float64],
    p: NDArray[np.float64],
    groups: NDArray[Any],
    names: NDArray[Any],
    level: float,
    edges: tuple[float, ...],
) -> float:
    """Mean over groups of the share of a group's residuals inside offsets fitted on the other groups.

    A group whose absence leaves a bin too few residuals for `level` is not judged.
    """
    shares = []
    for name in names:
        mine = groups == name
        if not _feasible(p[~mine], edges, level):
            continue
        low, high = _bounds(edges, *_fit(t[~mine], p[~mine], level, edges), p[mine])
        shares.append(float(np.mean((t[mine] >= low) & (t[mine] <= high))))
    return float(np.mean(shares)) if shares else math.inf  # none judged: nothing says to go higher


def _offsets(residual: NDArray[np.float64], coverage: float) -> tuple[float, float]:
    n = residual.size
    k = math.ceil((n + 1) * (1 - (1 - coverage) / 2))  # 1-based rank of the upper offset
    if n == 0 or k > n:
        raise ValueError(f"{n} calibration residuals are too few for a {coverage:.0%} interval")
    ordered = np.sort(residual)
    # The interval always contains the point prediction (widening it keeps the coverage guarantee).
    return min(float(ordered[n - k]), 0.0), max(float(ordered[k - 1]), 0.0)


def interval_quality(truth: ArrayLike, low: ArrayLike, high: ArrayLike) -> tuple[float, float]:
    """(coverage, mean width): the share of truths inside [low, high] and the average high - low."""
    t = np.asarray(truth, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    hi = np.asarray(high, dtype=np.float64)
    if t.size == 0:
        return math.nan, math.nan
    return float(np.mean((t >= lo) & (t <= hi))), float(np.mean(hi - lo))


def rul_metrics(truth: ArrayLike, predicted: ArrayLike, conformal: Conformal | None) -> dict[str, float]:
    """rmse, mae, PHM08 score (sum and mean per prediction) and, with an interval, coverage and width."""
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    score = phm08_score(t, p)
    out = {
        "rmse": rmse(t, p),
        "mae": float(np.mean(np.abs(p - t))) if t.size else math.nan,
        "score": score,
        "score_mean": score / t.size if t.size else math.nan,
        "n": float(t.size),
    }
    if conformal is not None:
        lo, hi = conformal.interval(p)
        out["coverage"], out["interval_width"] = interval_quality(t, lo, hi)
    return out
