"""Queries on dead letters: messages ingest refused, kept with their reason for inspection and replay.

A replay is asked for by setting `replay_requested_at` (the API does); ingest claims letters with
`FOR UPDATE SKIP LOCKED`, so several ingestors (or the CLI) never replay the same letter twice at once,
then sets `replayed_at` when the message is stored, or `replay_error` when it is refused again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, func, insert, select, true, update
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


@dataclass(frozen=True, slots=True)
class DeadLetterCounts:
    total: int
    replayed: int
    replay_requested: int
    by_reason: dict[str, int]  # every letter
    open_by_reason: dict[str, int]  # letters not replayed yet


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


def _replayed_is(replayed: bool | None) -> ColumnElement[bool]:
    if replayed is None:
        return true()
    return DeadLetter.replayed_at.is_not(None) if replayed else DeadLetter.replayed_at.is_(None)


def list_dead_letters(
    session: Session,
    *,
    reason: str | None = None,
    after_id: int = 0,
    before_id: int | None = None,
    limit: int = 100,
    replayed: bool | None = None,
    newest_first: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[DeadLetter]:
    """Dead letters with after_id < id < before_id, oldest first unless `newest_first` (keyset pages
    by id); `replayed` True or False keeps only the replayed or the not yet replayed ones."""
    query = select(DeadLetter).where(DeadLetter.id > after_id, _replayed_is(replayed)).limit(limit)
    if before_id is not None:
        query = query.where(DeadLetter.id < before_id)
    if reason is not None:
        query = query.where(DeadLetter.reason == reason)
    if since is not None:
        query = query.where(DeadLetter.received_at >= since)
    if until is not None:
        query = query.where(DeadLetter.received_at < until)
    query = query.order_by(DeadLetter.id.desc() if newest_first else DeadLetter.id)
    return session.scalars(query).all()


def count_by_reason(session: Session, *, replayed: bool | None = None) -> dict[str, int]:
    query = select(DeadLetter.reason, func.count()).where(_replayed_is(replayed)).group_by(DeadLetter.reason)
    return {reason: int(count) for reason, count in session.execute(query)}


def counts(session: Session) -> DeadLetterCounts:
    by_reason = count_by_reason(session)
    open_by_reason = count_by_reason(session, replayed=False)
    requested = session.scalar(
        select(func.count()).where(
            DeadLetter.replay_requested_at.is_not(None), DeadLetter.replayed_at.is_(None)
        )
    )
    total = sum(by_reason.values())
    return DeadLetterCounts(
        total=total,
        replayed=total - sum(open_by_reason.values()),
        replay_requested=int(requested or 0),
        by_reason=by_reason,
        open_by_reason=open_by_reason,
    )


def _selection(ids: Collection[int] | None, reason: str | None) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    if ids is not None:
        clauses.append(DeadLetter.id.in_(sorted(set(ids))))
    if reason is not None:
        clauses.append(DeadLetter.reason == reason)
    return and_(true(), *clauses)


def request_replay(
    session: Session, *, ids: Collection[int] | None = None, reason: str | None = None, now: datetime
) -> tuple[int, int]:
    """Mark the selected letters for replay by ingest; returns (marked, selected). Letters already
    replayed or with a truncated payload are selected but not marked."""
    selected = _selection(ids, reason)
    matched = int(session.scalar(select(func.count()).where(selected)) or 0)
    marked = session.scalars(
        update(DeadLetter)
        .where(selected, DeadLetter.replayed_at.is_(None), DeadLetter.payload_truncated.is_(False))
        .values(replay_requested_at=now)
        .returning(DeadLetter.id),
        execution_options={"synchronize_session": False},
    ).all()
    return len(marked), matched


def claim_for_replay(
    session: Session,
    *,
    ids: Collection[int] | None = None,
    reason: str | None = None,
    requested_only: bool = False,
    after_id: int = 0,
    limit: int = 500,
) -> Sequence[DeadLetter]:
    """Lock up to `limit` selected letters not yet replayed (oldest first, id > after_id), skipping
    those another transaction holds; they stay locked until the caller's transaction ends."""
    query = (
        select(DeadLetter)
        .where(DeadLetter.id > after_id, DeadLetter.replayed_at.is_(None), _selection(ids, reason))
        .order_by(DeadLetter.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if requested_only:
        query = query.where(DeadLetter.replay_requested_at.is_not(None))
    return session.scalars(query).all()


def finish_replay(session: Session, outcomes: dict[int, str | None], now: datetime) -> None:
    """Record replays: letter id → None (stored: replayed_at = now) or why it was refused again
    (replay_error). Either way the replay request is done."""
    stored = [letter_id for letter_id, error in outcomes.items() if error is None]
    if stored:
        session.execute(
            update(DeadLetter)
            .where(DeadLetter.id.in_(stored))
            .values(replayed_at=now, replay_requested_at=None, replay_error=None)
        )
    failed = [
        {"id": letter_id, "replay_error": _text(error), "replay_requested_at": None}
        for letter_id, error in outcomes.items()
        if error is not None
    ]
    if failed:
        session.execute(update(DeadLetter), failed)  # bulk UPDATE by primary key


def _text(value: str) -> str:
    return value.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL


def received_by_reason_and_topic(
    session: Session, since: datetime, until: datetime
) -> list[tuple[str, str, int]]:
    """(reason, topic, count) of the dead letters received in [since, until), most frequent first."""
    query = (
        select(DeadLetter.reason, DeadLetter.topic, func.count())
        .where(DeadLetter.received_at >= since, DeadLetter.received_at < until)
        .group_by(DeadLetter.reason, DeadLetter.topic)
        .order_by(func.count().desc(), DeadLetter.reason, DeadLetter.topic)
    )
    return [(reason, topic, int(count)) for reason, topic, count in session.execute(query)]


def oldest_open(session: Session) -> datetime | None:
    """When the oldest dead letter not yet replayed was received."""
    return session.scalar(select(func.min(DeadLetter.received_at)).where(_replayed_is(False)))
