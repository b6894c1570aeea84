"""Downtime windows for the API: record, list (newest first, cursor-paged) and withdraw."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from api.downtime.schemas import DowntimeIn, DowntimeOut
from api.errors import invalid, not_found
from api.machines.service import find_machine
from api.pagination import Page, decode_id_cursor, encode_cursor, page_size
from api.quality.service import find_line_path
from db.repositories import downtime as repo
from db.tables import DowntimeWindow, Line, Machine

MAX_WINDOW = timedelta(days=90)


def _line_path(line: Line) -> str:
    return f"{line.site.name}/{line.name}"


def _out(session: Session, window: DowntimeWindow) -> DowntimeOut:
    machine = session.get(Machine, window.machine_id) if window.machine_id is not None else None
    line = session.get(Line, window.line_id) if window.line_id is not None else None
    return DowntimeOut(
        id=window.id,
        machine=machine.path if machine is not None else None,
        line=_line_path(line) if line is not None else None,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        reason=window.reason,
        work_order_id=window.work_order_id,
        created_by=window.created_by,
        created_at=window.created_at,
    )


def record_window(session: Session, body: DowntimeIn, created_by: str) -> DowntimeOut:
    if body.ends_at - body.starts_at > MAX_WINDOW:
        raise invalid(f"body.ends_at: a downtime window lasts at most {MAX_WINDOW.days} days")
    window = DowntimeWindow(
        machine_id=find_machine(session, body.machine).id if body.machine is not None else None,
        line_id=find_line_path(session, body.line, "body.line").id if body.line is not None else None,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        reason=body.reason,
        work_order_id=body.work_order_id,
        created_by=created_by,
    )
    session.add(window)
    session.flush()
    return _out(session, window)


def list_windows(
    session: Session,
    *,
    machine: str | None,
    line: str | None,
    ending_after: datetime | None,
    starting_before: datetime | None,
    cursor: str | None,
    limit: int | None,
    max_page: int,
) -> Page[DowntimeOut]:
    size = page_size(limit, max_page, "windows")
    machine_id = line_id = None
    if machine is not None:
        found = find_machine(session, machine)
        machine_id, line_id = found.id, found.line_id
    elif line is not None:
        line_id = find_line_path(session, line, "query.line").id
    after = decode_id_cursor(cursor)
    windows = repo.list_windows(
        session,
        machine_id=machine_id,
        line_id=line_id,
        ending_after=ending_after,
        starting_before=starting_before,
        before_id=after or None,
        limit=size + 1,
    )
    page = windows[:size]
    next_cursor = encode_cursor(page[-1].id) if len(windows) > size else None
    return Page[DowntimeOut](items=[_out(session, w) for w in page], next_cursor=next_cursor)


def withdraw_window(session: Session, window_id: int) -> None:
    window = session.get(DowntimeWindow, window_id, with_for_update=True)
    if window is None:
        raise not_found(f"downtime window {window_id} does not exist")
    session.delete(window)
    session.flush()
