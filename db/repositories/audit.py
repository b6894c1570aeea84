"""The audit log: entries of writes made from the command line, and reading the log (the API writes
its entries in the transaction of each write: api/deps.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.tables import AuditEntry


def list_entries(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None,
    key_name: str | None,
    before_id: int | None,
    limit: int,
) -> Sequence[AuditEntry]:
    """Newest first; `before_id` continues a previous page."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if key_name is not None:
        query = query.where(AuditEntry.key_name == key_name)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return session.scalars(query).all()


def record_command(session: Session, *, who: str, command: str) -> None:
    """An entry for a write made with the CLI, in the transaction that commits it: no key (the CLI
    reaches the database directly), `cli:<who>` as the name, role and method `cli`/`CLI`, the command
    as the path."""
    session.add(AuditEntry(key_id=None, key_name=f"cli:{who}"[:128], role="cli", method="CLI", path=command))
