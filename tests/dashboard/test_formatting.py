"""Pure helpers of the dashboard: timestamps from the API, relative ages, error details."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.api_error import ApiError
from dashboard.formatting import default_trends, last_seen_label, relative_age
from dashboard.records import parse_ts

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
UNITS = {"s": 1, "min": 60, "h": 3600, "d": 86400}


@pytest.mark.parametrize(
    ("age_s", "label"),
    [(-3, "just now"), (0, "0 s ago"), (3.9, "3 s ago"), (59, "59 s ago"), (60, "1 min ago"),
     (299, "4 min ago"), (301, "⚠ 5 min ago"), (7200, "⚠ 2 h ago"), (3 * 86400 + 5, "⚠ 3 d ago")],
)  # fmt: skip
def test_last_seen_label(age_s: float, label: str) -> None:
    assert last_seen_label(NOW - timedelta(seconds=age_s), NOW, 300) == label


@given(st.floats(min_value=0, max_value=10 * 365 * 86400, allow_nan=False))
def test_relative_age_names_the_whole_units_elapsed(age_s: float) -> None:
    label = relative_age(NOW - timedelta(seconds=age_s), NOW)

    match = re.fullmatch(r"(\d+) (s|min|h|d) ago", label)
    assert match is not None, label
    count, unit = int(match[1]), UNITS[match[2]]
    elapsed = (NOW - (NOW - timedelta(seconds=age_s))).total_seconds()  # timedelta rounds to µs
    assert count * unit <= elapsed < (count + 1) * unit
    assert count < 60 or unit == 86400  # the largest fitting unit, except days


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9000, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
    st.booleans(),
)
def test_parse_ts_reads_what_the_api_writes(naive: datetime, offset_min: int, zulu: bool) -> None:
    ts = naive.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    text = ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if zulu else ts.isoformat()

    assert parse_ts(text) == ts
    assert parse_ts(None) is None


def test_validation_details_become_one_sentence() -> None:
    error = ApiError(
        422,
        "invalid_request",
        [{"loc": ["body", "kind"], "msg": "Input should be 'failure' or 'maintenance'"}, "ts: too late"],
    )
    assert error.detail_text() == "kind: Input should be 'failure' or 'maintenance'; ts: too late"
    assert ApiError(404, "not_found", "no machine 'x'").detail_text() == "no machine 'x'"


def test_default_trends_are_the_drivers_first_when_there_are_too_many() -> None:
    sensors = [f"s{k}" for k in range(1, 11)]
    assert default_trends(sensors[:4], ["s3"], most=6) == ["s1", "s2", "s3", "s4"]
    assert default_trends(sensors, ["s9", "gone", "s2"], most=4) == ["s9", "s2", "s1", "s3"]
    assert default_trends(sensors, [], most=3) == ["s1", "s2", "s3"]
