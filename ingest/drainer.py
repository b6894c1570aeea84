"""The ingestor's background thread: drains the local spool into PostgreSQL and keeps the daily
readings partitions ahead, so that the pump (MQTT → PostgreSQL or spool) never waits for either.

Spooled batches are written through the same idempotent writer as live ones, oldest segment first,
retried with backoff while PostgreSQL is unreachable; a segment is deleted only once every message
in it is committed. A crash mid-segment writes that segment again at the next start: its messages
that were already stored are duplicates, dropped by the writer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from ingest.durable import ensure_partitions, retrying
from ingest.errors import is_transient
from ingest.spool import RawMessage, Segment, Spool
from ingest.writer import BatchResult
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

PARTITION_RETRY_S = 10.0


class Drainer:
    """Started with `start()`, runs until `stop` is set; `error` holds what made it fail, if anything.
    `partitions_tried` is set after its first attempt at the partitions (successful or not)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        spool: Spool | None,
        write: Callable[[Sequence[RawMessage]], BatchResult],
        stop: threading.Event,
    ) -> None:
        """`write` parses and writes a batch in one transaction (durable.write_raw), raising when
        PostgreSQL is unreachable."""
        self.factory, self.settings, self.spool, self.write = factory, settings, spool, write
        self.stop = stop
        self.error: BaseException | None = None
        self.partitions_tried = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ingest-drainer", daemon=True)

    def start(self) -> Drainer:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as error:
            self.error = error
            log.exception("the spool drainer failed")
        finally:
            self.partitions_tried.set()

    def _loop(self) -> None:
        partitions_day: date | None = None
        next_try = 0.0
        drained = 0
        while not self.stop.is_set():
            today = datetime.now(UTC).date()
            if partitions_day != today and time.monotonic() >= next_try:
                partitions_day = today if self._ensure_partitions(today) else None
                next_try = time.monotonic() + PARTITION_RETRY_S
                self.partitions_tried.set()
            segment = self.spool.next_segment() if self.spool is not None else None
            if segment is None:
                if drained:
                    log.info("spool drained: %d messages written to PostgreSQL", drained)
                    drained = 0
                if self.spool is not None:
                    self.spool.wait(1.0)
                else:
                    self.stop.wait(PARTITION_RETRY_S)
                continue
            assert self.spool is not None
            if drained == 0:
                log.info("draining the spool (%d messages) into PostgreSQL", self.spool.messages)
            if not self._drain(segment):
                return  # stopped while PostgreSQL was unavailable: the segment stays for the next start
            self.spool.remove(segment)
            drained += segment.messages

    def _drain(self, segment: Segment) -> bool:
        """Write every message of the segment; False if stopped before."""
        assert self.spool is not None
        frames = self.spool.read(segment)
        try:
            batch: list[RawMessage] = []
            for frame in frames:
                batch += frame
                if len(batch) >= self.settings.ingest_batch_messages:
                    if not self._write(batch):
                        return False
                    batch = []
            return not batch or self._write(batch)
        finally:
            frames.close()

    def _write(self, batch: Sequence[RawMessage]) -> bool:
        try:
            retrying(self.stop, f"{len(batch)} spooled messages")(self.write, batch)
        except Exception as error:
            if is_transient(error):
                return False
            raise
        return True

    def _ensure_partitions(self, today: date) -> bool:
        """Partitions for yesterday … today + partition_days_ahead, one attempt; False if unreachable."""
        last = today + timedelta(days=self.settings.partition_days_ahead)
        return ensure_partitions(self.factory, today - timedelta(days=1), last, self.stop, give_up_after_s=0)
