"""Rules for describing assets: only the fields sent change; an MES code names one machine only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.assets.schemas import MachineChange, SensorChange, SiteChange, SiteOut
from api.errors import ApiError, invalid, not_found
from api.machines.schemas import MachineOut
from api.machines.service import find_machine, get_machine
from db.tables import Machine, Sensor, Site


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
    sensor = session.scalar(select(Sensor).where(Sensor.machine_id == machine.id, Sensor.name == sensor_name))
    if sensor is None:
        known = ", ".join(s.name for s in machine.sensors) or "none yet"
        raise not_found(f"machine {machine.path!r} has no sensor {sensor_name!r} (its sensors: {known})")
    fields = change.model_fields_set
    low = change.normal_min if "normal_min" in fields else sensor.normal_min
    high = change.normal_max if "normal_max" in fields else sensor.normal_max
    if low is not None and high is not None and low > high:
        raise invalid(f"normal_min ({low}) must not exceed normal_max ({high})")
    for name in fields:
        setattr(sensor, name, getattr(change, name))
    session.flush()
    return get_machine(session, str(machine.id))


def change_site(session: Session, name: str, change: SiteChange) -> SiteOut:
    site = session.scalar(select(Site).where(Site.name == name).with_for_update())
    if site is None:
        raise not_found(f"no site {name!r}")
    site.timezone = change.timezone
    session.flush()
    return SiteOut(name=site.name, timezone=site.timezone)
