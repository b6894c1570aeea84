"""Rules for assets: create, describe and retire sites, lines, machines and sensors. Only the fields
sent change; an MES code names one machine only; a name is created once (409 after)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from api.assets.schemas import (
    LineIn,
    LineOut,
    MachineChange,
    MachineIn,
    SensorChange,
    SensorIn,
    SiteChange,
    SiteIn,
    SiteOut,
)
from api.errors import ApiError, conflict, invalid, not_found
from api.machines.schemas import MachineOut
from api.machines.service import find_machine, get_machine
from db.base import utcnow
from db.repositories import assets as assets_repo
from db.tables import Line, Machine, Sensor, Site


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


def change_site(session: Session, name: str, change: SiteChange) -> SiteOut:
    site = session.scalar(select(Site).where(Site.name == name).with_for_update())
    if site is None:
        raise not_found(f"no site {name!r}")
    site.timezone = change.timezone
    session.flush()
    return _site_out(site)


def _site_out(site: Site) -> SiteOut:
    return SiteOut(name=site.name, timezone=site.timezone, lines=sorted(line.name for line in site.lines))


def list_sites(session: Session) -> list[SiteOut]:
    sites = session.scalars(select(Site).options(selectinload(Site.lines)).order_by(Site.name)).all()
    return [_site_out(site) for site in sites]


def find_site(session: Session, name: str) -> Site:
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        raise not_found(f"no site {name!r}")
    return site


def get_site(session: Session, name: str) -> SiteOut:
    return _site_out(find_site(session, name))


def create_site(session: Session, body: SiteIn) -> SiteOut:
    if session.scalar(select(Site.id).where(Site.name == body.name)) is not None:
        raise conflict(f"site {body.name!r} exists; change it with PATCH /api/v1/sites/{body.name}")
    site = Site(name=body.name, timezone=body.timezone)
    session.add(site)
    session.flush()
    return SiteOut(name=site.name, timezone=site.timezone, lines=[])


def list_lines(session: Session, site: str | None) -> list[LineOut]:
    in_service = func.count(Machine.id).filter(Machine.retired_at.is_(None))
    query = (
        select(Site.name, Line.name, in_service)
        .join(Line.site)
        .outerjoin(Machine, Machine.line_id == Line.id)
        .group_by(Site.name, Line.name)
        .order_by(Site.name, Line.name)
    )
    if site is not None:
        query = query.where(Site.name == site)
    return [
        LineOut(site=s, name=n, path=f"{s}/{n}", machines=count) for s, n, count in session.execute(query)
    ]


def create_line(session: Session, body: LineIn) -> LineOut:
    site = find_site(session, body.site)
    if session.scalar(select(Line.id).where(Line.site_id == site.id, Line.name == body.name)) is not None:
        raise conflict(f"line {body.site}/{body.name} exists")
    session.add(Line(site_id=site.id, name=body.name))
    session.flush()
    return LineOut(site=site.name, name=body.name, path=f"{site.name}/{body.name}", machines=0)


def create_machine(session: Session, body: MachineIn) -> MachineOut:
    """Register a machine before it sends anything (its site and line too, when new)."""
    path = assets_repo.machine_path(body.site, body.line, body.name)
    if assets_repo.get_machine_by_path(session, path) is not None:
        raise conflict(f"machine {path!r} exists; change it with PATCH /api/v1/machines/{path}")
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
