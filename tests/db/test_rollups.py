"""Rollups against the real database: equal to a direct computation over raw readings, late data
within the lateness picked up, older late data by a range refresh, idempotent re-runs."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from db import rollups
from db.engine import make_session_factory, transaction
from db.repositories.rollups import sealed_state
from db.rollups import HOUR, MINUTE, SealedState, floor_to, refresh_range, refresh_rollups, watermarks

T0 = datetime(2026, 3, 2, 11, 50, tzinfo=UTC)
LATENESS = timedelta(minutes=5)

Row = tuple[int, datetime, list[float | None]]
Rollup = dict[
    tuple[int, datetime], tuple[list[int], list[float | None], list[float | None], list[float | None]]
]


def insert(session: Session, rows: list[Row]) -> None:
    if not rows:
        return
    session.execute(
        text('INSERT INTO readings (machine_id, ts, "values") VALUES (:m, :ts, :v)'),
        [{"m": m, "ts": ts, "v": values} for m, ts, values in rows],
    )


def stored(session: Session, table: str) -> Rollup:
    rows = session.execute(text(f"SELECT machine_id, bucket, n, avg, min, max FROM {table}"))
    return {(m, b): (list(n), list(avg), list(low), list(high)) for m, b, n, avg, low, high in rows}


def expected(rows: list[Row], width: timedelta) -> Rollup:
    """Per machine and bucket, per position: count, mean, min, max of the non-NULL values (in Python)."""
    cells: dict[tuple[int, datetime], dict[int, list[float]]] = defaultdict(dict)
    for machine_id, ts, values in rows:
        bucket = cells[(machine_id, floor_to(ts, width))]
        for position, value in enumerate(values, 1):
            found = bucket.setdefault(position, [])
            if value is not None:
                found.append(value)
    result: Rollup = {}
    for key, by_position in cells.items():
        columns = [by_position[p] for p in range(1, max(by_position) + 1)]
        result[key] = (
            [len(c) for c in columns],
            [sum(c) / len(c) if c else None for c in columns],
            [min(c) if c else None for c in columns],
            [max(c) if c else None for c in columns],
        )
    return result


def assert_same(actual: Rollup, wanted: Rollup) -> None:
    assert set(actual) == set(wanted)
    for key, (n, avg, low, high) in wanted.items():
        got_n, got_avg, got_low, got_high = actual[key]
        assert got_n == n, key
        assert got_low == low and got_high == high, key
        assert len(got_avg) == len(avg), key
        for a, b in zip(got_avg, avg, strict=True):
            assert (a is None and b is None) or (
                a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
            ), (key, got_avg, avg)


def sample_rows() -> list[Row]:
    """Two machines over 11:50 … 12:10: NULL positions, a third sensor added at 12:00, a silent stretch."""
    rows: list[Row] = []
    for i in range(40):  # every 30 s
        ts = T0 + timedelta(seconds=30 * i)
        first: list[float | None] = [float(i), None if i % 3 == 0 else i / 2]
        rows.append((1, ts, first + ([100.0 - i] if ts >= T0 + timedelta(minutes=10) else [])))
        if not 10 <= i < 20:
            rows.append((2, ts, [None, -float(i)] if i % 2 else [float(i * i)]))
    return rows


def test_rollups_equal_a_direct_computation(session_factory: sessionmaker[Session]) -> None:
    rows = sample_rows()
    with transaction(session_factory) as session:
        insert(session, rows)
    until = T0 + timedelta(minutes=25)
    with transaction(session_factory) as session:
        summary = refresh_rollups(session, until=until, lateness=LATENESS)
    assert summary["start"] == T0.isoformat() and summary["done_until"] == until.isoformat()
    with session_factory() as session:
        assert_same(stored(session, "readings_1m"), expected(rows, MINUTE))
        # Only the complete hour 11:00 is rolled up; 12:00 is still running at 12:15.
        assert_same(
            stored(session, "readings_1h"),
            expected([r for r in rows if r[1] < datetime(2026, 3, 2, 12, tzinfo=UTC)], HOUR),
        )
        assert watermarks(session) == {
            "readings_1m": until,
            "readings_1h": datetime(2026, 3, 2, 12, tzinfo=UTC),
            "readings_sealed": datetime(2026, 3, 2, 12, tzinfo=UTC),  # the hour before 12:15 - 5 min
        }
        one = stored(session, "readings_1m")[(1, T0 + timedelta(minutes=10))]
    # A bucket with the later sensor: three positions; position 2 is NULL at i = 21 (i % 3 == 0).
    assert one == ([2, 1, 2], [20.5, 10.0, 79.5], [20.0, 10.0, 79.0], [21.0, 10.0, 80.0])

    with transaction(session_factory) as session:
        refresh_rollups(session, until=datetime(2026, 3, 2, 13, 1, tzinfo=UTC), lateness=LATENESS)
    with session_factory() as session:
        assert_same(stored(session, "readings_1h"), expected(rows, HOUR))


def test_late_readings_within_the_lateness_are_picked_up(session_factory: sessionmaker[Session]) -> None:
    rows = sample_rows()
    with transaction(session_factory) as session:
        insert(session, rows)
        refresh_rollups(session, until=T0 + timedelta(minutes=20), lateness=LATENESS)
    late_in: Row = (1, T0 + timedelta(minutes=17, seconds=10), [1000.0])  # 3 min before the watermark
    late_out: Row = (1, T0 + timedelta(minutes=5, seconds=10), [-1000.0])  # 15 min before: beyond it
    with transaction(session_factory) as session:
        insert(session, [late_in, late_out])
        refresh_rollups(session, until=T0 + timedelta(minutes=21), lateness=LATENESS)
    with session_factory() as session:
        actual = stored(session, "readings_1m")
    wanted = expected([*rows, late_in, late_out], MINUTE)
    assert actual[(1, T0 + timedelta(minutes=17))] == wanted[(1, T0 + timedelta(minutes=17))]
    assert 1000.0 in actual[(1, T0 + timedelta(minutes=17))][3]
    # Older than the lateness: not in the rollup until a backfill over its range.
    assert actual[(1, T0 + timedelta(minutes=5))] != wanted[(1, T0 + timedelta(minutes=5))]
    with transaction(session_factory) as session:
        summary = refresh_range(session, late_out[1], late_out[1] + timedelta(seconds=1))
    assert (summary["rows_1m"], summary["rows_1h"]) == (
        1,
        2,
    )  # 11:55 of machine 1 (2 is silent), 11:00 of both
    with session_factory() as session:
        assert_same(stored(session, "readings_1m"), wanted)
        # The backfill left the watermarks alone.
        assert watermarks(session)["readings_1m"] == T0 + timedelta(minutes=21)


def test_reruns_change_nothing_and_the_watermark_never_goes_back(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        insert(session, sample_rows())
    until = T0 + timedelta(hours=1, minutes=30)
    snapshots = []
    for _ in range(2):
        with transaction(session_factory) as session:
            refresh_rollups(session, until=until, lateness=timedelta(hours=2))
            refresh_range(session, T0, until)
        with session_factory() as session:
            snapshots.append((stored(session, "readings_1m"), stored(session, "readings_1h")))
    assert snapshots[0] == snapshots[1]
    assert len(snapshots[0][0]) == 20 + 15  # minutes with readings of machine 1, of machine 2
    assert len(snapshots[0][1]) == 4  # 2 machines, hours 11:00 and 12:00
    with transaction(session_factory) as session:
        refresh_rollups(session, until=T0, lateness=LATENESS)  # a clock gone backwards
        assert watermarks(session)["readings_1m"] == until


def test_catching_up_advances_at_most_max_advance_per_call(session_factory: sessionmaker[Session]) -> None:
    rows = sample_rows()
    with transaction(session_factory) as session:
        insert(session, rows)
    steps = []
    for _ in range(4):
        with transaction(session_factory) as session:
            summary = refresh_rollups(
                session, until=T0 + timedelta(minutes=25), lateness=LATENESS, max_advance=timedelta(minutes=8)
            )
        steps.append((summary["done_until"], summary["caught_up"]))
    assert steps == [
        ((T0 + timedelta(minutes=8)).isoformat(), False),
        ((T0 + timedelta(minutes=16)).isoformat(), False),
        ((T0 + timedelta(minutes=24)).isoformat(), False),
        ((T0 + timedelta(minutes=25)).isoformat(), True),
    ]
    with session_factory() as session:
        assert_same(stored(session, "readings_1m"), expected(rows, MINUTE))


def test_the_first_refresh_of_an_empty_table_sets_the_watermark(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        summary = refresh_rollups(session, until=T0 + timedelta(seconds=59), lateness=LATENESS)
    assert summary["rows_1m"] == 0 and summary["done_until"] == T0.isoformat()
    with session_factory() as session:
        assert watermarks(session) == {
            "readings_1m": T0,
            "readings_1h": floor_to(T0, HOUR),
            "readings_sealed": floor_to(T0 - LATENESS, HOUR),
        }


values_strategy = st.lists(
    st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)), min_size=1, max_size=5
)
rows_strategy = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 3 * 3600 - 1), values_strategy), max_size=40
)


@pytest.mark.parametrize("form", ["per-cell", "positional"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=rows_strategy)
def test_any_readings_roll_up_as_computed_directly(
    form: str,
    raw: list[tuple[int, int, list[float | None]]],
    db_url: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both SQL forms of the 1-minute rollup: per-cell unnest always, or positional always.
    monkeypatch.setattr(rollups, "POSITIONAL_MAX_WIDTH_RATIO", 0.0 if form == "per-cell" else math.inf)
    by_key = {(m, T0 + timedelta(seconds=s)): values for m, s, values in raw}  # the key is unique
    rows = [(m, ts, values) for (m, ts), values in by_key.items()]
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE readings, readings_1m, readings_1h, rollup_state"))
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        insert(session, rows)
        refresh_rollups(session, until=T0 + timedelta(hours=4), lateness=LATENESS)
    with factory() as session:
        assert_same(stored(session, "readings_1m"), expected(rows, MINUTE))
        assert_same(stored(session, "readings_1h"), expected(rows, HOUR))


@pytest.mark.parametrize("width", [MINUTE, HOUR])
def test_floor_is_on_a_utc_grid(width: timedelta) -> None:
    ts = datetime(2026, 3, 2, 12, 34, 56, 789, tzinfo=UTC)
    floored = floor_to(ts, width)
    assert floored <= ts < floored + width
    assert floored.second == 0 and floored.microsecond == 0 and (width == MINUTE or floored.minute == 0)


def test_sealed_buckets_get_a_new_version_only_when_they_are_rewritten(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        insert(session, sample_rows())

    def state() -> SealedState:
        with session_factory() as session:
            return sealed_state(session)

    def refresh(until: datetime, lateness: timedelta = LATENESS) -> None:
        with transaction(session_factory) as session:
            refresh_rollups(session, until=until, lateness=lateness)

    assert state() == (None, 0)  # before the first refresh
    refresh(T0 + timedelta(minutes=25))
    first = state()
    assert first.until == datetime(2026, 3, 2, 12, tzinfo=UTC) and first.version != 0  # nothing sealed before
    refresh(T0 + timedelta(hours=1, minutes=20))  # new minutes only: the sealed hour moves on
    assert state() == (datetime(2026, 3, 2, 13, tzinfo=UTC), first.version)
    refresh(T0 + timedelta(hours=1, minutes=21), lateness=timedelta(hours=2))  # reaches into sealed hours
    rewritten = state()
    assert rewritten.until == datetime(2026, 3, 2, 13, tzinfo=UTC) and rewritten.version != first.version
    with transaction(session_factory) as session:
        refresh_range(session, T0, T0 + timedelta(minutes=1))  # a backfill
    backfilled = state()
    assert backfilled.version not in (first.version, rewritten.version)
