"""HTTP routes of sites and lines: list and read them (any key); create, change and retire them (admin).
A site is named by its name or MES code, a line by `site/line` or its MES code."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.assets import hierarchy
from api.assets.schemas import AssetName, LineChange, LineIn, LineOut, SiteChange, SiteIn, SiteOut
from api.deps import AdminKey, ReadKey, SessionDep, SettingsDep
from api.pagination import Page, TimeRangeDep
from api.schemas import CONFLICT_RESPONSE, ERROR_RESPONSES

sites_router = APIRouter(prefix="/sites", tags=["machines"], responses=ERROR_RESPONSES)
lines_router = APIRouter(prefix="/lines", tags=["machines"], responses=ERROR_RESPONSES)
SiteRef = Annotated[str, Path(max_length=128, description="The site's name or MES code.")]
LineRef = Annotated[str, Path(max_length=200, description="site/line, or the line's MES code.")]
Cursor = Annotated[str | None, Query(max_length=300, description="next_cursor of the last page.")]
Limit = Annotated[int | None, Query(ge=1, description="Items per page: default 100, at most api_max_page.")]
IncludeRetired = Annotated[bool, Query(description="Also the retired ones.")]
RETIRE_REFUSED: dict[int | str, dict[str, Any]] = {
    409: {**CONFLICT_RESPONSE[409], "description": "Something under it is still in service"}
}


@sites_router.get("", summary="Sites with their time zones and lines (created within since/until)")
def list_sites(
    session: SessionDep, settings: SettingsDep, _key: ReadKey, window: TimeRangeDep,
    include_retired: IncludeRetired = False, cursor: Cursor = None, limit: Limit = None,
) -> Page[SiteOut]:  # fmt: skip
    return hierarchy.list_sites(
        session, include_retired=include_retired, window=window, cursor=cursor, limit=limit,
        max_page=settings.api_max_page,
    )  # fmt: skip


@sites_router.post("", status_code=201, summary="Create a site (admin)", responses=CONFLICT_RESPONSE)
def create_site(session: SessionDep, _key: AdminKey, body: SiteIn) -> SiteOut:
    return hierarchy.create_site(session, body)


@sites_router.get("/{site}", summary="One site")
def get_site(session: SessionDep, _key: ReadKey, site: SiteRef) -> SiteOut:
    return hierarchy.get_site(session, site)


@sites_router.patch(
    "/{site}", summary="Set a site's time zone and MES code (admin)", responses=CONFLICT_RESPONSE
)
def change_site(session: SessionDep, _key: AdminKey, site: SiteRef, change: SiteChange) -> SiteOut:
    return hierarchy.change_site(session, site, change)


@sites_router.delete(
    "/{site}", summary="Retire a site whose lines are all retired (admin)", responses=RETIRE_REFUSED
)
def retire_site(session: SessionDep, _key: AdminKey, site: SiteRef) -> SiteOut:
    return hierarchy.retire_site(session, site)


@lines_router.get("", summary="Lines with how many machines each has in service (created within since/until)")
def list_lines(
    session: SessionDep, settings: SettingsDep, _key: ReadKey, window: TimeRangeDep,
    site: Annotated[AssetName | None, Query(description="Only this site's lines.")] = None,
    include_retired: IncludeRetired = False, cursor: Cursor = None, limit: Limit = None,
) -> Page[LineOut]:  # fmt: skip
    return hierarchy.list_lines(
        session, site=site, include_retired=include_retired, window=window, cursor=cursor, limit=limit,
        max_page=settings.api_max_page,
    )  # fmt: skip


@lines_router.post(
    "", status_code=201, summary="Create a line on a site (admin)", responses=CONFLICT_RESPONSE
)
def create_line(session: SessionDep, _key: AdminKey, body: LineIn) -> LineOut:
    return hierarchy.create_line(session, body)


@lines_router.get("/{line:path}", summary="One line")
def get_line(session: SessionDep, _key: ReadKey, line: LineRef) -> LineOut:
    return hierarchy.get_line(session, line)


@lines_router.patch("/{line:path}", summary="Set a line's MES code (admin)", responses=CONFLICT_RESPONSE)
def change_line(session: SessionDep, _key: AdminKey, line: LineRef, change: LineChange) -> LineOut:
    return hierarchy.change_line(session, line, change)


@lines_router.delete(
    "/{line:path}", summary="Retire a line whose machines are all retired (admin)", responses=RETIRE_REFUSED
)
def retire_line(session: SessionDep, _key: AdminKey, line: LineRef) -> LineOut:
    return hierarchy.retire_line(session, line)
