"""Queries on dead letters: messages ingest refused, kept with their reason for inspection and replay."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from db.tables import DeadLetter

# Payloads are kept up to this size; longer ones (those refused as too large) are cut, and flagged.
PAYLOAD_LIMIT = 65536


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    topic: str
    payload: bytes
    reason: str
    detail: str
    received_at: datetime | None = None


def add_dead_letters(
    session: Session, letters: Iterable[NewDeadLetter], *, payload_limit: int = PAYLOAD_LIMIT
) -> int:
    """Insert dead letters (one statement); returns how many."""
    now = datetime.now(UTC)
    rows = [
        {
            "received_at": letter.received_at or now,
            "topic": _text(letter.topic),
            "payload": letter.payload[:payload_limit],
            "payload_truncated": len(letter.payload) > payload_limit,
            "reason": letter.reason[:32],
            "detail": _text(letter.detail),
        }
        for letter in letters
    ]
    if rows:
        session.execute(insert(DeadLetter), rows)
    return len(rows)


def list_dead_letters(
    session: Session,
    *,
    reason: str | None = None,
    after_id: int = 0,
    limit: int = 100,
    include_replayed: bool = True,
) -> Sequence[DeadLetter]:
    """Dead letters with id > `after_id`, oldest first (cursor pagination by id)."""
    query = select(DeadLetter).where(DeadLetter.id > after_id).order_by(DeadLetter.id).limit(limit)
    if reason is not None:
        query = query.where(DeadLetter.reason == reason)
    if not include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return session.scalars(query).all()


def count_by_reason(session: Session, *, include_replayed: bool = True) -> dict[str, int]:
    query = select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)
    if not include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return {reason: int(count) for reason, count in session.execute(query)}


def _text(value: str) -> str:
    return value.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
