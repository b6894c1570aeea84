"""Machine queries for the API: the fleet page by page, one machine (one sensor's readings: series.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy.orm import Session

from api.errors import not_found
from api.machines.schemas import (
    MachineOut,
)
from api.pagination import TimeRange, decode_id_cursor, encode_cursor, page_size
from db.repositories import assets as assets_repo
from db.repositories import machine_listing as listing_repo
from db.repositories.machine_listing import MachineRow
from db.tables import Machine


def find_machine(session: Session, ref: str) -> Machine:
    """The machine named by id, path or external code; 404 when there is none."""
    machine = assets_repo.resolve_machine(session, ref.strip().strip("/"))
    if machine is None:
        raise not_found(f"no machine {ref!r}; name it by id, path (site/line/machine) or external code")
    return machine


def _utc(ts: datetime | None) -> datetime | None:
    # As Timestamp does: whatever time zone the database session has, the answer says UTC.
    return ts.astimezone(UTC) if ts is not None else None


def _machine_out(row: MachineRow) -> dict[str, Any]:
    """A machine as MachineOut's fields, in its order, from its listing row."""
    names, positions = row.sensor_names or [], row.sensor_positions or []
    sensors = [
        {"name": name, "position": position, "unit": unit, "normal_min": low, "normal_max": high,
         "retired_at": _utc(retired)}
        for name, position, unit, low, high, retired in zip(
            names, positions, row.sensor_units or [], row.sensor_mins or [], row.sensor_maxs or [],
            row.sensor_retired or [], strict=True,
        )
    ]  # fmt: skip
    latest = None
    if row.latest_ts is not None:
        values = row.latest_values or []
        latest = {
            "ts": _utc(row.latest_ts),
            "values": {
                name: values[position - 1] if position <= len(values) else None
                for name, position in zip(names, positions, strict=True)
            },
        }
    return {
        "id": row.id, "path": row.path, "site": row.site, "line": row.line, "name": row.name,
        "machine_type": row.machine_type, "external_code": row.external_code,
        "last_seen_at": _utc(row.last_seen_at), "last_seq": row.last_seq, "seq_gaps": row.seq_gaps or 0,
        "sensors": sensors, "latest": latest, "retired_at": _utc(row.retired_at),
    }  # fmt: skip


def list_machines_json(
    session: Session,
    *,
    site: str | None,
    line: str | None,
    registered: TimeRange,
    cursor: str | None,
    limit: int | None,
    max_page: int,
) -> bytes:
    """A page of machines (`Page[MachineOut]`) as JSON. The rows are written as they come from the
    database, not validated into models first: for 1,000 machines that would cost more than the rest."""
    limit = page_size(limit, max_page, "machines")
    after_id = decode_id_cursor(cursor)
    # One extra row tells whether another page follows, so the last page has no cursor.
    rows = listing_repo.machine_rows(
        session, site=site, line=line, created=(registered.since, registered.until), after_id=after_id,
        limit=limit + 1,
    )  # fmt: skip
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].id) if len(rows) > limit else None
    # NaN and infinities as null, as the model writes them (ingest refuses them; a value written
    # into the database by other means must not make the answer invalid JSON).
    body = {"items": [_machine_out(row) for row in page], "next_cursor": next_cursor}
    return to_json(body, inf_nan_mode="null")


def get_machine(session: Session, ref: str) -> MachineOut:
    found = find_machine(session, ref)
    (row,) = listing_repo.machine_rows(session, ids=[found.id], include_retired=True, limit=1)
    return MachineOut.model_validate(_machine_out(row))
