"""The wire-contract parser: valid payloads round-trip, anything else is a Rejection with the right reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.messages import (
    REASONS,
    Rejection,
    Telemetry,
    format_ts,
    parse_telemetry,
    telemetry_payload,
    telemetry_topic,
)

ROOT = "plantwatch/v1"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOPIC = f"{ROOT}/site-1/line-1/press-01/telemetry"

names = st.from_regex(r"[A-Za-z0-9_.\-]{1,64}", fullmatch=True)
finite = st.floats(allow_nan=False, allow_infinity=False)
stamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2026, 11, 23, 12, 5), timezones=st.just(UTC)
)
telemetries = st.builds(
    Telemetry,
    site=names,
    line=names,
    machine=names,
    ts=stamps,
    seq=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
    values=st.dictionaries(names, finite, min_size=1, max_size=20),
)


def parse(payload: object, topic: str = TOPIC) -> Telemetry | Rejection:
    if not isinstance(payload, bytes | str):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return parse_telemetry(
        topic, payload, topic_root=ROOT, received_at=NOW, max_payload_bytes=65536, max_future_s=300
    )


def reason(payload: object, topic: str = TOPIC) -> str:
    result = parse(payload, topic)
    assert isinstance(result, Rejection), f"expected a rejection, got {result}"
    assert result.reason in REASONS and result.detail
    return result.reason


@given(telemetries)
def test_valid_payloads_round_trip(telemetry: Telemetry) -> None:
    assert parse(telemetry_payload(telemetry), telemetry_topic(ROOT, telemetry)) == telemetry


@given(telemetries)
def test_epoch_milliseconds_round_trip(telemetry: Telemetry) -> None:
    millis = int(telemetry.ts.timestamp() * 1000)
    payload = {"ts": millis, "values": telemetry.values, "seq": telemetry.seq}
    parsed = parse(payload, telemetry_topic(ROOT, telemetry))
    assert isinstance(parsed, Telemetry)
    assert parsed.ts == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    assert parsed.values == telemetry.values


@given(st.binary(max_size=300), st.text(max_size=80))
def test_arbitrary_bytes_never_raise(payload: bytes, topic: str) -> None:
    result = parse(payload, topic)
    assert isinstance(result, Telemetry | Rejection)
    if isinstance(result, Rejection):
        assert result.reason in REASONS


@given(
    st.recursive(
        st.none() | st.booleans() | finite | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_arbitrary_json_never_raises(document: object) -> None:
    for candidate in (document, {"ts": document, "values": document, "seq": document}):
        result = parse(json.dumps(candidate).encode())
        assert isinstance(result, Telemetry | Rejection)


def test_offsets_and_fractions_become_utc() -> None:
    parsed = parse({"ts": "2026-11-23T13:00:00.123456789+01:00", "values": {"a": 1}})
    assert isinstance(parsed, Telemetry)
    assert parsed.ts == datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
    assert parsed.ts.tzinfo == UTC
    assert format_ts(parsed.ts) == "2026-11-23T12:00:00.123456Z"
    assert parse({"ts": "2026-11-23t12:00:00z", "values": {"a": 1}}) == parse(
        {"ts": "2026-11-23T12:00:00Z", "values": {"a": 1}}
    )


def test_integers_become_floats_and_seq_is_optional() -> None:
    parsed = parse({"ts": 1_790_000_000_000, "values": {"a": 3, "b": -0.5}})
    assert isinstance(parsed, Telemetry)
    assert parsed.values == {"a": 3.0, "b": -0.5} and isinstance(parsed.values["a"], float)
    assert parsed.seq is None
    assert (parsed.site, parsed.line, parsed.machine) == ("site-1", "line-1", "press-01")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"x" * 70000, "too_large"),
        (b"\xff\xfe{}", "not_utf8"),
        (b"{not json", "not_json"),
        (b"[" * 50000 + b"]" * 50000, "too_large"),
        (b"[" * 30000 + b"]" * 30000, "not_json"),
        ('{"ts": "2026-11-23T12:00:00Z", "values": {"a": NaN}}', "not_finite"),
        ('{"ts": "2026-11-23T12:00:00Z", "values": {"a": -Infinity}}', "not_finite"),
        ('{"ts": "2026-11-23T12:00:00Z", "values": {"a": 1e999}}', "not_finite"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"a": 10**400}}, "not_finite"),
        ({"values": {"a": 1}}, "missing_field"),
        ({"ts": "2026-11-23T12:00:00Z"}, "missing_field"),
        ([1, 2], "wrong_type"),
        ({"ts": "2026-11-23T12:00:00Z", "values": [1]}, "wrong_type"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"a": True}}, "wrong_type"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"a": "1.5"}}, "wrong_type"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"a": None}}, "wrong_type"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"a": 1}, "seq": "7"}, "wrong_type"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"a": 1}, "seq": 1.5}, "wrong_type"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"a": 1}, "seq": -1}, "wrong_type"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"a": 1}, "seq": 2**63}, "wrong_type"),
        ({"ts": True, "values": {"a": 1}}, "wrong_type"),
        ({"ts": None, "values": {"a": 1}}, "wrong_type"),
        ({"ts": "yesterday", "values": {"a": 1}}, "bad_timestamp"),
        ({"ts": "2026-11-23T12:00:00", "values": {"a": 1}}, "bad_timestamp"),
        ({"ts": "2026-02-30T12:00:00Z", "values": {"a": 1}}, "bad_timestamp"),
        ({"ts": "2026-11-23", "values": {"a": 1}}, "bad_timestamp"),
        ({"ts": 10**30, "values": {"a": 1}}, "bad_timestamp"),
        ({"ts": "2026-11-23T12:05:01Z", "values": {"a": 1}}, "ts_in_future"),
        ({"ts": "1999-12-31T23:59:59Z", "values": {"a": 1}}, "ts_too_old"),
        ({"ts": 1_790_000_000, "values": {"a": 1}}, "ts_too_old"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {}}, "empty_values"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"bad name": 1}}, "bad_sensor_name"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"x" * 65: 1}}, "bad_sensor_name"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {"": 1}}, "bad_sensor_name"),
        ({"ts": "2026-11-23T12:00:00Z", "values": {f"s{i}": 1 for i in range(1001)}}, "too_large"),
    ],
)
def test_rejections(payload: object, expected: str) -> None:
    assert reason(payload) == expected


@pytest.mark.parametrize(
    "topic",
    [
        "other/v1/site-1/line-1/press-01/telemetry",
        f"{ROOT}/site-1/line-1/telemetry",
        f"{ROOT}/site-1/line-1/press-01/status",
        f"{ROOT}/site-1/line-1/press-01/telemetry/extra",
        f"{ROOT}/site 1/line-1/press-01/telemetry",
        f"{ROOT}/site-1//press-01/telemetry",
        f"{ROOT}/site-1/line-1/{'m' * 65}/telemetry",
        f"{ROOT}/site-1/line-1/pr+ess/telemetry",
        f"{ROOT}/sité/line-1/press-01/telemetry",
    ],
)
def test_bad_topics(topic: str) -> None:
    assert reason({"ts": "2026-11-23T12:00:00Z", "values": {"a": 1}}, topic) == "bad_topic"


def test_epoch_seconds_get_a_hint() -> None:
    result = parse({"ts": 1_790_000_000, "values": {"a": 1}})
    assert isinstance(result, Rejection) and "seconds" in result.detail


def test_unknown_fields_are_ignored() -> None:
    assert isinstance(parse({"ts": "2026-11-23T12:00:00Z", "values": {"a": 1}, "unit": "mm/s"}), Telemetry)
