"""Nightly training in each site's time zone: which model scopes are at their training hour now.

The `train_rul` and `train_qc` schedules fire every hour; each firing trains the scopes whose site is
at the configured local hour (`rul_train_hour`, `qc_train_hour`), so every site trains at night by its
own clock. A QC scope is a line (`site/line`): its site's zone. An RUL scope is a machine type: the
zone of the site with most of the type's active machines (ties: the first site by name). A site's
zone is `sites.timezone` (default UTC); one that is not a known IANA zone counts as UTC, with a warning.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.tables import Line, Machine, Site
from jobs.training_data import scope_column

log = logging.getLogger(__name__)


def rul_scope_zones(session: Session) -> dict[str, str]:
    """Machine type (scope) → the time zone of the site with most of its active machines."""
    rows = session.execute(
        select(scope_column(), Site.name, Site.timezone)
        .join(Line, Line.id == Machine.line_id)
        .join(Site, Site.id == Line.site_id)
        .where(Machine.retired_at.is_(None))
    ).all()
    counts: dict[str, Counter[tuple[str, str]]] = {}
    for scope, site, zone in rows:
        counts.setdefault(str(scope), Counter())[(site, zone)] += 1
    return {
        scope: min(sites.items(), key=lambda item: (-item[1], item[0][0]))[0][1]
        for scope, sites in counts.items()
    }


def qc_scope_zones(session: Session) -> dict[str, str]:
    """Line (`site/line`) → its site's time zone."""
    rows = session.execute(select(Site.name, Line.name, Site.timezone).join(Line.site)).all()
    return {f"{site}/{line}": zone for site, line, zone in rows}


def local_hour(now: datetime, zone: str) -> int:
    try:
        return now.astimezone(ZoneInfo(zone)).hour
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: using UTC", zone)
        return now.astimezone(ZoneInfo("UTC")).hour


def due_scopes(scopes: list[str], zones: dict[str, str], now: datetime, hour: int) -> list[str]:
    """The scopes whose zone (UTC when unknown) is at `hour` at `now`."""
    return [scope for scope in scopes if local_hour(now, zones.get(scope, "UTC")) == hour]
