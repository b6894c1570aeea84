"""One sensor's readings for the API: raw points or 1-minute / 1-hour buckets over a window, as
models or as JSON written straight from the database (sealed hours from the series cache), and where
the rest of a series cut at its limit starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from pydantic_core import to_json
from sqlalchemy.orm import Session

from api.errors import invalid, not_found
from api.machines.schemas import BucketedSeriesOut, SeriesOut
from api.series_cache import SeriesCache
from db.repositories import assets as assets_repo
from db.repositories import readings as readings_repo
from db.repositories import rollups as rollups_repo
from db.rollups import SealedState, ceil_to, floor_to

DEFAULT_WINDOW = timedelta(hours=24)
AUTO_RAW_UP_TO = timedelta(hours=6)
AUTO_1M_UP_TO = timedelta(days=3)
RESOLUTION = timedelta(microseconds=1)  # of PostgreSQL's timestamps


def auto_bucket(start: datetime, end: datetime) -> str:
    """What `bucket=auto` means for [start, end): raw up to 6 h, 1-minute buckets up to 3 days, else 1 h."""
    span = end - start
    if span <= AUTO_RAW_UP_TO:
        return "raw"
    return "1m" if span <= AUTO_1M_UP_TO else "1h"


class _SeriesAsked(NamedTuple):
    machine_id: int
    machine: str  # its path
    sensor: str
    position: int  # of the sensor in the readings' values
    unit: str | None
    start: datetime
    end: datetime
    bucket: str  # raw, 1m or 1h
    rollups: SealedState


def _series_asked(
    session: Session, ref: str, sensor: str, start: datetime | None, end: datetime | None, bucket: str
) -> _SeriesAsked:
    """The machine, sensor, window (end: now; start: end - 24 h) and bucket a series request names."""
    end = end or datetime.now(UTC)
    start = start or end - DEFAULT_WINDOW
    if start >= end:
        raise invalid(f"query.start: must be before end ({start.isoformat()} >= {end.isoformat()})")
    found = assets_repo.resolve_sensor(session, ref.strip().strip("/"), sensor)  # one query for both
    if found is None:
        raise not_found(f"no machine {ref!r}; name it by id, path (site/line/machine) or external code")
    if found.position is None or found.name is None:
        known = ", ".join(sorted(assets_repo.sensor_positions(session, found.machine_id))) or "none yet"
        raise not_found(f"machine {found.machine_path} has no sensor {sensor!r}; its sensors: {known}")
    return _SeriesAsked(
        found.machine_id, found.machine_path, found.name, found.position, found.unit, start, end,
        auto_bucket(start, end) if bucket == "auto" else bucket, found.rollups,
    )  # fmt: skip


class NextPoints(NamedTuple):
    """Where the rest of a series cut at its limit starts (just after its last reading, or the bucket
    after its last bucket), with the end and bucket that answer resolved: what the `Link: rel="next"`
    of the readings route asks for."""

    start: datetime
    end: datetime
    bucket: str  # raw, 1m or 1h, never auto: the rest of a series is in the same points


def sensor_series(
    session: Session,
    ref: str,
    *,
    sensor: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    bucket: str = "raw",
) -> SeriesOut | BucketedSeriesOut:
    """One sensor's points in [start, end), oldest first (end: now; start: end - 24 h), every reading
    or in buckets (see `rollups_repo.bucketed_series`)."""
    series, _ = sensor_series_page(
        session, ref, sensor=sensor, start=start, end=end, limit=limit, bucket=bucket
    )
    return series


def sensor_series_page(
    session: Session,
    ref: str,
    *,
    sensor: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    bucket: str = "raw",
) -> tuple[SeriesOut | BucketedSeriesOut, NextPoints | None]:
    """`sensor_series`, and where the rest starts when `limit` cut it (None: nothing follows)."""
    asked = _series_asked(session, ref, sensor, start, end, bucket)
    if asked.bucket == "raw":
        return _raw_series(session, asked, limit)
    # One bucket more than asked for tells whether the limit cut the series.
    buckets = rollups_repo.bucketed_series(
        session, asked.machine_id, asked.position, asked.start, asked.end, asked.bucket, limit + 1
    )
    more = None
    if len(buckets) > limit:
        buckets = buckets[:limit]
        more = _next(asked, buckets[-1].ts + rollups_repo.WIDTHS[asked.bucket][0])
    points = [{"ts": b.ts, "value": b.avg, "min": b.min, "max": b.max, "n": b.n} for b in buckets]
    # Validated in one call (in Rust): a model per point would cost more than the query.
    series = BucketedSeriesOut.model_validate(
        {"machine": asked.machine, "sensor": asked.sensor, "unit": asked.unit, "bucket": asked.bucket,
         "points": points}
    )  # fmt: skip
    return series, more


_POINT_START = '{"ts":"'  # how each point of the JSON of buckets begins (and nothing else in it)


def sensor_series_json(
    session: Session,
    ref: str,
    *,
    sensor: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    bucket: str = "raw",
    cache: SeriesCache | None = None,
) -> tuple[bytes, NextPoints | None]:
    """`sensor_series_page` as the API's JSON; buckets are written by PostgreSQL
    (`rollups_repo.bucketed_series_json`, ten times cheaper than fetching and writing them here), their
    sealed stretches kept in `cache` when there is one."""
    asked = _series_asked(session, ref, sensor, start, end, bucket)
    if asked.bucket == "raw":
        series, more = _raw_series(session, asked, limit)
        return series.model_dump_json().encode(), more
    width = rollups_repo.WIDTHS[asked.bucket][0]
    first, stop = floor_to(asked.start, width), ceil_to(asked.end, width)
    more = None
    if cache is not None and (stop - first) // width <= limit:  # the limit cannot cut the series
        points = cache.points_json(
            session, asked.machine_id, asked.position, first, stop, asked.bucket, asked.rollups
        )
    else:
        # One bucket more than asked for tells whether the limit cut the series; without it, the
        # array is what `limit` buckets would have written, byte for byte.
        points = rollups_repo.bucketed_series_json(
            session, asked.machine_id, asked.position, first, stop, asked.bucket, limit + 1
        )
        if points.count(_POINT_START) > limit:
            points = points[: points.rindex("," + _POINT_START)] + "]"
            at = points.rindex(_POINT_START) + len(_POINT_START)
            last = datetime.fromisoformat(points[at : points.index('"', at)])
            more = _next(asked, last + width)
    # BucketedSeriesOut's fields, in its order, then the points as they came.
    fields = {"machine": asked.machine, "sensor": asked.sensor, "unit": asked.unit, "bucket": asked.bucket}
    head = to_json(fields)
    return b"".join((head[:-1], b',"points":', points.encode(), b"}")), more


def _next(asked: _SeriesAsked, start: datetime) -> NextPoints:
    return NextPoints(start.astimezone(UTC), asked.end.astimezone(UTC), asked.bucket)


def _raw_series(session: Session, asked: _SeriesAsked, limit: int) -> tuple[SeriesOut, NextPoints | None]:
    # One reading more than asked for tells whether the limit cut the series.
    rows = readings_repo.sensor_series(
        session, asked.machine_id, asked.position, asked.start, asked.end, limit + 1
    )
    more = None
    if len(rows) > limit:
        rows = rows[:limit]
        more = _next(asked, rows[-1][0] + RESOLUTION)  # readings' times are whole microseconds
    series = SeriesOut.model_validate(
        {"machine": asked.machine, "sensor": asked.sensor, "unit": asked.unit,
         "points": [{"ts": ts, "value": value} for ts, value in rows]}
    )  # fmt: skip
    return series, more
