"""HTTP routes that describe assets (admin): PATCH a machine, one of its sensors, or a site.

The sensor route comes first: `/machines/{machine:path}` would also match `…/sensors/{sensor}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.assets import service
from api.assets.schemas import MachineChange, SensorChange, SiteChange, SiteOut
from api.deps import SessionDep, require_role
from api.machines.routes import MachineRef
from api.machines.schemas import MachineOut
from api.schemas import ERROR_RESPONSES
from db.tables import ApiKey

router = APIRouter(prefix="/machines", tags=["machines"], responses=ERROR_RESPONSES)
sites_router = APIRouter(prefix="/sites", tags=["machines"], responses=ERROR_RESPONSES)
AdminKey = Annotated[ApiKey, Depends(require_role("admin"))]


@router.patch("/{machine:path}/sensors/{sensor}", summary="Set a sensor's unit and normal range (admin)")
def change_sensor(
    session: SessionDep,
    _key: AdminKey,
    machine: MachineRef,
    sensor: Annotated[str, Path(max_length=64)],
    change: SensorChange,
) -> MachineOut:
    return service.change_sensor(session, machine, sensor, change)


@router.patch("/{machine:path}", summary="Set a machine's type and MES code (admin)")
def change_machine(
    session: SessionDep, _key: AdminKey, machine: MachineRef, change: MachineChange
) -> MachineOut:
    return service.change_machine(session, machine, change)


@sites_router.patch("/{site}", summary="Set a site's time zone (admin)")
def change_site(
    session: SessionDep, _key: AdminKey, site: Annotated[str, Path(max_length=64)], change: SiteChange
) -> SiteOut:
    return service.change_site(session, site, change)
