"""The ingestor's inspection side: its own MQTT session, a small queue, one thread writing one image
at a time, each acknowledged only once its file is fsynced and its row (or dead letter) committed.

Images are large and slow next to readings, so they never share the telemetry session: that one's
Receive Maximum, queue and batches stay as they are, and a burst of images or a slow disk cannot
hold up a reading. The session's client id is the ingestor's with `-inspections` appended, and it
holds at most `IN_FLIGHT` unacknowledged messages (MQTT 5 Receive Maximum; on 3.1.1 a full queue
holds this session's network thread). While PostgreSQL is unreachable, or the image folder cannot
be written, the message is retried, unacknowledged; the broker keeps the rest. Retiring a replica
retires this session too: unsubscribe, take what it still holds, end it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter

from sqlalchemy.orm import Session, sessionmaker

from ingest.durable import retrying
from ingest.errors import is_transient
from ingest.inspection_writer import write_inspection
from ingest.mqtt import connect_persistent, end_session
from ingest.policy import IngestPolicy
from ingest.receiver import Link, Received, callbacks
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

CLIENT_ID_SUFFIX = "-inspections"
IN_FLIGHT = 8  # unacknowledged images held at once: bounds memory (8 x the broker's largest packet)
LOG_EVERY_S = 60.0
STORAGE_RETRY_MAX_S = 30.0


def session_settings(settings: Settings) -> Settings:
    """The settings of the inspection session: its own client id and in-flight window."""
    return settings.model_copy(
        update={
            "mqtt_client_id": settings.mqtt_client_id + CLIENT_ID_SUFFIX,
            "mqtt_receive_maximum": IN_FLIGHT,
        }
    )


class InspectionIngestor:
    """Started with `start()`; runs until `stop` is set (or, retiring, until its session is ended)."""

    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        stop: threading.Event,
        *,
        retire: bool = False,
        retire_idle_s: float = 3.0,
    ) -> None:
        self.settings, self.factory, self.stop = settings, factory, stop
        self.session_settings = session_settings(settings)
        self.policy = IngestPolicy.from_settings(settings)
        self.ready = threading.Event()
        self.link = Link(queue.Queue(maxsize=IN_FLIGHT), self.ready, retire, kind="inspection")
        self.retire_idle_s = retire_idle_s
        self.abort = threading.Event()  # the ingestor failed: give up at once
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="ingest-inspections", daemon=True)

    def start(self) -> InspectionIngestor:
        self.thread.start()
        return self

    def finish(self, *, retiring: bool) -> None:
        """Wait for the thread: until it has retired its session, or (stopping, failing) briefly."""
        if not retiring:
            self.abort.set()
        self.thread.join(None if retiring else 30)

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as error:
            self.error = error
            log.exception("the inspection ingestor failed")

    def _loop(self) -> None:
        configure = callbacks(self.session_settings, self.link)
        connected = connect_persistent(self.session_settings, configure, self.stop)
        if connected is None:
            return
        client, protocol = connected
        retired = False
        logged, counted = time.monotonic(), Counter[str]()
        try:
            while not self.abort.is_set():
                try:
                    received = self.link.inbox.get(timeout=0 if self.stop.is_set() else 0.5)
                except queue.Empty:
                    if self.stop.is_set():
                        break
                    retired = self.link.retire and self._all_taken()
                    if retired:
                        break
                    continue
                outcome = self._durable(received)
                if outcome is None:
                    log.info("stopped with an inspection not durable; the broker will redeliver it")
                    break
                client.ack(received.mid, received.qos)
                counted[outcome] += 1
                if time.monotonic() - logged > LOG_EVERY_S:
                    self._log(counted)
                    logged, counted = time.monotonic(), Counter()
        finally:
            self._log(counted)
            self.link.closing.set()
            if retired:
                client.loop_stop()
                end_session(self.session_settings, client, protocol)
                client_id = self.session_settings.mqtt_client_id
                log.info("retired %r: the broker has forgotten its session", client_id)
            else:
                client.disconnect()
                client.loop_stop()

    def _all_taken(self) -> bool:
        return (
            self.link.unsubscribed.is_set()
            and self.link.inbox.empty()
            and time.monotonic() - self.link.last_message > self.retire_idle_s
        )

    def _durable(self, received: Received) -> str | None:
        """Write the message (retrying while PostgreSQL or the image folder is unavailable); its
        outcome, or None when stopped first."""
        delay = 0.5
        while True:
            try:
                write = retrying(self.stop, "an inspection")
                return write(write_inspection, self.factory, self.settings, self.policy, received)
            except Exception as error:
                if is_transient(error):
                    return None  # stopped while PostgreSQL was unavailable
                if not isinstance(error, OSError):
                    raise
                log.error(
                    "cannot store an inspection image in %s (%s); retrying",
                    self.settings.images_directory,
                    error,
                )
            if self.stop.wait(delay) or self.abort.is_set():
                return None
            delay = min(delay * 2, STORAGE_RETRY_MAX_S)

    def _log(self, counted: Counter[str]) -> None:
        if not counted:
            return
        refused = {k: v for k, v in counted.items() if k not in ("accepted", "duplicate")}
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(refused.items()))
        log.info(
            "inspections: %d accepted, %d duplicates, %d dead-lettered%s",
            counted["accepted"],
            counted["duplicate"],
            sum(refused.values()),
            f" ({reasons})" if reasons else "",
        )


def when_all_set(target: threading.Event | None, parts: list[threading.Event], stop: threading.Event) -> None:
    """Set `target` once every event of `parts` is set (a daemon thread waits for them)."""
    if target is None:
        return

    def wait() -> None:
        for part in parts:
            while not part.wait(0.5):
                if stop.is_set():
                    return
        target.set()

    threading.Thread(target=wait, name="ingest-ready", daemon=True).start()
