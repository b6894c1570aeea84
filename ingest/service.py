"""The ingestor: MQTT telemetry → validated batches → PostgreSQL, acknowledged only once durable.
Inspection images take a session and a thread of their own (ingest/inspection_session.py).

Threads: paho's network thread puts received messages on a bounded queue, as large as the MQTT 5
Receive Maximum (on 3.1.1 a full queue holds the network thread: back-pressure on the broker). The
calling thread (the pump) takes batches of up to `ingest_batch_messages` messages or
`ingest_flush_ms`, makes each durable and only then acknowledges its messages (manual PUBACK).
Durable means committed in PostgreSQL — written on the writer thread, waited for at most
`ingest_slow_commit_s` — or, while PostgreSQL is unreachable or slow and until the spool is empty
again, appended and fsynced to the local spool (ingest/spool.py), which the drainer thread
(ingest/drainer.py) writes to PostgreSQL when it can. When the spool is full the pump waits,
acknowledging nothing: the broker stops at the in-flight window and keeps the rest. A crash loses
nothing: the broker redelivers what was not acknowledged (persistent session), the next start drains
the spool, and the writer drops redeliveries as duplicates. Without a spool
(`ingest_spool_max_bytes=0`) a batch is retried, unacknowledged, until PostgreSQL takes it.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import paho.mqtt.client as mqtt

from db.engine import make_engine, make_session_factory
from ingest import metrics
from ingest.asset_cache import AssetCache
from ingest.drainer import Drainer
from ingest.durable import retrying, write_raw
from ingest.errors import is_transient
from ingest.inspection_session import InspectionIngestor, when_all_set
from ingest.mqtt import connect_persistent, end_session, receive_maximum
from ingest.policy import IngestPolicy
from ingest.receiver import Link, Received, callbacks, collect
from ingest.replay import start_replay_poller
from ingest.spool import RawMessage, Spool
from ingest.stats import IngestStats
from ingest.writer import BatchResult
from plantwatch.metrics import serve_metrics
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

Write = Callable[[Sequence[RawMessage]], BatchResult]


RETIRE_IDLE_S = 3.0  # a retiring replica ends its session once its broker queue has been quiet this long


def run_ingestor(
    settings: Settings,
    stop: threading.Event | None = None,
    *,
    ready: threading.Event | None = None,
    retire: bool = False,
) -> None:
    """Ingest until `stop` is set; `ready` (optional) is set once the subscription is confirmed.

    `retire=True` takes a replica out of a shared subscription for good: it unsubscribes, ingests
    what the broker still holds for its session and what its spool holds, then ends the session
    (the broker forgets it) and returns."""
    stop = stop or threading.Event()
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set; `plantwatch up` starts an embedded PostgreSQL when unset")
    spool = open_spool(settings)  # first: it refuses a second process with our client id
    try:
        _run(settings, settings.database_url, spool, stop, Link(_inbox(settings), ready, retire))
    finally:
        if spool is not None:
            spool.close()
        log.info("ingestor stopped")


def _inbox(settings: Settings) -> queue.Queue[Received]:
    return queue.Queue(maxsize=max(1000, receive_maximum(settings)))


def _run(
    settings: Settings, database_url: str, spool: Spool | None, stop: threading.Event, link: Link
) -> None:
    """Everything but the spool: metrics, database, drainer and writer threads, MQTT, the pump."""
    serve_metrics(settings, "ingest")
    engine = make_engine(database_url, pool_size=4)
    factory = make_session_factory(engine)
    policy = IngestPolicy.from_settings(settings)
    cache = AssetCache()  # machine ids and sensor positions, shared by the writer and the drainer
    stats, stats_lock = IngestStats(), threading.Lock()

    def write(batch: Sequence[RawMessage]) -> BatchResult:
        result = write_raw(factory, settings, policy, batch, cache)
        with stats_lock:
            stats.add(result)
        return result

    background = threading.Event()  # the drainer outlives the pump, which may still spool
    # Dead letters the API marked for replay; stops with this function, even if `stop` never is set.
    start_replay_poller(make_session_factory(engine), settings, background)
    drainer = Drainer(factory, settings, spool, write, background)
    writer = _Writer(write)
    inspections = InspectionIngestor(settings, factory, stop, retire=link.retire, retire_idle_s=RETIRE_IDLE_S)
    retired = False
    try:
        drainer.start().partitions_tried.wait(settings.ingest_slow_commit_s)
        inspections.start()
        ready, link.ready = link.ready, threading.Event()  # the caller's: set once both sessions are
        when_all_set(ready, [link.ready, inspections.ready], stop)
        connected = connect_persistent(settings, callbacks(settings, link), stop)
        if connected is None:
            return
        client, protocol = connected
        try:
            pump = _Pump(settings, spool, writer, write, drainer)
            while not retired and pump.step(client, link.inbox, stop):
                with stats_lock:
                    stats.log_if_due(log)
                if inspections.error is not None:
                    raise RuntimeError("the inspection ingestor failed") from inspections.error
                retired = link.retire and _all_taken(link, spool)
        finally:
            link.closing.set()
            if retired:
                client.loop_stop()
                end_session(settings, client, protocol)
                log.info("retired %r: the broker has forgotten its session", settings.mqtt_client_id)
            else:
                client.disconnect()  # queued PUBACKs go out before the DISCONNECT
                client.loop_stop()
    finally:
        inspections.finish(retiring=retired)  # a retiring replica also ends its inspection session
        background.set()
        drainer.thread.join(30)
        writer.close()
        engine.dispose()


def _all_taken(link: Link, spool: Spool | None) -> bool:
    """A retiring replica has everything: unsubscribed, its queue quiet, its spool drained."""
    return (
        link.unsubscribed.is_set()
        and link.inbox.empty()
        and time.monotonic() - link.last_message > RETIRE_IDLE_S
        and (spool is None or spool.is_empty())
    )


def open_spool(settings: Settings) -> Spool | None:
    """The spool of this ingestor (one folder per client id), or None when it is turned off."""
    if settings.ingest_spool_max_bytes == 0:
        return None
    folder = re.sub(r"[^A-Za-z0-9_.-]", "_", settings.mqtt_client_id)
    return Spool(settings.var_dir / "spool" / folder, settings.ingest_spool_max_bytes)


class _Writer:
    """Writes batches on its own thread, so that the pump can stop waiting for a slow database."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._jobs: queue.SimpleQueue[tuple[Sequence[RawMessage], Future[BatchResult]] | None]
        self._jobs = queue.SimpleQueue()
        threading.Thread(target=self._run, name="ingest-writer", daemon=True).start()

    def write(self, batch: Sequence[RawMessage], timeout_s: float) -> BatchResult:
        """The batch's result; TimeoutError after `timeout_s` (the write goes on and may still commit)."""
        future: Future[BatchResult] = Future()
        self._jobs.put((batch, future))
        return future.result(timeout_s)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            batch, future = job
            try:
                future.set_result(self._write(batch))
            except BaseException as error:
                future.set_exception(error)

    def close(self) -> None:
        self._jobs.put(None)


class _Pump:
    def __init__(
        self, settings: Settings, spool: Spool | None, writer: _Writer, write: Write, drainer: Drainer
    ) -> None:
        self.settings, self.spool, self.writer, self.write = settings, spool, writer, write
        self.drainer = drainer

    def step(self, client: mqtt.Client, inbox: queue.Queue[Received], stop: threading.Event) -> bool:
        """One batch made durable and acknowledged; False when it is time to return."""
        settings = self.settings
        batch = collect(inbox, settings.ingest_batch_messages, settings.ingest_flush_ms / 1000, stop)
        if batch:
            if not self.durable(batch, stop):
                log.info("stopped with %d messages not durable; the broker will redeliver them", len(batch))
                return False
            now = time.time()
            for received in batch:
                metrics.LAG_SECONDS.observe(now - received.received_at.timestamp())
                client.ack(received.mid, received.qos)
        metrics.QUEUE_DEPTH.set(inbox.qsize())
        if self.drainer.error is not None:
            raise RuntimeError("the spool drainer failed") from self.drainer.error
        return not (stop.is_set() and inbox.empty())

    def durable(self, batch: Sequence[Received], stop: threading.Event) -> bool:
        """Commit the batch, or spool it; False if stopped before either."""
        if self.spool is None:
            return self._write_retrying(batch, stop)
        if self.spool.is_empty():
            try:
                self.writer.write(batch, self.settings.ingest_slow_commit_s)
                return True
            except TimeoutError:
                log.warning(
                    "a batch took over %gs to commit: spooling until PostgreSQL catches up",
                    self.settings.ingest_slow_commit_s,
                )
            except Exception as error:
                if not is_transient(error):
                    raise
                log.warning("PostgreSQL is unavailable (%s): spooling until it is back", error)
        return self._spool(self.spool, batch, stop)

    def _spool(self, spool: Spool, batch: Sequence[Received], stop: threading.Event) -> bool:
        warned = False
        while True:
            try:
                if spool.append(batch):
                    return True
                if not warned:
                    log.warning(
                        "the spool is full (%d bytes): acknowledging nothing until it drains", spool.bytes
                    )
                    warned = True
            except OSError as error:
                log.error("cannot write to the spool in %s (%s); retrying", spool.directory, error)
            if stop.is_set():
                return False
            spool.wait(0.5)

    def _write_retrying(self, batch: Sequence[Received], stop: threading.Event) -> bool:
        try:
            retrying(stop, f"a batch of {len(batch)} messages")(self.write, batch)
        except Exception as error:
            if is_transient(error):
                return False
            raise
        return True
