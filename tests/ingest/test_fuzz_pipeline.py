"""Fuzzing the whole path a message takes (parse, then write): it never raises, and every message is
either stored (accepted, or a duplicate of a stored reading) or kept as a dead letter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from ingest.messages import parse_telemetry
from ingest.writer import ACCEPTED, DUPLICATE, Incoming, write_batch

ROOT = "plantwatch/v1"
NOW = datetime.now(UTC)
segments = st.sampled_from(["s1", "l1", "m1", "m2", "bad segment", "", "x" * 80])
topics = st.builds(lambda a, b, c: f"{ROOT}/{a}/{b}/{c}/telemetry", segments, segments, segments)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70) | st.booleans()
values = st.dictionaries(st.sampled_from(["a", "b", "c", "bad name!", ""]), numbers | st.text(max_size=3))
stamps = st.integers(0, 120).map(lambda s: (NOW - timedelta(seconds=s)).isoformat()) | st.sampled_from(
    ["1999-12-31T23:59:59Z", "2999-01-01T00:00:00Z", "yesterday", 1_700_000_000_000, None]
)
documents = st.fixed_dictionaries({"ts": stamps, "values": values}, optional={"seq": st.integers(-5, 10)})
payloads = documents.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=64)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.tuples(topics, payloads), min_size=1, max_size=12))
def test_every_message_is_stored_or_dead_lettered(
    session_factory: sessionmaker[Session], batch: list[tuple[str, bytes]]
) -> None:
    items = [
        Incoming(
            topic,
            payload,
            parse_telemetry(
                topic, payload, topic_root=ROOT, received_at=NOW, max_payload_bytes=4096, max_future_s=300
            ),
            NOW,
        )
        for topic, payload in batch
    ]
    with session_factory() as session:
        before_letters = session.scalar(text("SELECT count(*) FROM dead_letters")) or 0
        before_rows = session.scalar(text("SELECT count(*) FROM readings")) or 0
    with transaction(session_factory) as session:
        outcomes = write_batch(session, items).outcomes
    with session_factory() as session:
        letters = (session.scalar(text("SELECT count(*) FROM dead_letters")) or 0) - before_letters
        rows = (session.scalar(text("SELECT count(*) FROM readings")) or 0) - before_rows
    assert len(outcomes) == len(items) and all(outcomes)
    assert rows == outcomes.count(ACCEPTED)
    assert letters == sum(1 for outcome in outcomes if outcome not in (ACCEPTED, DUPLICATE))
