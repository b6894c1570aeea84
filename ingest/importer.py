"""Import historical readings from CSV through the same validation and writer as MQTT ingest.

Two shapes, told apart by the header:
- long: `machine,ts,sensor,value`, one value per row;
- wide: `machine,ts,<sensor>,<sensor>,...`, one reading per row (an empty cell: no value).
`machine` is the path `site/line/machine`; `ts` is RFC 3339 with an offset or epoch milliseconds.
Rows of one (machine, ts) are grouped into one reading; keep the rows of a reading together in long
files (any export does): a reading split across far-apart rows may be imported in two parts, and the
second part is then a `conflict` dead letter. Bad rows are reported by line number and skipped.
Re-importing a file duplicates nothing.
"""

from __future__ import annotations

import csv
import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory, transaction
from db.partitions import ensure_daily_partitions
from db.rollups import refresh_range
from ingest.durable import retrying, write_isolating
from ingest.messages import (
    Rejection,
    Telemetry,
    is_valid_name,
    parse_timestamp,
    telemetry_payload,
    telemetry_topic,
)
from ingest.writer import BatchResult, Incoming
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

MAX_REPORTED = 100  # bad rows kept in the summary (and printed); the rest are only counted
GIVE_UP_AFTER_S = 120.0  # how long an import waits for an unreachable PostgreSQL

Report = Callable[[int, str], None]  # (line number, message) for a bad row


class CsvFormatError(ValueError):
    """The file is not one of the two CSV shapes (the whole import stops before writing)."""


@dataclass
class ImportSummary:
    path: Path
    shape: str = ""  # "long" or "wide"
    rows: int = 0  # data rows read
    readings: int = 0  # readings built from them and written
    accepted: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    bad_rows: int = 0
    errors: list[str] = field(default_factory=list)  # "line N: …", the first MAX_REPORTED

    def __str__(self) -> str:
        letters = ", ".join(f"{reason} {n}" for reason, n in self.dead_letters.most_common())
        return (
            f"{self.path.name} ({self.shape or 'unread'}): {self.rows} rows, {self.readings} readings: "
            f"{self.accepted} new, {self.duplicates} already present, "
            f"{self.dead_letters.total()} dead letters{f' ({letters})' if letters else ''}; "
            f"{self.bad_rows} bad rows skipped"
        )

    def add(self, result: BatchResult) -> None:
        self.readings += len(result.outcomes)
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.dead_letters.update(result.dead_letters)


class _Chunk:
    """Readings being gathered: (path, ts) → values, in first-seen order."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, datetime], dict[str, float]] = {}
        self.last_key: tuple[str, datetime] | None = None


def import_readings_csv(
    settings: Settings, path: Path, *, chunk_size: int = 5000, show_progress: bool = True
) -> ImportSummary:
    """Import a CSV file of readings; raises CsvFormatError when its header fits neither shape."""
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set")
    engine = make_engine(settings.database_url, pool_size=1)
    console = Console(stderr=True)
    summary = ImportSummary(path)
    try:
        factory = make_session_factory(engine)
        with (
            Progress(
                TextColumn("[bold]import[/] {task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=console,
                disable=not show_progress,
            ) as progress,
            path.open("rb") as file,
        ):
            task = progress.add_task(path.name, total=path.stat().st_size)

            def lines() -> Iterator[str]:
                for number, raw in enumerate(file):
                    progress.advance(task, len(raw))
                    text = raw.decode("utf-8", errors="replace")
                    yield text.removeprefix("\ufeff") if number == 0 else text

            def report(line: int, message: str) -> None:
                summary.bad_rows += 1
                if len(summary.errors) < MAX_REPORTED:
                    summary.errors.append(f"line {line}: {message}")
                    progress.console.print(f"[yellow]{path.name}, line {line}:[/] {message}", markup=True)

            _read(csv.reader(lines()), settings, factory, chunk_size, summary, report)
    finally:
        engine.dispose()
    if summary.bad_rows > len(summary.errors):
        console.print(f"… and {summary.bad_rows - len(summary.errors)} more bad rows")
    log.info(
        "imported %s: %d rows, %d readings (%d new, %d duplicates, %d dead letters), %d bad rows",
        path,
        summary.rows,
        summary.readings,
        summary.accepted,
        summary.duplicates,
        summary.dead_letters.total(),
        summary.bad_rows,
    )
    return summary


def _read(
    reader: Iterator[list[str]],
    settings: Settings,
    factory: sessionmaker[Session],
    chunk_size: int,
    summary: ImportSummary,
    report: Report,
) -> None:
    header = [cell.strip() for cell in next(reader, [])]
    sensors = _shape(header)
    summary.shape = "long" if sensors is None else "wide"
    chunk = _Chunk()
    now = datetime.now(UTC)
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue
        summary.rows += 1
        line = reader.line_num  # type: ignore[attr-defined]
        key_and_values = _parse_row(row, sensors, settings, now)
        if isinstance(key_and_values, str):
            report(line, key_and_values)
            continue
        key, values = key_and_values
        gathered = chunk.values.setdefault(key, {})
        clash = [name for name, value in values.items() if gathered.get(name, value) != value]
        if clash:
            report(line, f"{key[0]} at {key[1].isoformat()}: {clash[0]!r} was given another value before")
            continue
        gathered.update(values)
        if len(chunk.values) >= chunk_size and key != chunk.last_key and chunk.last_key is not None:
            # Flush all but the reading this row starts, so that its following rows join it.
            started = chunk.values.pop(key)
            _write(chunk, settings, factory, summary)
            chunk = _Chunk()
            chunk.values[key] = started
        chunk.last_key = key
    _write(chunk, settings, factory, summary)


def _shape(header: list[str]) -> list[str] | None:
    """None for the long shape, else the wide shape's sensor names."""
    if [h.lower() for h in header] == ["machine", "ts", "sensor", "value"]:
        return None
    if len(header) > 2 and [h.lower() for h in header[:2]] == ["machine", "ts"]:
        sensors = header[2:]
        bad = [name for name in sensors if not is_valid_name(name)]
        if bad:
            raise CsvFormatError(f"sensor column {bad[0]!r} must be 1-64 characters of A-Z a-z 0-9 _ . -")
        if len(set(sensors)) != len(sensors):
            raise CsvFormatError("a sensor column appears twice in the header")
        return sensors
    raise CsvFormatError(
        f"header {','.join(header)[:200]!r} fits neither machine,ts,sensor,value (long) "
        "nor machine,ts,<sensor>,... (wide)"
    )


def _parse_row(
    row: list[str], sensors: list[str] | None, settings: Settings, now: datetime
) -> tuple[tuple[str, datetime], dict[str, float]] | str:
    """((machine path, ts), values), or a message saying what is wrong with the row."""
    width = 4 if sensors is None else 2 + len(sensors)
    if len(row) != width:
        return f"{len(row)} columns where the header has {width}"
    machine = row[0].strip()
    parts = machine.split("/")
    if len(parts) != 3 or not all(is_valid_name(p) for p in parts):
        return f"machine {machine[:80]!r} is not site/line/machine (each 1-64 of A-Z a-z 0-9 _ . -)"
    raw_ts = row[1].strip()
    millis = _number(raw_ts)  # epoch milliseconds, or else an RFC 3339 string
    ts = parse_timestamp(
        raw_ts if millis is None else millis, received_at=now, max_future_s=settings.ingest_max_future_s
    )
    if isinstance(ts, Rejection):
        return ts.detail
    cells = (
        [(row[2].strip(), row[3].strip())] if sensors is None else list(zip(sensors, row[2:], strict=True))
    )
    values: dict[str, float] = {}
    for name, cell in cells:
        if sensors is None and not is_valid_name(name):
            return f"sensor name {name[:80]!r} must be 1-64 characters of A-Z a-z 0-9 _ . -"
        if not cell.strip():
            if sensors is None:
                return f"no value for sensor {name!r}"
            continue
        value = _number(cell.strip())
        if value is None or not math.isfinite(value):
            return f"value {cell.strip()[:40]!r} of sensor {name!r} is not a finite number"
        values[name] = value
    if not values:
        return "the row has no values"
    return (machine, ts), values


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _write(chunk: _Chunk, settings: Settings, factory: sessionmaker[Session], summary: ImportSummary) -> None:
    if not chunk.values:
        return
    items: list[Incoming] = []
    for (path, ts), values in chunk.values.items():
        site, line, machine = path.split("/")
        telemetry = Telemetry(site, line, machine, ts, None, values)
        topic = telemetry_topic(settings.mqtt_topic_root, telemetry)
        items.append(Incoming(topic, telemetry_payload(telemetry), telemetry, datetime.now(UTC)))
    days = sorted({ts.date() for _, ts in chunk.values})
    never = threading.Event()

    def ensure() -> None:
        with transaction(factory) as session:
            ensure_daily_partitions(session, days[0], days[-1])

    retrying(never, "creating readings partitions", give_up_after_s=GIVE_UP_AFTER_S)(ensure)
    result = retrying(never, f"{len(items)} readings", give_up_after_s=GIVE_UP_AFTER_S)(
        write_isolating, factory, items, auto_register=settings.ingest_auto_register
    )
    summary.add(result)
    stamps = [ts for _, ts in chunk.values]

    def roll_up() -> None:  # history lies behind the rollup job's watermark: aggregate it now
        with transaction(factory) as session:
            refresh_range(session, min(stamps), max(stamps) + timedelta(microseconds=1))

    retrying(never, "rolling up the imported readings", give_up_after_s=GIVE_UP_AFTER_S)(roll_up)
