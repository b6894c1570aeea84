"""Rules for machines and their sensors: register, change, retire (sites and lines: hierarchy.py).
Only the fields sent change; an MES code names one machine only; a name is created once (409 after)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.assets.hierarchy import check_open_for_machines
from api.assets.schemas import MachineChange, MachineIn, SensorChange, SensorIn
from api.errors import ApiError, conflict, invalid, not_found
from api.machines.schemas import MachineOut, SensorOut
from api.machines.service import find_machine, get_machine
from api.pagination import Page, decode_id_cursor, encode_cursor, page_size
from db.base import utcnow
from db.repositories import assets as assets_repo
from db.tables import Machine, Sensor


def change_machine(session: Session, ref: str, change: MachineChange) -> MachineOut:
    machine = find_machine(session, ref)
    fields = change.model_fields_set
    if "external_code" in fields and change.external_code is not None:
        holder = session.scalar(select(Machine).where(Machine.external_code == change.external_code))
        if holder is not None and holder.id != machine.id:
            raise ApiError(
                409, f"external code {change.external_code!r} already names machine {holder.path!r}"
            )
    for name in fields:
        setattr(machine, name, getattr(change, name))
    session.flush()
    return get_machine(session, str(machine.id))


def change_sensor(session: Session, ref: str, sensor_name: str, change: SensorChange) -> MachineOut:
    machine = find_machine(session, ref)
    _change_sensor(session, machine, sensor_name, change)
    return get_machine(session, str(machine.id))


def _change_sensor(session: Session, machine: Machine, sensor_name: str, change: SensorChange) -> None:
    sensor = _find_sensor(session, machine, sensor_name)
    fields = change.model_fields_set
    low = change.normal_min if "normal_min" in fields else sensor.normal_min
    high = change.normal_max if "normal_max" in fields else sensor.normal_max
    if low is not None and high is not None and low > high:
        raise invalid(f"normal_min ({low}) must not exceed normal_max ({high})")
    for name in fields:
        setattr(sensor, name, getattr(change, name))
    session.flush()


def create_machine(session: Session, body: MachineIn) -> MachineOut:
    """Register a machine before it sends anything (its site and line too, when new)."""
    path = assets_repo.machine_path(body.site, body.line, body.name)
    if assets_repo.get_machine_by_path(session, path) is not None:
        raise conflict(f"machine {path!r} exists; change it with PATCH /api/v1/machines/{path}")
    check_open_for_machines(session, body.site, body.line)
    machine = assets_repo.register_machine(session, body.site, body.line, body.name)
    change_machine(
        session,
        str(machine.id),
        MachineChange(**body.model_dump(include=body.model_fields_set & {"machine_type", "external_code"})),
    )
    for sensor in body.sensors:
        _add_sensor(session, machine, sensor)
    return get_machine(session, str(machine.id))


def add_sensor(session: Session, ref: str, body: SensorIn) -> MachineOut:
    machine = find_machine(session, ref)
    _add_sensor(session, machine, body)
    return get_machine(session, str(machine.id))


def _add_sensor(session: Session, machine: Machine, body: SensorIn) -> None:
    if body.name in assets_repo.sensor_positions(session, machine.id):
        raise conflict(f"machine {machine.path!r} already has sensor {body.name!r}; change it with PATCH")
    assets_repo.register_sensors(session, machine.id, [body.name])
    session.expire(machine)
    _change_sensor(
        session, machine, body.name, SensorChange(**body.model_dump(include=body.model_fields_set - {"name"}))
    )


def retire_machine(session: Session, ref: str) -> MachineOut:
    """Take a machine out of service: no more scoring, its alerts resolve; its history stays."""
    machine = find_machine(session, ref)
    if machine.retired_at is None:
        machine.retired_at = utcnow()
        session.flush()
    return get_machine(session, str(machine.id))


def _find_sensor(session: Session, machine: Machine, sensor_name: str) -> Sensor:
    sensor = session.scalar(select(Sensor).where(Sensor.machine_id == machine.id, Sensor.name == sensor_name))
    if sensor is None:
        known = ", ".join(s.name for s in machine.sensors) or "none yet"
        raise not_found(f"machine {machine.path!r} has no sensor {sensor_name!r} (its sensors: {known})")
    return sensor


def list_sensors(
    session: Session, ref: str, *, include_retired: bool, cursor: str | None, limit: int | None, max_page: int
) -> Page[SensorOut]:
    """A machine's sensors in position order (the order of its readings' values)."""
    machine = find_machine(session, ref)
    size = page_size(limit, max_page, "sensors")
    query = (
        select(Sensor)
        .where(Sensor.machine_id == machine.id, Sensor.position > decode_id_cursor(cursor))
        .order_by(Sensor.position)
        .limit(size + 1)
    )
    if not include_retired:
        query = query.where(Sensor.retired_at.is_(None))
    sensors = session.scalars(query).all()
    page = sensors[:size]
    return Page(
        items=[SensorOut.model_validate(sensor, from_attributes=True) for sensor in page],
        next_cursor=encode_cursor(page[-1].position) if len(sensors) > size else None,
    )


def get_sensor(session: Session, ref: str, sensor_name: str) -> SensorOut:
    sensor = _find_sensor(session, find_machine(session, ref), sensor_name)
    return SensorOut.model_validate(sensor, from_attributes=True)


def retire_sensor(session: Session, ref: str, sensor_name: str) -> SensorOut:
    """Take a sensor out of service: out of the sensor checks; its readings and position stay."""
    sensor = _find_sensor(session, find_machine(session, ref), sensor_name)
    if sensor.retired_at is None:
        sensor.retired_at = utcnow()
        session.flush()
    return SensorOut.model_validate(sensor, from_attributes=True)
