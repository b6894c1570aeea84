"""Quality statistics of a line (or one of its stations): defect rate over time with p-chart limits.

Inspections are counted per sample (a time bucket of `bucket_s` seconds). An inspection is defective
when its class (the known label if someone gave one, else the classifier's) is not one of the good
labels; inspections without either are not counted yet. The control limits of each sample come
from the `baseline` samples before it: centre p̄ = defects / inspected over them, limits
p̄ ± 3·sqrt(p̄(1 - p̄) / n) for the sample's own n. A sample above its upper limit is out of control.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

MIN_BASELINE_INSPECTIONS = 30  # fewer, and p̄ is too uncertain to draw limits from

_COUNTS = text(
    """
    SELECT floor(extract(epoch FROM taken_at) / :bucket)::bigint AS k,
           count(*) AS inspected,
           count(*) FILTER (WHERE NOT (coalesce(known_label, predicted_label) = ANY(:good))) AS defective
    FROM inspections
    WHERE line_id = :line AND (CAST(:station AS text) IS NULL OR station = :station)
      AND taken_at >= :start AND taken_at < :end
      AND coalesce(known_label, predicted_label) IS NOT NULL
    GROUP BY k ORDER BY k
    """
)


@dataclass(frozen=True)
class QualitySample:
    start: datetime
    inspected: int
    defective: int
    rate: float
    center: float | None  # p̄ of the baseline; None when it has too few inspections
    upper: float | None
    lower: float | None
    out_of_control: bool


def p_chart(
    session: Session,
    line_id: int,
    station: str | None,
    start: datetime,
    end: datetime,
    *,
    bucket_s: int,
    baseline: int,
    good_labels: Sequence[str],
) -> list[QualitySample]:
    """The samples in [start, end) that have inspections, oldest first, each with its limits."""
    first = math.floor(start.timestamp() / bucket_s)
    rows = session.execute(
        _COUNTS,
        {
            "bucket": bucket_s,
            "good": list(good_labels),
            "line": line_id,
            "station": station,
            "start": datetime.fromtimestamp((first - baseline) * bucket_s, UTC),
            "end": end,
        },
    ).all()
    counts = {int(k): (int(n), int(d)) for k, n, d in rows}
    samples = []
    for k in sorted(key for key in counts if key >= first):
        n, d = counts[k]
        before = [counts[j] for j in range(k - baseline, k) if j in counts]
        total = sum(c[0] for c in before)
        center = upper = lower = None
        if total >= MIN_BASELINE_INSPECTIONS:
            center = sum(c[1] for c in before) / total
            spread = 3 * math.sqrt(center * (1 - center) / n)
            upper, lower = min(1.0, center + spread), max(0.0, center - spread)
        samples.append(
            QualitySample(
                start=datetime.fromtimestamp(k * bucket_s, UTC),
                inspected=n,
                defective=d,
                rate=d / n,
                center=center,
                upper=upper,
                lower=lower,
                out_of_control=upper is not None and d / n > upper,
            )
        )
    return samples


def last_complete_sample(now: datetime, bucket_s: int) -> tuple[datetime, datetime]:
    """[start, end) of the newest sample that has ended by `now`."""
    end = datetime.fromtimestamp(math.floor(now.timestamp() / bucket_s) * bucket_s, UTC)
    return end - timedelta(seconds=bucket_s), end
