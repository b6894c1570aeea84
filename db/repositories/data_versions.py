"""The data versions kept by the database's triggers (see migration 0008 and db.tables.DataVersion)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_FLEET = text("SELECT version FROM data_versions WHERE name = 'fleet'")


def fleet_version(session: Session) -> int | None:
    """The version of the fleet's tables as committed now; None before their first counted write."""
    version: int | None = session.scalar(_FLEET)
    return version
