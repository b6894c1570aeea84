"""Rules for sites and lines: list them page by page, read, create, change (time zone, MES code) and
retire. A site is named by its name or MES code, a line by its path (site/line) or MES code; a name
or path always wins over a code, and a code may not be another site's name. Retiring keeps everything's
history and is refused (409, naming what is left) while anything under it is still in service; nothing
can be added under a retired site or line (the rows are locked, so a retirement and an addition at
the same moment cannot both succeed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from api.assets.schemas import LineChange, LineIn, LineOut, SiteChange, SiteIn, SiteOut
from api.errors import conflict, not_found
from api.pagination import Page, TimeRange, decode_id_cursor, encode_cursor, page_size
from db.base import utcnow
from db.tables import Line, Machine, Site

Lock = Literal["update", "share"] | None
Asset = TypeVar("Asset", Site, Line)


def _locked(query: Select[Any], lock: Lock) -> Select[Any]:
    return query if lock is None else query.with_for_update(read=lock == "share")


def _code_free(
    session: Session, table: type[Site] | type[Line], code: str | None, own_id: int | None
) -> None:
    """409 when another site (or line) already has this MES code, or a site is named so."""
    if code is None:
        return
    kind = "site" if table is Site else "line"
    holder = session.scalar(select(table.id).where(table.external_code == code))
    if holder is None and table is Site:
        holder = session.scalar(select(Site.id).where(Site.name == code))
    if holder is not None and holder != own_id:
        raise conflict(f"external code {code!r} already names another {kind}")


def _open(retired: bool, what: str) -> None:
    if retired:
        raise conflict(f"{what} is retired: nothing can be added to it")


def find_site(session: Session, ref: str, lock: Lock = None) -> Site:
    site = session.scalar(_locked(select(Site).where(Site.name == ref), lock)) or session.scalar(
        _locked(select(Site).where(Site.external_code == ref), lock)
    )
    if site is None:
        raise not_found(f"no site {ref!r}; name it by name or MES code")
    return site


def _site_outs(session: Session, sites: Sequence[Site]) -> list[SiteOut]:
    lines: dict[int, list[str]] = defaultdict(list)
    query = select(Line.site_id, Line.name).where(
        Line.site_id.in_([s.id for s in sites]), Line.retired_at.is_(None)
    )
    for site_id, name in session.execute(query.order_by(Line.name)):
        lines[site_id].append(name)
    return [
        SiteOut(
            name=site.name,
            timezone=site.timezone,
            external_code=site.external_code,
            lines=lines[site.id],
            retired_at=site.retired_at,
        )
        for site in sites
    ]


def _page(
    session: Session, query: Select[Any], table: type[Asset], *, include_retired: bool,
    window: TimeRange, cursor: str | None, size: int,
) -> tuple[list[Asset], str | None]:  # fmt: skip
    """A page of sites or lines in the order they were created, created within `window`; retired
    ones on request; and the cursor of the next page."""
    query = query.where(table.id > decode_id_cursor(cursor)).order_by(table.id).limit(size + 1)
    if not include_retired:
        query = query.where(table.retired_at.is_(None))
    if window.since is not None:
        query = query.where(table.created_at >= window.since)
    if window.until is not None:
        query = query.where(table.created_at < window.until)
    found = list(session.scalars(query).unique().all())
    page = found[:size]
    return page, encode_cursor(page[-1].id) if len(found) > size else None


def list_sites(
    session: Session, *, include_retired: bool, window: TimeRange, cursor: str | None, limit: int | None,
    max_page: int,
) -> Page[SiteOut]:  # fmt: skip
    page, next_cursor = _page(
        session, select(Site), Site, include_retired=include_retired, window=window, cursor=cursor,
        size=page_size(limit, max_page, "sites"),
    )  # fmt: skip
    return Page(items=_site_outs(session, page), next_cursor=next_cursor)


def get_site(session: Session, ref: str) -> SiteOut:
    return _site_outs(session, [find_site(session, ref)])[0]


def create_site(session: Session, body: SiteIn) -> SiteOut:
    if session.scalar(select(Site.id).where(Site.name == body.name)) is not None:
        raise conflict(f"site {body.name!r} exists; change it with PATCH /api/v1/sites/{body.name}")
    if session.scalar(select(Site.id).where(Site.external_code == body.name)) is not None:
        raise conflict(f"{body.name!r} is another site's MES code; choose another name")
    _code_free(session, Site, body.external_code, None)
    site = Site(name=body.name, timezone=body.timezone, external_code=body.external_code)
    session.add(site)
    session.flush()
    return _site_outs(session, [site])[0]


def change_site(session: Session, ref: str, change: SiteChange) -> SiteOut:
    site = find_site(session, ref, lock="update")
    fields = change.model_fields_set
    if "external_code" in fields:
        _code_free(session, Site, change.external_code, site.id)
    for name in fields:
        setattr(site, name, getattr(change, name))
    session.flush()
    return _site_outs(session, [site])[0]


def retire_site(session: Session, ref: str) -> SiteOut:
    site = find_site(session, ref, lock="update")
    (out,) = _site_outs(session, [site])
    if out.lines:
        shown = ", ".join(out.lines)
        raise conflict(f"site {site.name!r} still has lines in service ({shown}): retire them first")
    if site.retired_at is None:
        site.retired_at = utcnow()
        session.flush()
    return _site_outs(session, [site])[0]


def find_line(session: Session, ref: str, lock: Lock = None) -> Line:
    site_name, _, line_name = ref.strip("/").partition("/")
    by_path = select(Line).join(Line.site).where(Site.name == site_name, Line.name == line_name)
    line = session.scalar(_locked(by_path, lock)) or session.scalar(
        _locked(select(Line).where(Line.external_code == ref), lock)
    )
    if line is None:
        raise not_found(f"no line {ref!r}; name it by path (site/line) or MES code")
    return line


def _line_outs(session: Session, lines: Sequence[Line]) -> list[LineOut]:
    in_service = (
        select(Machine.line_id, func.count(Machine.id))
        .where(Machine.line_id.in_([line.id for line in lines]), Machine.retired_at.is_(None))
        .group_by(Machine.line_id)
    )
    counts: dict[int, int] = {line_id: count for line_id, count in session.execute(in_service)}
    return [
        LineOut(
            site=line.site.name,
            name=line.name,
            path=f"{line.site.name}/{line.name}",
            external_code=line.external_code,
            machines=counts.get(line.id, 0),
            retired_at=line.retired_at,
        )
        for line in lines
    ]


def list_lines(
    session: Session, *, site: str | None, include_retired: bool, window: TimeRange, cursor: str | None,
    limit: int | None, max_page: int,
) -> Page[LineOut]:  # fmt: skip
    """Lines in the order they were created (of one site when given)."""
    query = select(Line).options(joinedload(Line.site))
    if site is not None:
        query = query.where(Line.site_id == find_site(session, site).id)
    page, next_cursor = _page(
        session, query, Line, include_retired=include_retired, window=window, cursor=cursor,
        size=page_size(limit, max_page, "lines"),
    )  # fmt: skip
    return Page(items=_line_outs(session, page), next_cursor=next_cursor)


def get_line(session: Session, ref: str) -> LineOut:
    return _line_outs(session, [find_line(session, ref)])[0]


def create_line(session: Session, body: LineIn) -> LineOut:
    site = find_site(session, body.site, lock="share")  # a retirement of the site waits, or this does
    _open(site.retired_at is not None, f"site {site.name!r}")
    if session.scalar(select(Line.id).where(Line.site_id == site.id, Line.name == body.name)) is not None:
        path = f"{site.name}/{body.name}"
        raise conflict(f"line {path} exists; change it with PATCH /api/v1/lines/{path}")
    _code_free(session, Line, body.external_code, None)
    line = Line(site_id=site.id, name=body.name, external_code=body.external_code)
    session.add(line)
    session.flush()
    return _line_outs(session, [line])[0]


def change_line(session: Session, ref: str, change: LineChange) -> LineOut:
    line = find_line(session, ref, lock="update")
    if "external_code" in change.model_fields_set:
        _code_free(session, Line, change.external_code, line.id)
        line.external_code = change.external_code
        session.flush()
    return _line_outs(session, [line])[0]


def retire_line(session: Session, ref: str) -> LineOut:
    line = find_line(session, ref, lock="update")
    machines = session.scalars(
        select(Machine.path)
        .where(Machine.line_id == line.id, Machine.retired_at.is_(None))
        .order_by(Machine.path)
    ).all()
    if machines:
        shown = ", ".join(machines[:5]) + (f" and {len(machines) - 5} more" if len(machines) > 5 else "")
        path = f"{line.site.name}/{line.name}"
        raise conflict(f"line {path} still has machines in service ({shown}): retire them first")
    if line.retired_at is None:
        line.retired_at = utcnow()
        session.flush()
    return _line_outs(session, [line])[0]


def check_open_for_machines(session: Session, site: str, line: str) -> None:
    """409 when a machine would be registered under a retired site or line; holds both rows (when they
    exist) until the transaction ends, so that neither is retired meanwhile."""
    site_row = session.scalar(_locked(select(Site).where(Site.name == site), "share"))
    if site_row is None:
        return  # both are created with the machine
    _open(site_row.retired_at is not None, f"site {site!r}")
    query = select(Line).where(Line.site_id == site_row.id, Line.name == line)
    line_row = session.scalar(_locked(query, "share"))
    _open(line_row is not None and line_row.retired_at is not None, f"line {site}/{line}")
