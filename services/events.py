"""Machine events (failures, maintenance): the labels of run-to-failure history.

`record_event` validates one event and adds it (the API and the CLI share it); `import_events_csv`
loads a CSV file of events, reporting bad rows by line and skipping events already recorded, so
that importing the same file twice adds nothing. Nothing here commits: the caller owns the
transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from db.repositories import assets as assets_repo
from db.repositories import events as events_repo
from db.tables import Machine, MachineEvent
from db.tables.events import EVENT_KINDS

MAX_FUTURE = timedelta(minutes=5)
MAX_NOTE_CHARS = 2000
MAX_WORK_ORDER_CHARS = 128
REQUIRED_COLUMNS = ("machine", "kind", "ts")
OPTIONAL_COLUMNS = ("note", "work_order_id")
# Earlier timestamps are typos, and keep date arithmetic far from datetime's year-1 limit.
EARLIEST_TS = datetime(1900, 1, 1, tzinfo=UTC)


class EventError(ValueError):
    """An event that cannot be recorded (the API answers 422)."""


class UnknownMachineError(EventError):
    """The machine named by an event does not exist (the API answers 404)."""


class DuplicateEventError(EventError):
    """An event with the same machine, kind and ts is already recorded (the API answers 409)."""

    def __init__(self, message: str, existing: MachineEvent) -> None:
        super().__init__(message)
        self.existing = existing


class EventImportError(ValueError):
    """The whole file is unusable (unreadable, or its header lacks required columns)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class EventImportSummary:
    imported: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class EventRow:
    """One CSV row, parsed but not yet checked against the database."""

    machine: str
    kind: str
    ts: datetime
    note: str
    work_order_id: str | None


def parse_timestamp(value: str) -> datetime:
    """An RFC 3339 timestamp with an offset (`Z` allowed) as an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise EventError(f"ts {value!r} is not an RFC 3339 timestamp") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise EventError(f"ts {value!r} has no UTC offset (write e.g. 2024-05-01T08:00:00Z)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise EventError(f"ts {value!r} is out of range") from exc


def validate_event(
    kind: str, ts: datetime, note: str, work_order_id: str | None, now: datetime | None = None
) -> None:
    """Raise EventError when the event breaks a rule; the database is not consulted."""
    if kind not in EVENT_KINDS:
        raise EventError(f"kind must be one of {', '.join(EVENT_KINDS)}; got {kind!r}")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise EventError("ts needs a UTC offset")
    now = now or datetime.now(UTC)
    if ts > now + MAX_FUTURE:
        raise EventError(f"ts {ts.isoformat()} is in the future (more than 5 minutes after now)")
    if ts < EARLIEST_TS:
        raise EventError(f"ts {ts.isoformat()} is before {EARLIEST_TS.year}")
    if len(note) > MAX_NOTE_CHARS:
        raise EventError(f"note is {len(note)} characters; at most {MAX_NOTE_CHARS}")
    if work_order_id is not None and len(work_order_id) > MAX_WORK_ORDER_CHARS:
        raise EventError(f"work_order_id is longer than {MAX_WORK_ORDER_CHARS} characters")
    # PostgreSQL text cannot hold NUL characters.
    if "\x00" in note or (work_order_id is not None and "\x00" in work_order_id):
        raise EventError("note and work_order_id must not contain NUL characters")


def _resolve(session: Session, machine: Machine | str | int) -> Machine:
    if isinstance(machine, Machine):
        return machine
    found = assets_repo.resolve_machine(session, machine if isinstance(machine, int) else machine.strip())
    if found is None:
        raise UnknownMachineError(f"no machine {machine!r} (give its id, path site/line/machine or code)")
    return found


def record_event(
    session: Session,
    machine: Machine | str | int,
    kind: str,
    ts: datetime | None,
    note: str = "",
    work_order_id: str | None = None,
    created_by: str | None = None,
) -> MachineEvent:
    """Validate and add one event (ts None: now). Raises EventError or one of its subclasses."""
    target = _resolve(session, machine)
    ts = ts if ts is not None else datetime.now(UTC)
    validate_event(kind, ts, note, work_order_id)
    events_repo.lock_machine_events(session, target.id)
    existing = events_repo.find_event(session, target.id, kind, ts)
    if existing is not None:
        raise DuplicateEventError(
            f"{target.path} already has a {kind} event at {ts.isoformat()} (event {existing.id})", existing
        )
    return events_repo.add_event(
        session,
        machine_id=target.id,
        kind=kind,
        ts=ts,
        note=note,
        work_order_id=work_order_id or None,
        created_by=created_by,
    )


def parse_event_row(row: Mapping[str, str | None]) -> EventRow:
    """A CSV row (column → text) as an EventRow; raises EventError naming what is wrong."""
    machine = (row.get("machine") or "").strip()
    if not machine:
        raise EventError("machine is empty")
    kind = (row.get("kind") or "").strip().lower()
    ts = parse_timestamp(row.get("ts") or "")
    note = row.get("note") or ""
    work_order_id = (row.get("work_order_id") or "").strip() or None
    validate_event(kind, ts, note, work_order_id)
    return EventRow(machine=machine, kind=kind, ts=ts, note=note, work_order_id=work_order_id)


def _columns(header: list[str] | None) -> list[str]:
    """The header's column names; raises EventImportError unless it names the expected columns."""
    if not header:
        raise EventImportError("the file is empty; expected a header machine,kind,ts[,note][,work_order_id]")
    names = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    unknown = [name for name in names if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        raise EventImportError(
            "header must be machine,kind,ts[,note][,work_order_id], each once; "
            f"missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'}"
        )
    return names


def _import_row(
    session: Session, row: Mapping[str, str], machines: dict[str, Machine], created_by: str | None
) -> None:
    parsed = parse_event_row(row)
    if parsed.machine not in machines:
        machines[parsed.machine] = _resolve(session, parsed.machine)
    record_event(
        session,
        machines[parsed.machine],
        parsed.kind,
        parsed.ts,
        parsed.note,
        parsed.work_order_id,
        created_by,
    )


def import_events_csv(
    session: Session, path: Path, created_by: str | None = "csv-import"
) -> EventImportSummary:
    """Import every good row of a CSV file; bad rows are listed by line, known events skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EventImportError(f"cannot read {path}: {exc}") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        columns = _columns(next(reader, None))
    except csv.Error as exc:
        raise EventImportError(f"{path} is not CSV: {exc}") from exc
    summary = EventImportSummary()
    machines: dict[str, Machine] = {}
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            summary.errors.append(RowError(start, f"not valid CSV: {exc}"))
            if reader.line_num < start:  # the reader did not move on: stop rather than loop
                break
            continue
        if not any(value.strip() for value in record):
            continue
        if len(record) > len(columns):
            summary.errors.append(RowError(start, f"{len(record)} fields but the header has {len(columns)}"))
            continue
        try:
            _import_row(session, dict(zip(columns, record, strict=False)), machines, created_by)
        except DuplicateEventError:
            summary.duplicates += 1
        except EventError as exc:
            summary.errors.append(RowError(start, str(exc)))
        else:
            summary.imported += 1
    return summary
