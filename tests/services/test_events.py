"""services.events: recording events, their rules, and the CSV import (with property tests of its parsers)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine
from db.tables import MachineEvent
from services.events import (
    DuplicateEventError,
    EventError,
    EventImportError,
    UnknownMachineError,
    import_events_csv,
    parse_event_row,
    parse_timestamp,
    record_event,
)

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def machines(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with transaction(session_factory) as session:
        return {path: register_machine(session, *path.split("/")).id for path in ("s/l/m1", "s/l/m2")}


def stored(session_factory: sessionmaker[Session]) -> list[tuple[int, str, datetime, str, str | None]]:
    with session_factory() as session:
        rows = session.scalars(select(MachineEvent).order_by(MachineEvent.ts, MachineEvent.id)).all()
        return [(e.machine_id, e.kind, e.ts, e.note, e.work_order_id) for e in rows]


def test_record_event_by_path_and_id(
    session_factory: sessionmaker[Session], machines: dict[str, int]
) -> None:
    with transaction(session_factory) as session:
        first = record_event(session, "s/l/m1", "failure", T0, "seized", "WO-1", "tester")
        second = record_event(session, machines["s/l/m2"], "maintenance", T0, created_by="tester")
        assert (first.machine_id, first.created_by) == (machines["s/l/m1"], "tester")
        assert second.machine_id == machines["s/l/m2"]
    assert stored(session_factory) == [
        (machines["s/l/m1"], "failure", T0, "seized", "WO-1"),
        (machines["s/l/m2"], "maintenance", T0, "", None),
    ]


def test_record_event_defaults_ts_to_now(
    session_factory: sessionmaker[Session], machines: dict[str, int]
) -> None:
    with transaction(session_factory) as session:
        event = record_event(session, "s/l/m1", "maintenance", None)
    assert abs(event.ts - datetime.now(UTC)) < timedelta(seconds=30)


@pytest.mark.parametrize(
    ("kind", "ts", "note", "match"),
    [
        ("explosion", T0, "", "kind must be one of"),
        (
            "failure",
            datetime.now(UTC) + timedelta(days=1),
            "",
            "future",
        ),  # days: params are built at collection
        ("failure", datetime(2024, 5, 1), "", "offset"),
        ("failure", datetime(1850, 1, 1, tzinfo=UTC), "", "before 1900"),
        ("failure", T0, "n" * 2001, "at most 2000"),
        ("failure", T0, "a\x00b", "NUL"),
    ],
)
def test_record_event_rules(
    session_factory: sessionmaker[Session],
    machines: dict[str, int],
    kind: str,
    ts: datetime,
    note: str,
    match: str,
) -> None:
    with transaction(session_factory) as session, pytest.raises(EventError, match=match):
        record_event(session, "s/l/m1", kind, ts, note)


def test_record_event_allows_a_slightly_fast_clock(
    session_factory: sessionmaker[Session], machines: dict[str, int]
) -> None:
    with transaction(session_factory) as session:
        record_event(session, "s/l/m1", "failure", datetime.now(UTC) + timedelta(minutes=4))


def test_record_event_unknown_machine(
    session_factory: sessionmaker[Session], machines: dict[str, int]
) -> None:
    for ref in ("s/l/nope", "999", 2**40, "", "²", "a\x00"):
        with transaction(session_factory) as session, pytest.raises(UnknownMachineError):
            record_event(session, ref, "failure", T0)


def test_record_event_refuses_a_duplicate(
    session_factory: sessionmaker[Session], machines: dict[str, int]
) -> None:
    with transaction(session_factory) as session:
        first = record_event(session, "s/l/m1", "failure", T0)
    other_zone = T0.astimezone(timezone(timedelta(hours=2)))
    with transaction(session_factory) as session, pytest.raises(DuplicateEventError) as caught:
        record_event(session, "s/l/m1", "failure", other_zone)
    assert caught.value.existing.id == first.id


CSV_TEXT = """\
machine,kind,ts,note,work_order_id
s/l/m1,failure,2024-05-01T08:00:00Z,bearing,WO-1
s/l/m1,maintenance,2024-05-01T09:00:00+01:00,,
{m2},Failure,2024-05-02T00:00:00Z,"two
lines",
s/l/nope,failure,2024-05-01T08:00:00Z,,
s/l/m1,explosion,2024-05-01T08:00:00Z,,

s/l/m1,failure,yesterday,,
s/l/m1,failure,2024-05-03T00:00:00,,
s/l/m1,failure,2024-05-04T00:00:00Z,,,extra
s/l/m1,failure,2024-05-01T08:00:00Z,same again,
s/l/m2,maintenance,2024-05-05T00:00:00Z
"""


def test_import_events_csv(
    tmp_path: Path, session_factory: sessionmaker[Session], machines: dict[str, int]
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(CSV_TEXT.format(m2=machines["s/l/m2"]), encoding="utf-8")
    with transaction(session_factory) as session:
        summary = import_events_csv(session, path)
    assert (summary.imported, summary.duplicates) == (4, 1)
    reasons = {error.line: error.reason for error in summary.errors}
    assert sorted(reasons) == [6, 7, 9, 10, 11]
    assert "s/l/nope" in reasons[6]
    assert "kind" in reasons[7]
    assert "yesterday" in reasons[9]
    assert "offset" in reasons[10]
    assert "fields" in reasons[11]
    assert not summary.ok
    m1, m2 = machines["s/l/m1"], machines["s/l/m2"]
    assert stored(session_factory) == [
        (m1, "failure", T0, "bearing", "WO-1"),
        (m1, "maintenance", T0, "", None),
        (m2, "failure", datetime(2024, 5, 2, tzinfo=UTC), "two\nlines", None),
        (m2, "maintenance", datetime(2024, 5, 5, tzinfo=UTC), "", None),
    ]

    with transaction(session_factory) as session:
        again = import_events_csv(session, path)
    assert (again.imported, again.duplicates, len(again.errors)) == (0, 5, 5)
    assert len(stored(session_factory)) == 4


def test_import_accepts_a_bom_and_only_the_required_columns(
    tmp_path: Path, session_factory: sessionmaker[Session], machines: dict[str, int]
) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes("\ufeffKind,machine,ts\r\nfailure,s/l/m1,2024-05-01T08:00:00Z\r\n".encode())
    with transaction(session_factory) as session:
        summary = import_events_csv(session, path)
    assert (summary.imported, summary.errors) == (1, [])


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (b"machine,kind\ns/l/m1,failure\n", "missing: ts"),
        (b"machine,kind,ts,workorder\n", "unknown: workorder"),
        (b"machine,kind,ts,ts\n", "each once"),
        (b"\xff\xfe\x00garbage", "cannot read"),
    ],
)
def test_import_rejects_unusable_files(
    tmp_path: Path, session_factory: sessionmaker[Session], content: bytes, match: str
) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(content)
    with transaction(session_factory) as session, pytest.raises(EventImportError, match=match):
        import_events_csv(session, path)


def test_import_of_a_missing_file(tmp_path: Path, session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session, pytest.raises(EventImportError, match="cannot read"):
        import_events_csv(session, tmp_path / "absent.csv")


aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.timezones()
)


@given(aware_datetimes)
def test_parse_timestamp_round_trips_isoformat(value: datetime) -> None:
    parsed = parse_timestamp(value.isoformat())
    # Compared in UTC: PEP 495 makes inter-zone == false for times in a DST gap or fold.
    assert parsed == value.astimezone(UTC)
    assert parsed.tzinfo == UTC


@given(st.text(max_size=40))
def test_parse_timestamp_only_raises_event_error(text: str) -> None:
    try:
        parsed = parse_timestamp(text)
    except EventError:
        return
    assert parsed.tzinfo == UTC


@given(
    machine=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=30).filter(
        lambda s: s.strip() != ""
    ),
    kind=st.sampled_from(["failure", "maintenance"]),
    ts=st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2024, 1, 1), timezones=st.timezones()),
    note=st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=200),
    work_order_id=st.none() | st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=20),
)
def test_event_rows_survive_a_csv_round_trip(
    machine: str, kind: str, ts: datetime, note: str, work_order_id: str | None
) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        [
            ["machine", "kind", "ts", "note", "work_order_id"],
            [machine, kind, ts.isoformat(), note, work_order_id or ""],
        ]
    )
    header, row = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    parsed = parse_event_row(dict(zip(header, row, strict=True)))
    assert (parsed.machine, parsed.kind, parsed.note) == (machine.strip(), kind, note)
    assert parsed.ts == ts.astimezone(UTC)
    assert parsed.work_order_id == work_order_id


@given(
    st.dictionaries(st.sampled_from(["machine", "kind", "ts", "note", "work_order_id"]), st.text(max_size=30))
)
def test_parse_event_row_only_raises_event_error(row: dict[str, str]) -> None:
    try:
        parsed = parse_event_row(row)
    except EventError:
        return
    assert parsed.kind in ("failure", "maintenance")
