"""Rules for sites and lines: list them page by page, read, create, change (time zone, MES code) and
retire. A site is named by its name or MES code, a line by its path (site/line) or MES code. Retiring
keeps everything's history and is refused (409, naming what is left) while anything under it is still
in service; nothing can be added under a retired site or line."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.assets.schemas import LineChange, LineIn, LineOut, SiteChange, SiteIn, SiteOut
from api.errors import conflict, not_found
from api.pagination import Page, TimeRange, decode_id_cursor, encode_cursor, page_size
from db.base import utcnow
from db.tables import Line, Machine, Site


def _code_free(
    session: Session, table: type[Site] | type[Line], code: str | None, own_id: int | None
) -> None:
    """409 when another site (or line) already has this MES code."""
    if code is None:
        return
    holder = session.scalar(select(table.id).where(table.external_code == code))
    if holder is not None and holder != own_id:
        kind = "site" if table is Site else "line"
        raise conflict(f"external code {code!r} already names another {kind}")


def _in_service(site_or_line: Site | Line, what: str) -> None:
    if site_or_line.retired_at is not None:
        raise conflict(f"{what} is retired: nothing can be added to it")


def find_site(session: Session, ref: str) -> Site:
    site = session.scalar(select(Site).where((Site.name == ref) | (Site.external_code == ref)))
    if site is None:
        raise not_found(f"no site {ref!r}; name it by name or MES code")
    return site


def _site_out(session: Session, site: Site) -> SiteOut:
    lines = session.scalars(
        select(Line.name).where(Line.site_id == site.id, Line.retired_at.is_(None)).order_by(Line.name)
    ).all()
    return SiteOut(
        name=site.name, timezone=site.timezone, external_code=site.external_code, lines=list(lines),
        retired_at=site.retired_at,
    )  # fmt: skip


def list_sites(
    session: Session, *, include_retired: bool, window: TimeRange, cursor: str | None, limit: int | None,
    max_page: int,
) -> Page[SiteOut]:  # fmt: skip
    """Sites in the order they were created, created within `window`; retired ones on request."""
    size = page_size(limit, max_page, "sites")
    query = select(Site).where(Site.id > decode_id_cursor(cursor)).order_by(Site.id).limit(size + 1)
    if not include_retired:
        query = query.where(Site.retired_at.is_(None))
    if window.since is not None:
        query = query.where(Site.created_at >= window.since)
    if window.until is not None:
        query = query.where(Site.created_at < window.until)
    sites = session.scalars(query).all()
    page = sites[:size]
    return Page(
        items=[_site_out(session, site) for site in page],
        next_cursor=encode_cursor(page[-1].id) if len(sites) > size else None,
    )


def get_site(session: Session, ref: str) -> SiteOut:
    return _site_out(session, find_site(session, ref))


def create_site(session: Session, body: SiteIn) -> SiteOut:
    if session.scalar(select(Site.id).where(Site.name == body.name)) is not None:
        raise conflict(f"site {body.name!r} exists; change it with PATCH /api/v1/sites/{body.name}")
    _code_free(session, Site, body.external_code, None)
    site = Site(name=body.name, timezone=body.timezone, external_code=body.external_code)
    session.add(site)
    session.flush()
    return _site_out(session, site)


def change_site(session: Session, ref: str, change: SiteChange) -> SiteOut:
    site = find_site(session, ref)
    fields = change.model_fields_set
    if "external_code" in fields:
        _code_free(session, Site, change.external_code, site.id)
    for name in fields:
        setattr(site, name, getattr(change, name))
    session.flush()
    return _site_out(session, site)


def retire_site(session: Session, ref: str) -> SiteOut:
    site = find_site(session, ref)
    lines = session.scalars(
        select(Line.name).where(Line.site_id == site.id, Line.retired_at.is_(None)).order_by(Line.name)
    ).all()
    if lines:
        raise conflict(
            f"site {site.name!r} still has lines in service ({', '.join(lines)}): retire them first"
        )
    if site.retired_at is None:
        site.retired_at = utcnow()
        session.flush()
    return _site_out(session, site)


def find_line(session: Session, ref: str) -> Line:
    site_name, _, line_name = ref.strip("/").partition("/")
    by_path = (Site.name == site_name) & (Line.name == line_name)
    line = session.scalar(select(Line).join(Line.site).where(by_path | (Line.external_code == ref)))
    if line is None:
        raise not_found(f"no line {ref!r}; name it by path (site/line) or MES code")
    return line


def _line_outs(session: Session, lines: list[Line]) -> list[LineOut]:
    counts = dict(
        session.execute(
            select(Machine.line_id, func.count(Machine.id))
            .where(Machine.line_id.in_([line.id for line in lines]), Machine.retired_at.is_(None))
            .group_by(Machine.line_id)
        ).all()
    )
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
    """Lines in the order they were created (of one site when given), created within `window`."""
    size = page_size(limit, max_page, "lines")
    query = select(Line).where(Line.id > decode_id_cursor(cursor)).order_by(Line.id).limit(size + 1)
    if site is not None:
        query = query.where(Line.site_id == find_site(session, site).id)
    if not include_retired:
        query = query.where(Line.retired_at.is_(None))
    if window.since is not None:
        query = query.where(Line.created_at >= window.since)
    if window.until is not None:
        query = query.where(Line.created_at < window.until)
    lines = list(session.scalars(query).all())
    page = lines[:size]
    return Page(
        items=_line_outs(session, page), next_cursor=encode_cursor(page[-1].id) if len(lines) > size else None
    )


def get_line(session: Session, ref: str) -> LineOut:
    (out,) = _line_outs(session, [find_line(session, ref)])
    return out


def create_line(session: Session, body: LineIn) -> LineOut:
    site = find_site(session, body.site)
    _in_service(site, f"site {site.name!r}")
    if session.scalar(select(Line.id).where(Line.site_id == site.id, Line.name == body.name)) is not None:
        raise conflict(
            f"line {site.name}/{body.name} exists; change it with PATCH /api/v1/lines/{site.name}/{body.name}"
        )
    _code_free(session, Line, body.external_code, None)
    line = Line(site_id=site.id, name=body.name, external_code=body.external_code)
    session.add(line)
    session.flush()
    return get_line(session, f"{site.name}/{body.name}")


def change_line(session: Session, ref: str, change: LineChange) -> LineOut:
    line = find_line(session, ref)
    if "external_code" in change.model_fields_set:
        _code_free(session, Line, change.external_code, line.id)
        line.external_code = change.external_code
        session.flush()
    (out,) = _line_outs(session, [line])
    return out


def retire_line(session: Session, ref: str) -> LineOut:
    line = find_line(session, ref)
    machines = session.scalars(
        select(Machine.path)
        .where(Machine.line_id == line.id, Machine.retired_at.is_(None))
        .order_by(Machine.path)
    ).all()
    if machines:
        shown = ", ".join(machines[:5]) + (f" and {len(machines) - 5} more" if len(machines) > 5 else "")
        raise conflict(
            f"line {line.site.name}/{line.name} still has machines in service ({shown}): retire them first"
        )
    if line.retired_at is None:
        line.retired_at = utcnow()
        session.flush()
    (out,) = _line_outs(session, [line])
    return out


def check_open_for_machines(session: Session, site: str, line: str) -> None:
    """409 when a machine would be registered under a retired site or line."""
    of_line = (Line.site_id == Site.id) & (Line.name == line)
    found = session.execute(
        select(Site.retired_at, Line.retired_at).outerjoin(Line, of_line).where(Site.name == site)
    ).first()
    if found is not None and found[0] is not None:
        raise conflict(f"site {site!r} is retired: nothing can be added to it")
    if found is not None and found[1] is not None:
        raise conflict(f"line {site}/{line} is retired: nothing can be added to it")
