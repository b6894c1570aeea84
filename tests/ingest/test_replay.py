"""Dead-letter replay on a real PostgreSQL (and, end to end, a real broker and ingestor)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from db.engine import transaction
from db.repositories import dead_letters
from db.repositories.assets import register_machine
from db.tables import DeadLetter, Reading
from ingest.messages import parse_telemetry
from ingest.policy import IngestPolicy
from ingest.replay import replay_dead_letters, replay_requested, start_replay_poller
from ingest.writer import Incoming, write_batch
from plantwatch.settings import Settings
from services.api_keys import create_key
from tests.ingest.helpers import Start, publish, wait_for

ROOT = "plantwatch/v1"
NOW = datetime.now(UTC).replace(microsecond=0)


def message(path: str, seconds: int = 0, value: float = 1.0, seq: int | None = None) -> tuple[str, bytes]:
    ts = (NOW + timedelta(seconds=seconds)).isoformat()
    seq_part = f', "seq": {seq}' if seq is not None else ""
    return f"{ROOT}/{path}/telemetry", f'{{"ts": "{ts}", "values": {{"a": {value}}}{seq_part}}}'.encode()


def ingest(
    factory: sessionmaker[Session], settings: Settings, *messages: tuple[str, bytes], limit: int = 65536
) -> list[str]:
    """What the ingestor does with these messages under these settings."""
    items = [
        Incoming(
            topic,
            payload,
            parse_telemetry(
                topic,
                payload,
                topic_root=ROOT,
                received_at=NOW,
                max_payload_bytes=settings.ingest_max_payload_bytes,
                max_future_s=settings.ingest_max_future_s,
            ),
            NOW,
        )
        for topic, payload in messages
    ]
    policy = IngestPolicy.from_settings(settings)
    with transaction(factory) as session:
        return write_batch(session, items, policy=policy).outcomes


def letters(factory: sessionmaker[Session]) -> list[DeadLetter]:
    with factory() as session:
        return list(dead_letters.list_dead_letters(session))


def readings(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Reading)) or 0)


def test_replay_after_a_fix_stores_what_is_now_accepted(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    strict = settings.model_copy(
        update={"ingest_allowed_machines": ["site-1/*"], "ingest_max_payload_bytes": 300}
    )
    outcomes = ingest(
        session_factory,
        strict,
        message("site-1/l/m", 0, seq=1),
        message("site-2/l/m", 1, seq=1),  # not allowed
        message("site-2/l/m", 1, seq=1),  # its redelivery
        message("site-2/l/m", 3, seq=3),
        message("site-1/l/m", 0, value=2.0),  # a conflict
        (f"{ROOT}/site-1/l/m/telemetry", b"{not json"),
        (f"{ROOT}/site-2/l/big/telemetry", b" " * 400),  # too large: truncated, not replayable
    )
    assert outcomes == ["accepted", *["not_allowed"] * 3, "conflict", "not_json", "too_large"]
    assert readings(session_factory) == 1

    # Replayed under the same rules: refused again, recorded on the letters, no new letter.
    again = replay_dead_letters(session_factory, strict)
    assert (again.selected, again.replayed, again.not_replayable) == (6, 0, 1)
    assert again.failed == {"not_allowed": 3, "conflict": 1, "not_json": 1}
    stored = letters(session_factory)
    assert len(stored) == 6 and all(letter.replayed_at is None for letter in stored)
    errors = {letter.reason: letter.replay_error or "" for letter in stored}
    assert errors["not_allowed"].startswith("not_allowed: machine 'site-2/l/m'")
    assert errors["too_large"].startswith("payload_truncated: only the first 300 bytes")
    assert [letter.payload_truncated for letter in stored] == [False] * 5 + [True]

    # The fix: every machine allowed. Replaying one reason stores those and only those.
    fixed = strict.model_copy(update={"ingest_allowed_machines": ["*/*/*"]})
    done = replay_dead_letters(session_factory, fixed, reason="not_allowed")
    assert (done.selected, done.stored, done.duplicates, done.failed.total()) == (3, 2, 1, 0)
    assert done.seq.detected == 1  # seq 1 then 3 for site-2/l/m
    assert readings(session_factory) == 3
    by_reason = {letter.id: letter for letter in letters(session_factory)}
    replayed = [letter for letter in by_reason.values() if letter.reason == "not_allowed"]
    assert all(letter.replayed_at is not None and letter.replay_error is None for letter in replayed)

    # Replaying again finds nothing new; by id, replayed letters are skipped.
    assert replay_dead_letters(session_factory, fixed, ids=[replayed[0].id]).selected == 0
    rest = replay_dead_letters(session_factory, fixed)
    assert (rest.selected, rest.replayed, rest.not_replayable) == (3, 0, 1)
    assert rest.failed == {"conflict": 1, "not_json": 1}
    assert len(letters(session_factory)) == 6 and readings(session_factory) == 3


def test_limit_and_ids_select_letters(session_factory: sessionmaker[Session], settings: Settings) -> None:
    off = settings.model_copy(update={"ingest_auto_register": False})
    ingest(session_factory, off, *(message(f"s/l/m{i}", i) for i in range(5)))
    ids = [letter.id for letter in letters(session_factory)]
    assert replay_dead_letters(session_factory, settings, limit=2).stored == 2
    assert replay_dead_letters(session_factory, settings, ids=[ids[4], 10**12]).stored == 1
    assert [letter.replayed_at is not None for letter in letters(session_factory)] == [
        True,
        True,
        False,
        False,
        True,
    ]


def test_requested_replays_and_the_poller(session_factory: sessionmaker[Session], settings: Settings) -> None:
    off = settings.model_copy(update={"ingest_auto_register": False, "ingest_replay_poll_s": 0.05})
    ingest(session_factory, off, message("s/l/a"), message("s/l/b", 1))
    first, second = (letter.id for letter in letters(session_factory))
    with transaction(session_factory) as session:
        register_machine(session, "s", "l", "a")
        register_machine(session, "s", "l", "b")
        assert dead_letters.request_replay(session, ids=[first], now=NOW) == (1, 1)
    summary = replay_requested(session_factory, off)
    assert (summary.selected, summary.stored) == (1, 1)
    assert replay_requested(session_factory, off).selected == 0  # the request is done
    with transaction(session_factory) as session:
        assert dead_letters.request_replay(session, reason="unknown_machine", now=NOW) == (1, 2)

    stop = threading.Event()
    thread = start_replay_poller(session_factory, off, stop)
    try:
        wait_for(lambda: readings(session_factory) == 2, 10, "the poller to replay the second letter")
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    (letter,) = [letter for letter in letters(session_factory) if letter.id == second]
    assert letter.replayed_at is not None and letter.replay_requested_at is None


def test_the_api_asks_and_a_running_ingestor_replays(
    session_factory: sessionmaker[Session], settings: Settings, start_ingestor: Start
) -> None:
    """End to end: a reading refused on arrival, the machine registered, replay asked over HTTP."""
    settings = settings.model_copy(update={"ingest_auto_register": False, "ingest_replay_poll_s": 0.1})
    start_ingestor(settings)
    publish(settings, [message("plant/line/new-press", seq=7)])
    wait_for(lambda: len(letters(session_factory)) == 1, what="the dead letter")
    with transaction(session_factory) as session:
        register_machine(session, "plant", "line", "new-press")
        key = create_key(session, "admin", "admin")[1]
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/api/v1/dead-letters/replay", json={"reason": "unknown_machine"}, headers={"X-API-Key": key}
        )
    assert answer.status_code == 202 and answer.json()["marked"] == 1
    wait_for(lambda: readings(session_factory) == 1, what="the replayed reading")
    (letter,) = letters(session_factory)
    assert letter.replayed_at is not None and letter.replay_error is None
