"""HTTP routes that describe assets (admin): PATCH a machine or one of its sensors.

The sensor route comes first: `/machines/{machine:path}` would also match `…/sensors/{sensor}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.assets import service
from api.assets.schemas import MachineChange, SensorChange
from api.deps import SessionDep, require_role
from api.machines.routes import MachineRef
from api.machines.schemas import MachineOut
from api.schemas import ERROR_RESPONSES
from db.tables import ApiKey

router = APIRouter(prefix="/machines", tags=["machines"], responses=ERROR_RESPONSES)
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
