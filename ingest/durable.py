"""Durable writes: a batch in one transaction, retried while PostgreSQL is unreachable, isolated when refused.

`write_isolating` is shared by the MQTT ingestor and the CSV importer; `write_raw` is the ingestor's
path (parse, write, count in the Prometheus metrics), for live batches and spooled ones alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session, sessionmaker
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_delay,
    stop_never,
    stop_when_event_set,
    wait_exponential,
)

from db.engine import transaction
from db.partitions import ensure_daily_partitions
from db.repositories.dead_letters import NewDeadLetter, add_dead_letters
from ingest import metrics
from ingest.asset_cache import AssetCache
from ingest.errors import is_database_error, is_transient
from ingest.messages import Telemetry, parse_telemetry
from ingest.policy import IngestPolicy
from ingest.sequence import count_in_metrics
from ingest.spool import RawMessage
from ingest.writer import ACCEPTED, DUPLICATE, BatchResult, Incoming, write_batch
from plantwatch.settings import Settings

log = logging.getLogger(__name__)


def retrying(stop: threading.Event, what: str, *, give_up_after_s: float | None = None) -> Retrying:
    """Retry while PostgreSQL is unreachable, with backoff up to 10 s, until `stop` is set or
    `give_up_after_s` have passed (then the last error is raised)."""

    def sleep(seconds: float) -> None:
        stop.wait(seconds)

    return Retrying(
        retry=retry_if_exception(is_transient),
        wait=wait_exponential(multiplier=0.25, max=10),
        stop=stop_when_event_set(stop)
        | (stop_after_delay(give_up_after_s) if give_up_after_s is not None else stop_never),
        sleep=sleep,
        before_sleep=lambda state: log.warning(
            "database unavailable (%s); retrying %s",
            state.outcome.exception() if state.outcome else "?",
            what,
        ),
        reraise=True,
    )


def write_raw(
    factory: sessionmaker[Session],
    settings: Settings,
    policy: IngestPolicy,
    messages: Sequence[RawMessage],
    cache: AssetCache | None = None,
) -> BatchResult:
    """Parse received messages and write them in one transaction (`write_isolating`), counting the
    outcome in the ingest metrics. Transient errors propagate."""
    items = [
        Incoming(
            m.topic,
            m.payload,
            parse_telemetry(
                m.topic,
                m.payload,
                topic_root=settings.mqtt_topic_root,
                received_at=m.received_at,
                max_payload_bytes=settings.ingest_max_payload_bytes,
                max_future_s=settings.ingest_max_future_s,
            ),
            m.received_at,
        )
        for m in messages
    ]
    started = time.perf_counter()
    result = write_isolating(factory, items, auto_register=policy.auto_register, policy=policy, cache=cache)
    metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
    metrics.BATCH_SIZE.observe(len(items))
    values = 0
    for item, outcome in zip(items, result.outcomes, strict=True):
        if outcome == ACCEPTED and isinstance(item.parsed, Telemetry):
            values += len(item.parsed.values)
    metrics.VALUES.inc(values)
    for outcome, count in Counter(result.outcomes).items():
        metrics.MESSAGES.labels(outcome).inc(count)
        if outcome not in (ACCEPTED, DUPLICATE):
            metrics.DEAD_LETTERS.labels(outcome).inc(count)
    count_in_metrics(result.seq)
    return result


def write_isolating(
    factory: sessionmaker[Session],
    items: Sequence[Incoming],
    *,
    auto_register: bool,
    policy: IngestPolicy | None = None,
    cache: AssetCache | None = None,
) -> BatchResult:
    """Write the batch in one transaction. If the database refuses it (rather than being unreachable),
    write its messages one by one, so that a message it refuses becomes a `db_error` dead letter
    instead of blocking the stream. Transient errors propagate (the caller retries)."""
    view = (cache or AssetCache()).view()
    try:
        with transaction(factory) as session:
            result = write_batch(session, items, auto_register=auto_register, policy=policy, assets_view=view)
        view.commit()
        return result
    except Exception as error:
        if is_transient(error) or not is_database_error(error):
            raise
        refused = error
    if len(items) > 1:
        log.error(
            "the database refused a batch of %d messages (%s); writing them one by one", len(items), refused
        )
        total = BatchResult()
        for item in items:
            one = write_isolating(factory, [item], auto_register=auto_register, policy=policy, cache=cache)
            total.outcomes += one.outcomes
            total.details += one.details
            total.seq += one.seq
        return total
    item = items[0]
    log.error("the database refused a message on %s: %s", item.topic, refused)
    letter = NewDeadLetter(item.topic, item.payload, "db_error", str(refused)[:2000], item.received_at)
    with transaction(factory) as session:
        add_dead_letters(session, [letter], payload_limit=(policy or IngestPolicy()).payload_limit)
    return BatchResult(["db_error"], [str(refused)[:2000]])


def ensure_partitions(
    factory: sessionmaker[Session],
    first: date,
    last: date,
    stop: threading.Event,
    *,
    give_up_after_s: float | None = None,
) -> bool:
    """Daily readings partitions for [first, last]; False if `stop` was set while PostgreSQL was down."""

    def ensure() -> None:
        with transaction(factory) as session:
            created = ensure_daily_partitions(session, first, last)
        if created:
            log.info("created readings partitions %s", ", ".join(created))

    try:
        retrying(stop, "creating readings partitions", give_up_after_s=give_up_after_s)(ensure)
    except Exception as error:
        if is_transient(error):
            return False
        if not is_database_error(error):
            raise
        # Another process creating the same partition, say; the default partition still takes every row.
        log.warning("could not create readings partitions (%s); going on", error)
    return True
