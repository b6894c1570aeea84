"""Events for the API: record one (domain rules in services.events) and list a machine's events."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.errors import conflict, invalid, not_found
from api.events.schemas import EventIn, EventOut
from api.machines.service import find_machine
from api.pagination import Page, TimeRange, decode_time_id_cursor, encode_cursor, page_size
from db.repositories import events as events_repo
from db.tables import Machine, MachineEvent
from services import events as events_service


def _event_out(event: MachineEvent, machine: Machine) -> EventOut:
    return EventOut(
        id=event.id,
        machine=machine.path,
        kind=event.kind,
        ts=event.ts,
        note=event.note,
        work_order_id=event.work_order_id,
        created_by=event.created_by,
        created_at=event.created_at,
    )


def record_event(session: Session, ref: str, body: EventIn, created_by: str) -> EventOut:
    machine = find_machine(session, ref)
    try:
        event = events_service.record_event(
            session, machine, body.kind, body.ts, body.note, body.work_order_id, created_by
        )
    except events_service.DuplicateEventError as exc:
        raise conflict(str(exc)) from exc
    except events_service.UnknownMachineError as exc:
        raise not_found(str(exc)) from exc
    except events_service.EventError as exc:
        raise invalid(str(exc)) from exc
    return _event_out(event, machine)


def list_events(
    session: Session,
    ref: str,
    *,
    kind: str | None,
    period: TimeRange,
    cursor: str | None,
    limit: int | None,
    max_page: int,
) -> Page[EventOut]:
    limit = page_size(limit, max_page, "events")
    machine = find_machine(session, ref)
    before = decode_time_id_cursor(cursor)
    events = events_repo.list_events(
        session, machine.id, before=before, kind=kind, since=period.since, until=period.until, limit=limit + 1
    )
    page = events[:limit]
    next_cursor = None
    if len(events) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last.ts.isoformat(), last.id)
    return Page[EventOut](items=[_event_out(e, machine) for e in page], next_cursor=next_cursor)
