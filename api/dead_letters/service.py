"""Dead letters for the API: pages newest first, counts, and marking letters for replay.

The API never replays: it marks letters (`replay_requested_at`) and the ingestors replay them within
`ingest_replay_poll_s` (ingest/replay.py), with the ingest rules and settings in force there.
"""

from __future__ import annotations

import base64
from typing import Literal

from sqlalchemy.orm import Session

from api.dead_letters.schemas import DeadLetterOut, DeadLetterSummaryOut, ReplayIn, ReplayOut
from api.pagination import Page, TimeRange, decode_id_cursor, encode_cursor, page_size
from db.base import utcnow
from db.repositories import dead_letters as repo
from db.tables import DeadLetter


def _letter_out(letter: DeadLetter) -> DeadLetterOut:
    payload = bytes(letter.payload)
    encoding: Literal["utf-8", "base64"] = "utf-8"
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
    return DeadLetterOut(
        id=letter.id,
        received_at=letter.received_at,
        topic=letter.topic,
        reason=letter.reason,
        detail=letter.detail,
        payload=text,
        encoding=encoding,
        payload_bytes=len(payload),
        payload_truncated=letter.payload_truncated,
        replayable=not letter.payload_truncated and letter.replayed_at is None,
        replayed_at=letter.replayed_at,
        replay_requested_at=letter.replay_requested_at,
        replay_error=letter.replay_error,
    )


def list_dead_letters(
    session: Session,
    *,
    reason: str | None,
    replayed: bool | None,
    period: TimeRange,
    cursor: str | None,
    limit: int | None,
    max_page: int,
) -> Page[DeadLetterOut]:
    limit = page_size(limit, max_page, "dead letters")
    before_id = decode_id_cursor(cursor) if cursor is not None else None
    letters = repo.list_dead_letters(
        session,
        reason=reason,
        replayed=replayed,
        before_id=before_id,
        limit=limit + 1,
        newest_first=True,
        since=period.since,
        until=period.until,
    )
    page = letters[:limit]
    next_cursor = encode_cursor(page[-1].id) if len(letters) > limit else None
    return Page[DeadLetterOut](items=[_letter_out(letter) for letter in page], next_cursor=next_cursor)


def summary(session: Session) -> DeadLetterSummaryOut:
    counts = repo.counts(session)
    return DeadLetterSummaryOut(
        total=counts.total,
        replayed=counts.replayed,
        replay_requested=counts.replay_requested,
        by_reason=counts.by_reason,
        open_by_reason=counts.open_by_reason,
    )


def request_replay(session: Session, body: ReplayIn) -> ReplayOut:
    marked, selected = repo.request_replay(session, ids=body.ids, reason=body.reason, now=utcnow())
    skipped = selected - marked
    detail = f"{marked} dead letters marked; an ingestor replays them within seconds"
    if skipped:
        detail += f"; {skipped} skipped (already replayed, or truncated and so not replayable)"
    if body.ids is not None and selected < len(set(body.ids)):
        detail += f"; {len(set(body.ids)) - selected} of the ids name no dead letter"
    return ReplayOut(marked=marked, selected=selected, detail=detail)
