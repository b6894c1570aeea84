"""Quality statistics for the API: a line's (or station's) p-chart over a time range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import invalid, not_found
from api.quality.schemas import QualityOut, QualitySampleOut
from db.tables import Line, Site
from plantwatch.settings import Settings
from services.quality import p_chart

DEFAULT_SPAN = timedelta(days=7)
MAX_SAMPLES = 10_000


def line_quality(
    session: Session,
    settings: Settings,
    line: Line,
    station: str | None,
    start: datetime | None,
    end: datetime | None,
) -> QualityOut:
    end = end or datetime.now(UTC)
    start = start or end - DEFAULT_SPAN
    if start >= end:
        raise invalid(f"query.start: must be before end ({start.isoformat()} >= {end.isoformat()})")
    bucket = settings.quality_bucket_s
    if (end - start).total_seconds() / bucket > MAX_SAMPLES:
        raise invalid(f"query.start: at most {MAX_SAMPLES} samples of {bucket} s at a time")
    samples = p_chart(
        session,
        line.id,
        station,
        start,
        end,
        bucket_s=bucket,
        baseline=settings.quality_baseline_buckets,
        good_labels=settings.qc_good_labels,
    )
    return QualityOut(
        site=line.site.name,
        line=line.name,
        station=station,
        bucket_s=bucket,
        baseline_samples=settings.quality_baseline_buckets,
        good_labels=settings.qc_good_labels,
        samples=[QualitySampleOut(**sample.__dict__) for sample in samples],
    )


def find_line(session: Session, site: str, line: str) -> Line:
    found = session.scalar(select(Line).join(Line.site).where(Site.name == site, Line.name == line))
    if found is None:
        raise not_found(f"no line {line!r} at site {site!r}")
    return found


def find_line_path(session: Session, path: str, where: str) -> Line:
    """The line named `site/line`; 422 naming `where` (e.g. "query.line") when it is not that shape."""
    site, sep, line = path.partition("/")
    if not sep or not site or not line or "/" in line:
        raise invalid(f"{where}: give the line as site/line")
    return find_line(session, site, line)
