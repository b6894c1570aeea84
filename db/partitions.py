"""Daily partitions of `readings`: create the ones needed, moving rows out of the default partition.

The default partition catches rows for days with no partition yet (an import of old history, a
clock far off), so an insert never fails for want of a partition; `ensure_daily_partitions` later
gives those days their own partition. `drop_partitions_before` removes whole old days (retention).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

DEFAULT_PARTITION = "readings_default"
PARTITION_LOCK = 7303  # pg_advisory_xact_lock key of partition creation


def partition_name(day: date) -> str:
    return f"readings_{day:%Y%m%d}"


def existing_partitions(session: Session) -> set[str]:
    rows = session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'readings'"
        )
    )
    return {r[0] for r in rows}


def lock_partitions(session: Session) -> None:
    """Hold off partition creation and drops by others until this transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PARTITION_LOCK})


def ensure_daily_partitions(session: Session, first: date, last: date) -> list[str]:
    """Create a partition for every day in [first, last] that lacks one; returns those created."""
    # Every ingestor and the scheduler's job do this: serialised, the later ones find them made.
    lock_partitions(session)
    have = existing_partitions(session)
    created: list[str] = []
    day = first
    while day <= last:
        name = partition_name(day)
        if name not in have:
            _create_partition(session, day, name)
            created.append(name)
        day += timedelta(days=1)
    return created


def partition_day(name: str) -> date | None:
    """The UTC day that a daily partition holds; None for the default partition and other names."""
    if name == DEFAULT_PARTITION or not is_partition_name(name):
        return None
    return datetime.strptime(name[9:], "%Y%m%d").date()


def daily_partitions_before(session: Session, before: date) -> dict[str, date]:
    """The daily partitions of days before `before`, oldest first: name → day."""
    days = ((name, partition_day(name)) for name in existing_partitions(session))
    return {name: day for name, day in sorted(days) if day is not None and day < before}


def drop_partitions_before(session: Session, before: date, keep: Collection[str] = ()) -> list[str]:
    """Drop the daily partitions of days before `before`, except those named in `keep`.

    Returns the dropped names, oldest first. Dropping a partition locks all of `readings` (ACCESS
    EXCLUSIVE) until the transaction ends, so the caller should commit soon after.
    """
    lock_partitions(session)
    dropped = [name for name in daily_partitions_before(session, before) if name not in keep]
    for name in dropped:
        session.execute(text(f"DROP TABLE {name}"))
    return dropped


def _create_partition(session: Session, day: date, name: str) -> None:
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    bounds = {"start": start, "end": end}
    # Rows of that day parked in the default partition would make CREATE ... PARTITION OF fail.
    session.execute(
        text(
            f"CREATE TEMP TABLE _moving ON COMMIT DROP AS SELECT * FROM {DEFAULT_PARTITION} "
            "WHERE ts >= :start AND ts < :end"
        ),
        bounds,
    )
    session.execute(text(f"DELETE FROM {DEFAULT_PARTITION} WHERE ts >= :start AND ts < :end"), bounds)
    session.execute(
        text(
            f"CREATE TABLE {name} PARTITION OF readings "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    )
    session.execute(text("INSERT INTO readings SELECT * FROM _moving"))
    session.execute(text("DROP TABLE _moving"))


def include_in_autogenerate(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic `include_object` hook: partitions of readings are made at run time, not by migrations."""
    return not (type_ == "table" and reflected and name is not None and is_partition_name(name))


def is_partition_name(name: str) -> bool:
    return name == DEFAULT_PARTITION or (
        name.startswith("readings_") and name[9:].isdigit() and len(name) == 17
    )
