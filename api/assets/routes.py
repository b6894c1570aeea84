"""HTTP routes of assets: list sites and lines (any key); create, change and retire sites, lines,
machines and sensors (admin). Machines are listed and read in api/machines.

The sensor routes come first: `/machines/{machine:path}` would also match `…/sensors/{sensor}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.assets import service
from api.assets.schemas import (
    AssetName,
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
from api.deps import AdminKey, ReadKey, SessionDep
from api.machines.routes import MachineRef
from api.machines.schemas import MachineOut
from api.schemas import CONFLICT_RESPONSE, ERROR_RESPONSES

router = APIRouter(prefix="/machines", tags=["machines"], responses=ERROR_RESPONSES)
sites_router = APIRouter(prefix="/sites", tags=["machines"], responses=ERROR_RESPONSES)
lines_router = APIRouter(prefix="/lines", tags=["machines"], responses=ERROR_RESPONSES)
SiteName = Annotated[str, Path(max_length=64)]


@router.post(
    "", status_code=201, summary="Register a machine, with its sensors (admin)", responses=CONFLICT_RESPONSE
)
def create_machine(session: SessionDep, _key: AdminKey, body: MachineIn) -> MachineOut:
    return service.create_machine(session, body)


@router.post(
    "/{machine:path}/sensors",
    status_code=201,
    summary="Add a sensor to a machine (admin)",
    responses=CONFLICT_RESPONSE,
)
def add_sensor(session: SessionDep, _key: AdminKey, machine: MachineRef, body: SensorIn) -> MachineOut:
    return service.add_sensor(session, machine, body)


@router.patch("/{machine:path}/sensors/{sensor}", summary="Set a sensor's unit and normal range (admin)")
def change_sensor(
    session: SessionDep,
    _key: AdminKey,
    machine: MachineRef,
    sensor: Annotated[str, Path(max_length=64)],
    change: SensorChange,
) -> MachineOut:
    return service.change_sensor(session, machine, sensor, change)


@router.patch(
    "/{machine:path}", summary="Set a machine's type and MES code (admin)", responses=CONFLICT_RESPONSE
)
def change_machine(
    session: SessionDep, _key: AdminKey, machine: MachineRef, change: MachineChange
) -> MachineOut:
    return service.change_machine(session, machine, change)


@router.delete("/{machine:path}", summary="Retire a machine (admin): no more scoring; history is kept")
def retire_machine(session: SessionDep, _key: AdminKey, machine: MachineRef) -> MachineOut:
    return service.retire_machine(session, machine)


@sites_router.get("", summary="Sites with their time zones and lines")
def list_sites(session: SessionDep, _key: ReadKey) -> list[SiteOut]:
    return service.list_sites(session)


@sites_router.post("", status_code=201, summary="Create a site (admin)", responses=CONFLICT_RESPONSE)
def create_site(session: SessionDep, _key: AdminKey, body: SiteIn) -> SiteOut:
    return service.create_site(session, body)


@sites_router.get("/{site}", summary="One site")
def get_site(session: SessionDep, _key: ReadKey, site: SiteName) -> SiteOut:
    return service.get_site(session, site)


@sites_router.patch("/{site}", summary="Set a site's time zone (admin)")
def change_site(session: SessionDep, _key: AdminKey, site: SiteName, change: SiteChange) -> SiteOut:
    return service.change_site(session, site, change)


@lines_router.get("", summary="Lines with how many machines each has in service")
def list_lines(
    session: SessionDep,
    _key: ReadKey,
    site: Annotated[AssetName | None, Query(description="Only this site's lines.")] = None,
) -> list[LineOut]:
    return service.list_lines(session, site)


@lines_router.post(
    "", status_code=201, summary="Create a line on a site (admin)", responses=CONFLICT_RESPONSE
)
def create_line(session: SessionDep, _key: AdminKey, body: LineIn) -> LineOut:
    return service.create_line(session, body)
