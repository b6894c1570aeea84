"""Replay dead letters after a fix: re-parse each kept payload with the current parser and settings.

A letter whose message is now accepted (say, its machine was allowed, or the hourly registration cap
has room again) is written through the same idempotent writer and gets `replayed_at`; one refused
again keeps its row, with `replay_error` saying why (a replay never adds a second dead letter); a
letter whose payload was truncated cannot be replayed. A message's time of receipt stays its
original one, so `ts_in_future` and `ts_too_old` judge it as they did when it arrived.

The CLI replays directly (`replay_dead_letters`); the API only marks letters (`replay_requested_at`)
and every ingestor's poller (`start_replay_poller`) replays the marked ones. Letters are claimed with
SKIP LOCKED, so concurrent replays never handle one letter twice.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import dead_letters as repo
from db.tables import DeadLetter
from ingest import metrics
from ingest.errors import is_database_error, is_transient
from ingest.messages import parse_telemetry
from ingest.policy import IngestPolicy
from ingest.sequence import SeqCount, count_in_metrics
from ingest.writer import ACCEPTED, DUPLICATE, Incoming, write_batch
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

CHUNK = 500  # letters per transaction
NOT_REPLAYABLE = "not_replayable"


@dataclass
class ReplaySummary:
    selected: int = 0  # letters looked at
    stored: int = 0  # written as new readings
    duplicates: int = 0  # their reading was stored already (a replay twice, or a redelivery)
    not_replayable: int = 0  # truncated payloads
    failed: Counter[str] = field(default_factory=Counter)  # refused again, by reason
    seq: SeqCount = field(default_factory=SeqCount)

    @property
    def replayed(self) -> int:
        return self.stored + self.duplicates

    def add(self, other: ReplaySummary) -> None:
        self.selected += other.selected
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.not_replayable += other.not_replayable
        self.failed.update(other.failed)
        self.seq += other.seq

    def __str__(self) -> str:
        if not self.selected:
            return "no dead letters to replay"
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.failed.most_common())
        return (
            f"{self.selected} dead letters: {self.replayed} replayed ({self.stored} stored, "
            f"{self.duplicates} already stored), {self.failed.total()} refused again"
            f"{f' ({reasons})' if reasons else ''}, {self.not_replayable} not replayable (truncated)"
        )


def replay_dead_letters(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    ids: Collection[int] | None = None,
    reason: str | None = None,
    limit: int | None = None,
) -> ReplaySummary:
    """Replay the letters not replayed yet with these ids and/or this reason (neither: all of them),
    oldest first, at most `limit`. Transient database errors propagate."""
    return _replay(factory, settings, ids=ids, reason=reason, requested_only=False, limit=limit)


def replay_requested(factory: sessionmaker[Session], settings: Settings) -> ReplaySummary:
    """Replay the letters whose replay was requested (through the API)."""
    return _replay(factory, settings, ids=None, reason=None, requested_only=True, limit=None)


def start_replay_poller(
    factory: sessionmaker[Session], settings: Settings, stop: threading.Event
) -> threading.Thread:
    """A daemon thread running `replay_requested` every `ingest_replay_poll_s` until `stop` is set."""

    def poll() -> None:
        while not stop.wait(settings.ingest_replay_poll_s):
            try:
                summary = replay_requested(factory, settings)
            except Exception as error:
                if is_transient(error):
                    log.warning("could not replay requested dead letters (database unavailable): %s", error)
                else:
                    log.exception("replaying requested dead letters failed")
                continue
            if summary.selected:
                log.info("replayed requested %s", summary)

    thread = threading.Thread(target=poll, name="dead-letter-replay", daemon=True)
    thread.start()
    return thread


def _replay(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    ids: Collection[int] | None,
    reason: str | None,
    requested_only: bool,
    limit: int | None,
) -> ReplaySummary:
    policy = IngestPolicy.from_settings(settings)
    total = ReplaySummary()
    after_id = 0
    while limit is None or total.selected < limit:
        size = CHUNK if limit is None else min(CHUNK, limit - total.selected)
        claimed: list[int] = []
        try:
            with transaction(factory) as session:
                letters = repo.claim_for_replay(
                    session,
                    ids=ids,
                    reason=reason,
                    requested_only=requested_only,
                    after_id=after_id,
                    limit=size,
                )
                claimed = [letter.id for letter in letters]
                part = _replay_claimed(session, settings, policy, letters)
        except Exception as error:
            if not claimed or is_transient(error) or not is_database_error(error):
                raise
            log.error("the database refused a replay of %d letters (%s); one by one", len(claimed), error)
            part = _one_by_one(factory, settings, policy, claimed, requested_only)
        if not claimed:
            break
        after_id = claimed[-1]
        total.add(part)
        _count(part)
    return total


def _one_by_one(
    factory: sessionmaker[Session],
    settings: Settings,
    policy: IngestPolicy,
    letter_ids: list[int],
    requested_only: bool,
) -> ReplaySummary:
    total = ReplaySummary()
    for letter_id in letter_ids:
        try:
            with transaction(factory) as session:
                letters = repo.claim_for_replay(session, ids=[letter_id], requested_only=requested_only)
                total.add(_replay_claimed(session, settings, policy, letters))
        except Exception as error:
            if is_transient(error) or not is_database_error(error):
                raise
            with transaction(factory) as session:
                repo.finish_replay(session, {letter_id: f"db_error: {str(error)[:2000]}"}, datetime.now(UTC))
            total.add(ReplaySummary(selected=1, failed=Counter(db_error=1)))
    return total


def _replay_claimed(
    session: Session, settings: Settings, policy: IngestPolicy, letters: Sequence[DeadLetter]
) -> ReplaySummary:
    """Parse and write the claimed letters in the session's transaction, and record the outcomes."""
    summary = ReplaySummary(selected=len(letters))
    if not letters:
        return summary
    errors: dict[int, str | None] = {}
    owners: list[int] = []
    items: list[Incoming] = []
    for letter in letters:
        if letter.payload_truncated:
            summary.not_replayable += 1
            errors[letter.id] = (
                f"payload_truncated: only the first {len(letter.payload)} bytes of the message were kept "
                "(it was over the size limit), so it cannot be replayed"
            )
            continue
        payload = bytes(letter.payload)
        parsed = parse_telemetry(
            letter.topic,
            payload,
            topic_root=settings.mqtt_topic_root,
            received_at=letter.received_at,
            max_payload_bytes=settings.ingest_max_payload_bytes,
            max_future_s=settings.ingest_max_future_s,
        )
        owners.append(letter.id)
        items.append(Incoming(letter.topic, payload, parsed, letter.received_at))
    result = write_batch(session, items, policy=policy, keep_dead_letters=False)
    for letter_id, outcome, detail in zip(owners, result.outcomes, result.details, strict=True):
        if outcome == ACCEPTED:
            summary.stored += 1
        elif outcome == DUPLICATE:
            summary.duplicates += 1
        else:
            summary.failed[outcome] += 1
        errors[letter_id] = None if outcome in (ACCEPTED, DUPLICATE) else f"{outcome}: {detail}"
    summary.seq = result.seq
    repo.finish_replay(session, errors, datetime.now(UTC))
    return summary


def _count(summary: ReplaySummary) -> None:
    """Prometheus counters, once the replay has committed."""
    for outcome, count in (
        ("stored", summary.stored),
        ("duplicate", summary.duplicates),
        (NOT_REPLAYABLE, summary.not_replayable),
        *summary.failed.items(),
    ):
        if count:
            metrics.REPLAYED.labels(outcome).inc(count)
    count_in_metrics(summary.seq)
