"""HTTP routes of machines and sensors: register, change and retire them (admin); list and read a
machine's sensors (any key). Machines are listed and read in api/machines, sites and lines in
hierarchy_routes.py.

The sensor routes come first, and this router before api/machines': `/machines/{machine:path}` would
also match `…/sensors/{sensor}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.assets import service
from api.assets.schemas import MachineChange, MachineIn, SensorChange, SensorIn
from api.deps import AdminKey, ReadKey, SessionDep, SettingsDep
from api.machines.routes import MachineRef
from api.machines.schemas import MachineOut, SensorOut
from api.pagination import Page
from api.schemas import CONFLICT_RESPONSE, ERROR_RESPONSES

router = APIRouter(prefix="/machines", tags=["machines"], responses=ERROR_RESPONSES)
SensorName = Annotated[str, Path(max_length=64)]


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


@router.get("/{machine:path}/sensors", summary="A machine's sensors, in the order of its readings' values")
def list_sensors(
    session: SessionDep, settings: SettingsDep, _key: ReadKey, machine: MachineRef,
    include_retired: Annotated[bool, Query(description="Also the retired ones.")] = False,
    cursor: Annotated[str | None, Query(max_length=300, description="next_cursor of the last page.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Sensors per page (default 100).")] = None,
) -> Page[SensorOut]:  # fmt: skip
    return service.list_sensors(
        session, machine, include_retired=include_retired, cursor=cursor, limit=limit,
        max_page=settings.api_max_page,
    )  # fmt: skip


@router.get("/{machine:path}/sensors/{sensor}", summary="One sensor of a machine")
def get_sensor(session: SessionDep, _key: ReadKey, machine: MachineRef, sensor: SensorName) -> SensorOut:
    return service.get_sensor(session, machine, sensor)


@router.patch("/{machine:path}/sensors/{sensor}", summary="Set a sensor's unit and normal range (admin)")
def change_sensor(
    session: SessionDep, _key: AdminKey, machine: MachineRef, sensor: SensorName, change: SensorChange
) -> MachineOut:
    return service.change_sensor(session, machine, sensor, change)


@router.delete(
    "/{machine:path}/sensors/{sensor}",
    summary="Retire a sensor (admin): out of the sensor checks; its readings stay",
)
def retire_sensor(session: SessionDep, _key: AdminKey, machine: MachineRef, sensor: SensorName) -> SensorOut:
    return service.retire_sensor(session, machine, sensor)


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
