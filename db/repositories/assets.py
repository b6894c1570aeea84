"""Queries on the asset hierarchy: resolve a machine by id or path, register what ingest first sees."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, Row, UnaryExpression, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.rollups import STATE_SEALED, VERSION, SealedState
from db.tables import Line, Machine, Prediction, Sensor, Site


def machine_path(site: str, line: str, machine: str) -> str:
    return f"{site}/{line}/{machine}"


def _ref_filter(ref: str | int) -> tuple[ColumnElement[bool], list[UnaryExpression[bool]]] | None:
    """The machines a reference may name (surrogate id `42`, path `site/line/machine`, or MES external
    code) and the order that puts the one it names first (the id's); None when it can name none."""
    if isinstance(ref, int):
        return (Machine.id == ref, []) if 0 < ref < 2**31 else None
    if not ref or "\x00" in ref:  # PostgreSQL text cannot hold NUL: no machine has such a path
        return None
    if ref.isascii() and ref.isdigit() and 0 < int(ref) < 2**31:
        # A numeric MES code that is no machine's id still names its machine.
        by_id = Machine.id == int(ref)
        return or_(by_id, Machine.external_code == ref), [by_id.desc()]
    return or_(Machine.path == ref, Machine.external_code == ref), []


def resolve_machine(session: Session, ref: str | int) -> Machine | None:
    """A machine by surrogate id (`42`), path (`site/line/machine`) or MES external code."""
    found = _ref_filter(ref)
    if found is None:
        return None
    where, first = found
    return session.scalar(select(Machine).where(where).order_by(*first).limit(1))


class SensorRef(NamedTuple):
    machine_id: int
    machine_path: str
    position: int | None  # None: the machine has no sensor of that name
    name: str | None
    unit: str | None
    rollups: SealedState  # read in the same statement: a readings request needs it next


# One statement each, built once: resolving is on the path of every readings request.
_SENSOR_OF = (
    "SELECT m.id, m.path, s.position, s.name, s.unit, "
    f"(SELECT done_until FROM rollup_state WHERE name = '{STATE_SEALED}'), "
    f"coalesce((SELECT version FROM data_versions WHERE name = '{VERSION}'), 0) FROM machines m "
    "LEFT JOIN sensors s ON s.machine_id = m.id AND s.name = :sensor "
)
_SENSOR_BY_PATH_OR_CODE = text(_SENSOR_OF + "WHERE m.path = :ref OR m.external_code = :ref LIMIT 1")
_SENSOR_BY_ID_OR_CODE = text(
    _SENSOR_OF + "WHERE m.id = :id OR m.external_code = :ref ORDER BY m.id = :id DESC LIMIT 1"
)


def resolve_sensor(session: Session, ref: str, sensor: str) -> SensorRef | None:
    """A machine (named as `resolve_machine` takes it), its sensor of that name and the rollups' sealed
    state (db.rollups), in one query; None when there is no such machine."""
    if _ref_filter(ref) is None:
        return None
    params: dict[str, object] = {"ref": ref, "sensor": sensor}
    if ref.isascii() and ref.isdigit():  # _ref_filter: then an id in range, or an MES code
        statement = _SENSOR_BY_ID_OR_CODE
        params["id"] = int(ref)
    else:
        statement = _SENSOR_BY_PATH_OR_CODE
    row = session.execute(statement, params).first()
    if row is None:
        return None
    machine_id, path, position, name, unit, sealed_until, rollups_version = row
    return SensorRef(machine_id, path, position, name, unit, SealedState(sealed_until, rollups_version))


def get_machine_by_path(session: Session, path: str) -> Machine | None:
    return session.scalar(select(Machine).where(Machine.path == path))


def register_machine(session: Session, site: str, line: str, machine: str) -> Machine:
    """Get or create the machine (and its site and line); safe against concurrent registration."""
    path = machine_path(site, line, machine)
    found = get_machine_by_path(session, path)
    if found is not None:
        return found
    session.execute(insert(Site).values(name=site).on_conflict_do_nothing(index_elements=["name"]))
    site_id = session.scalar(select(Site.id).where(Site.name == site))
    session.execute(
        insert(Line)
        .values(site_id=site_id, name=line)
        .on_conflict_do_nothing(index_elements=["site_id", "name"])
    )
    line_id = session.scalar(select(Line.id).where(Line.site_id == site_id, Line.name == line))
    session.execute(
        insert(Machine)
        .values(line_id=line_id, name=machine, path=path)
        .on_conflict_do_nothing(index_elements=["path"])
    )
    registered = get_machine_by_path(session, path)
    assert registered is not None
    return registered


def sensor_positions(session: Session, machine_id: int) -> dict[str, int]:
    rows = session.execute(select(Sensor.name, Sensor.position).where(Sensor.machine_id == machine_id))
    return {name: position for name, position in rows}


def register_sensors(session: Session, machine_id: int, names: Iterable[str]) -> dict[str, int]:
    """Give every new sensor name the machine's next array position; returns all positions."""
    positions = sensor_positions(session, machine_id)
    missing = sorted(set(names) - positions.keys())
    if not missing:
        return positions
    # Serialise position assignment per machine across ingest processes.
    session.execute(text("SELECT pg_advisory_xact_lock(7301, :m)"), {"m": machine_id})
    positions = sensor_positions(session, machine_id)
    next_position = max(positions.values(), default=0) + 1
    for name in sorted(set(names) - positions.keys()):
        session.add(Sensor(machine_id=machine_id, name=name, position=next_position))
        positions[name] = next_position
        next_position += 1
    session.flush()
    return positions


def machine_refs(
    session: Session, *, site: str | None, line: str | None, after_id: int, limit: int,
    predicted: tuple[datetime | None, datetime | None] = (None, None),
) -> Sequence[Row[int, str, str | None, int]]:  # fmt: skip
    """(id, path, machine_type, line_id) of active machines by id after `after_id`: a page of machines
    for lists that need no more of them, read without building ORM objects. `predicted`: only those
    whose newest prediction was made in [since, until)."""
    query = (
        select(Machine.id, Machine.path, Machine.machine_type, Machine.line_id)
        .join(Line, Line.id == Machine.line_id)
        .join(Site, Site.id == Line.site_id)
        .where(Machine.id > after_id, Machine.retired_at.is_(None))
        .order_by(Machine.id)
        .limit(limit)
    )
    if site is not None:
        query = query.where(Site.name == site)
    if line is not None:
        query = query.where(Line.name == line)
    since, until = predicted
    if since is not None or until is not None:
        newest = select(func.max(Prediction.made_at)).where(Prediction.machine_id == Machine.id)
        newest_at = newest.scalar_subquery()
        if since is not None:
            query = query.where(newest_at >= since)
        if until is not None:
            query = query.where(newest_at < until)
    return session.execute(query).all()


def count_machines(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Machine)) or 0)


def last_seen_of_active_machines(session: Session) -> list[tuple[int, str, datetime | None]]:
    """(id, path, last_seen_at) of every machine that is not retired."""
    rows = session.execute(
        select(Machine.id, Machine.path, Machine.last_seen_at)
        .where(Machine.retired_at.is_(None))
        .order_by(Machine.id)
    )
    return [(machine_id, path, last_seen) for machine_id, path, last_seen in rows]


def active_machine_types(session: Session) -> list[tuple[int, str, str | None]]:
    """(id, path, machine_type) of every machine that is not retired, by id."""
    rows = session.execute(
        select(Machine.id, Machine.path, Machine.machine_type)
        .where(Machine.retired_at.is_(None))
        .order_by(Machine.id)
    )
    return [(machine_id, path, machine_type) for machine_id, path, machine_type in rows]


def lines_of_active_machines(session: Session) -> dict[int, int]:
    """machine id → line id of every machine that is not retired."""
    rows = session.execute(select(Machine.id, Machine.line_id).where(Machine.retired_at.is_(None)))
    return {machine_id: line_id for machine_id, line_id in rows}


def sensor_positions_of(session: Session, machine_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Sensor positions of several machines in one query: machine id → {name: position}."""
    ids = sorted(set(machine_ids))
    found: dict[int, dict[str, int]] = {machine_id: {} for machine_id in ids}
    if ids:
        rows = session.execute(
            select(Sensor.machine_id, Sensor.name, Sensor.position).where(Sensor.machine_id.in_(ids))
        )
        for machine_id, name, position in rows:
            found[machine_id][name] = position
    return found


def machine_ids_by_path(session: Session, paths: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(paths))
    if not wanted:
        return {}
    rows = session.execute(select(Machine.id, Machine.path).where(Machine.path.in_(wanted)))
    return {path: machine_id for machine_id, path in rows}


def lock_registrations(session: Session, key: int) -> None:
    """Serialise machine registration across processes until the transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def count_machines_created_since(session: Session, since: datetime) -> int:
    query = select(func.count()).select_from(Machine).where(Machine.created_at > since)
    return int(session.scalar(query) or 0)
