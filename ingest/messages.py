"""The wire contract, parsed: MQTT topic + payload bytes → `Telemetry` or `Rejection` (pure, no I/O).

docs/protocol.md is the human version of this module; every rejection reason is listed there.
The validators (`parse_topic`, `parse_timestamp`, `check_values`, …) are public so that the CSV
importer applies exactly the same rules as MQTT ingest.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SEGMENT_MAX = 64  # sites.name, lines.name, machines.name and sensors.name are String(64)
MAX_VALUES = 1000  # values in one message; more is `too_large`
SEQ_MAX = 2**63 - 1  # readings.seq is a bigint
OLDEST = datetime(2000, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# RFC 3339 date-time: a full date, a full time, optional fraction, and a mandatory offset.
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})")

REASONS = (
    "too_large",
    "not_utf8",
    "not_json",
    "bad_topic",
    "missing_field",
    "wrong_type",
    "not_finite",
    "bad_timestamp",
    "ts_in_future",
    "ts_too_old",
    "empty_values",
    "bad_sensor_name",
)


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One valid reading: every value a machine sent for one timestamp."""

    site: str
    line: str
    machine: str
    ts: datetime  # aware, UTC, microsecond precision (as PostgreSQL keeps it)
    seq: int | None
    values: dict[str, float]

    @property
    def path(self) -> str:
        return f"{self.site}/{self.line}/{self.machine}"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused: a short code (`reason`) and a sentence for people (`detail`)."""

    reason: str
    detail: str


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NonFinite(name)


def is_valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def parse_topic(topic: str, topic_root: str, kind: str = "telemetry") -> tuple[str, str, str] | Rejection:
    """`{root}/{site}/{line}/{machine}/telemetry` → (site, line, machine); with kind="inspection",
    `{root}/{site}/{line}/{station}/inspection` → (site, line, station)."""
    prefix = topic_root.rstrip("/") + "/"
    if not topic.startswith(prefix):
        return Rejection("bad_topic", f"topic {topic[:200]!r} does not start with {prefix!r}")
    parts = topic[len(prefix) :].split("/")
    names = ("site", "line", "station" if kind == "inspection" else "machine")
    if len(parts) != 4 or parts[3] != kind:
        return Rejection("bad_topic", f"topic {topic[:200]!r} is not {prefix}<{'>/<'.join(names)}>/{kind}")
    for name, segment in zip(names, parts, strict=False):
        if not is_valid_name(segment):
            return Rejection(
                "bad_topic",
                f"{name} {segment[:80]!r} must be 1-{SEGMENT_MAX} characters of A-Z a-z 0-9 _ . -",
            )
    return parts[0], parts[1], parts[2]


def parse_timestamp(raw: object, *, received_at: datetime, max_future_s: int) -> datetime | Rejection:
    """An RFC 3339 string with an offset, or epoch milliseconds (int or float) → aware UTC datetime."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return Rejection(
            "wrong_type", f"ts must be an RFC 3339 string or epoch milliseconds, not {_kind(raw)}"
        )
    if isinstance(raw, str):
        ts = _parse_rfc3339(raw)
        if isinstance(ts, Rejection):
            return ts
    else:
        if isinstance(raw, float) and not math.isfinite(raw):
            return Rejection("not_finite", "ts is not a finite number")
        try:
            ts = EPOCH + timedelta(milliseconds=raw)
        except OverflowError:
            return Rejection("bad_timestamp", f"ts {raw!r} (epoch milliseconds) is out of range")
    if ts < OLDEST:
        hint = " (it looks like epoch seconds; send milliseconds)" if not isinstance(raw, str) else ""
        return Rejection("ts_too_old", f"ts {ts.isoformat()} is before 2000-01-01{hint}")
    if ts > received_at + timedelta(seconds=max_future_s):
        return Rejection(
            "ts_in_future",
            f"ts {ts.isoformat()} is more than {max_future_s}s after the time of receipt "
            f"{received_at.isoformat()}",
        )
    return ts


def _parse_rfc3339(raw: str) -> datetime | Rejection:
    match = _RFC3339.fullmatch(raw.strip())
    if match is None:
        if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?\s*", raw):
            return Rejection(
                "bad_timestamp", f"ts {raw[:60]!r} has no UTC offset; add 'Z' or '+hh:mm' (RFC 3339)"
            )
        return Rejection("bad_timestamp", f"ts {raw[:60]!r} is not an RFC 3339 date-time")
    date_part, time_part, fraction, offset = match.groups()
    fraction = (fraction or "0")[:6]  # PostgreSQL keeps microseconds; finer digits are dropped
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        ts = datetime.fromisoformat(f"{date_part}T{time_part}.{fraction.ljust(6, '0')}{offset}")
        return ts.astimezone(UTC)
    except (ValueError, OverflowError):
        return Rejection("bad_timestamp", f"ts {raw[:60]!r} is not a valid date-time")


def check_values(raw: object) -> dict[str, float] | Rejection:
    """The `values` object: sensor name → finite number."""
    if not isinstance(raw, dict):
        return Rejection("wrong_type", f"values must be a JSON object of sensor → number, not {_kind(raw)}")
    if not raw:
        return Rejection("empty_values", "values is empty; send at least one sensor value")
    if len(raw) > MAX_VALUES:
        return Rejection("too_large", f"{len(raw)} values in one message; at most {MAX_VALUES}")
    values: dict[str, float] = {}
    for name, value in raw.items():
        if not is_valid_name(name):
            return Rejection(
                "bad_sensor_name",
                f"sensor name {name[:80]!r} must be 1-{SEGMENT_MAX} characters of A-Z a-z 0-9 _ . -",
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            return Rejection("wrong_type", f"value of {name!r} must be a number, not {_kind(value)}")
        try:
            number = float(value)
        except OverflowError:
            return Rejection("not_finite", f"value of {name!r} is too large for a 64-bit float")
        if not math.isfinite(number):
            return Rejection("not_finite", f"value of {name!r} is not a finite number")
        values[name] = number
    return values


def check_seq(raw: object) -> int | Rejection | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= SEQ_MAX:
        return Rejection("wrong_type", f"seq must be an integer from 0 to 2^63-1, not {_kind(raw)}")
    return raw


def parse_telemetry(
    topic: str,
    payload: bytes,
    *,
    topic_root: str,
    received_at: datetime,
    max_payload_bytes: int,
    max_future_s: int,
) -> Telemetry | Rejection:
    """Validate one MQTT message; never raises for any topic or payload."""
    if len(payload) > max_payload_bytes:
        return Rejection("too_large", f"payload of {len(payload)} bytes; at most {max_payload_bytes}")
    where = parse_topic(topic, topic_root)
    if isinstance(where, Rejection):
        return where
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection("not_utf8", f"payload is not UTF-8 ({error.reason} at byte {error.start})")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except _NonFinite as error:
        return Rejection("not_finite", f"payload contains {error}, which JSON does not allow")
    except (ValueError, RecursionError) as error:
        return Rejection("not_json", f"payload is not JSON: {str(error)[:200]}")
    if not isinstance(document, dict):
        return Rejection("wrong_type", f"payload must be a JSON object, not {_kind(document)}")
    missing = [field for field in ("ts", "values") if field not in document]
    if missing:
        return Rejection("missing_field", f"payload lacks {' and '.join(repr(f) for f in missing)}")
    values = check_values(document["values"])
    if isinstance(values, Rejection):
        return values
    seq = check_seq(document.get("seq"))
    if isinstance(seq, Rejection):
        return seq
    ts = parse_timestamp(document["ts"], received_at=received_at, max_future_s=max_future_s)
    if isinstance(ts, Rejection):
        return ts
    site, line, machine = where
    return Telemetry(site=site, line=line, machine=machine, ts=ts, seq=seq, values=values)


def telemetry_topic(topic_root: str, telemetry: Telemetry) -> str:
    return f"{topic_root.rstrip('/')}/{telemetry.path}/telemetry"


def telemetry_payload(telemetry: Telemetry) -> bytes:
    """The canonical payload of a reading (what `parse_telemetry` turns back into the same reading)."""
    document: dict[str, Any] = {"ts": format_ts(telemetry.ts), "values": telemetry.values}
    if telemetry.seq is not None:
        document["seq"] = telemetry.seq
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def format_ts(ts: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a `Z`."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), f"{type(value).__name__} {str(value)[:40]!r}"
    )
