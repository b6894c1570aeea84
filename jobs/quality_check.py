"""The `quality_check` job: a line whose defect rate leaves its p-chart limits gets a `quality` alert.

Runs once per quality sample (`quality_bucket_s`), just after a sample ends, and judges that sample
for every station of every line that had inspections in it (see services/quality.py for the chart).
One alert per line names the stations out of control; it is resolved by `system` when a later sample
is back within the limits, or when the `quality` rule is switched off for the line.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.repositories.alert_rules import list_rules
from db.tables import Inspection, Line
from plantwatch.settings import Settings
from services import alerts
from services.alert_rules import effective_thresholds
from services.quality import last_complete_sample, p_chart

RULE = "quality"
SEVERITY = "warning"
NO_MACHINE = 0  # a line's rule: no machine override can apply

log = logging.getLogger(__name__)


def quality_check(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    start, end = last_complete_sample(now, settings.quality_bucket_s)
    stations = session.execute(
        select(Inspection.line_id, Inspection.station)
        .where(Inspection.taken_at >= start, Inspection.taken_at < end)
        .distinct()
        .order_by(Inspection.line_id, Inspection.station)
    ).all()
    rules = list_rules(session, RULE)
    out_of_control: dict[int, list[str]] = {}
    for line_id, station in stations:
        if not effective_thresholds(rules, RULE, NO_MACHINE, line_id, settings).enabled:
            continue  # switched off for this line (PUT /api/v1/alert-rules/quality)
        samples = p_chart(
            session,
            line_id,
            station,
            start,
            end,
            bucket_s=settings.quality_bucket_s,
            baseline=settings.quality_baseline_buckets,
            good_labels=settings.qc_good_labels,
        )
        for sample in samples:
            if sample.out_of_control and sample.upper is not None:
                out_of_control.setdefault(line_id, []).append(
                    f"{station}: {sample.defective} of {sample.inspected} defective "
                    f"({sample.rate:.1%}, upper limit {sample.upper:.1%})"
                )
    for line_id, findings in out_of_control.items():
        line = session.get(Line, line_id)
        message = f"defect rate out of control on {line.name if line else line_id}: " + "; ".join(findings)
        alerts.raise_or_update(session, None, RULE, SEVERITY, message, now, line_id=line_id)
        log.warning(message)
    resolved = alerts.resolve_cleared_lines(session, RULE, list(out_of_control), now)
    return {
        "sample_start": start.isoformat(),
        "stations": len(stations),
        "lines_out_of_control": len(out_of_control),
        "resolved": resolved,
    }
