"""Who schedules: leader election among scheduler replicas with a PostgreSQL advisory lock.

The leader holds a session-level advisory lock (`leader_lock_key`) on a dedicated connection outside
the pool. A monitor thread checks that connection every `leader_check_interval_s` with a query, under a
`leader_check_timeout_s` statement timeout, that also confirms the lock is still held; a failed check
steps down at once and closes the connection, so PostgreSQL frees the lock. Followers try to take the
lock every `leader_retry_interval_s`: when the leader dies its connection closes, PostgreSQL frees the
lock, and a follower leads within about that long. The leader's standing is a lease renewed by each
good check, on both sides: `is_leader()` turns false on its own when checks stop coming back (stuck on a
dead network), and PostgreSQL ends the session when they stop coming (`idle_session_timeout`, a frozen
process), so that a follower can take over.

Leadership decides who fires; it is not what keeps runs unique: every firing is claimed in `job_runs`,
so even two leaders at once (for the seconds before an old one notices) never run a firing twice.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import psycopg

from db.engine import libpq_url
from plantwatch.settings import Settings

log = logging.getLogger(__name__)

OnChange = Callable[[bool], None]
"""Called with True when this process becomes the leader and False when it stops being the leader."""

# A bigint advisory lock shows in pg_locks as classid = its high 32 bits, objid = its low 32 bits.
HOLDS_LOCK = """
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
      AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1
)
"""


class Leadership(Protocol):
    def start(self, on_change: OnChange | None = None) -> None:
        """Begin taking part in the election; `on_change` hears every change of role."""
        ...

    def is_leader(self) -> bool:
        """Whether this process should fire scheduled jobs and pick up job requests right now."""
        ...

    def release(self) -> None:
        """Give up leadership and stop taking part (at shutdown)."""
        ...


class AdvisoryLockLeadership:
    """Leads while it holds the advisory lock `key` on its own connection to `url`."""

    def __init__(
        self,
        url: str,
        key: int,
        *,
        check_interval_s: float = 2.0,
        check_timeout_s: float = 2.0,
        retry_interval_s: float = 5.0,
    ) -> None:
        self.conninfo = libpq_url(url)
        self.key = key
        self.check_interval_s = check_interval_s
        self.check_timeout_s = check_timeout_s
        self.retry_interval_s = retry_interval_s
        # Time for the next check to start and come back; a leader with no good check for longer is not one.
        self.lease_s = check_interval_s + 2 * check_timeout_s
        self.identity = f"plantwatch-scheduler {socket.gethostname()} pid {os.getpid()}"[:63]
        self._lock_ids = ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)
        self._conn: psycopg.Connection[Any] | None = None
        self._leading = False
        self._lease_until = 0.0  # time.monotonic() until which is_leader() holds
        self._logged_state = ""  # "following" or "unreachable", once logged: each is logged once
        self._on_change: OnChange | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, on_change: OnChange | None = None) -> None:
        """Try once now (so a lone scheduler leads from its first firing), then keep trying in a thread."""
        self._on_change = on_change
        self._step()
        self._thread = threading.Thread(target=self._monitor, name="leader-election", daemon=True)
        self._thread.start()

    def is_leader(self) -> bool:
        return time.monotonic() < self._lease_until

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.check_timeout_s + self._connect_timeout_s() + 1)
            if self._thread.is_alive():  # stuck on a dead connection; exiting the process frees the lock
                log.warning("leader election thread did not stop; leaving its connection to the exit")
                self._lease_until = 0.0
                return
        was_leading = self._leading
        self._leading, self._lease_until = False, 0.0
        if self._conn is not None and was_leading:
            with contextlib.suppress(psycopg.Error):  # closing the connection frees the lock anyway
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        self._close()
        if was_leading:
            log.info("released leadership (shutting down)")
            self._notify(False)

    # --- the monitor thread ---------------------------------------------------------------------

    def _monitor(self) -> None:
        while not self._stop.wait(self.check_interval_s if self._leading else self.retry_interval_s):
            self._step()

    def _step(self) -> None:
        if self._leading:
            self._check()
        else:
            self._try_to_lead()

    def _try_to_lead(self) -> None:
        try:
            if self._conn is None:
                self._conn = self._connect()
            acquired = self._ask("SELECT pg_try_advisory_lock(%s)", (self.key,))
            if acquired:
                # The server's side of the lease: a leader that stops checking (a frozen process or
                # host) loses its session, and so the lock, after the lease.
                with contextlib.suppress(psycopg.errors.UndefinedObject):  # before PostgreSQL 14
                    self._conn.execute(
                        "SELECT set_config('idle_session_timeout', %s, false)",
                        (str(round(self.lease_s * 1000)),),
                    )
        except psycopg.Error as exc:
            self._close()
            if self._logged_state != "unreachable":
                log.warning(
                    "leader election: no database, retrying every %g s: %s",
                    self.retry_interval_s,
                    _one_line(exc),
                )
                self._logged_state = "unreachable"
            return
        if not acquired:
            if self._logged_state != "following":
                log.info("following another scheduler; trying to lead every %g s", self.retry_interval_s)
                self._logged_state = "following"
            return
        self._leading, self._logged_state = True, ""
        self._renew()
        log.info("became leader (advisory lock %d, connection %r)", self.key, self.identity)
        self._notify(True)

    def _check(self) -> None:
        try:
            held = self._ask(HOLDS_LOCK, self._lock_ids)
        except psycopg.Error as exc:
            self._step_down(f"health check failed: {_one_line(exc)}")
            return
        if not held:
            self._step_down("the advisory lock is no longer held by this connection")
            return
        lapsed = not self.is_leader()
        self._renew()
        if lapsed:  # the lock was held all along, but firings in the lapse were not run here
            log.warning("leadership lapsed (no good check for %g s); leading again", self.lease_s)
            self._notify(True)

    def _step_down(self, reason: str) -> None:
        self._leading, self._lease_until = False, 0.0
        self._close()
        log.warning("lost leadership: %s; trying again in %g s", reason, self.retry_interval_s)
        self._notify(False)

    # --- the connection -------------------------------------------------------------------------

    def _connect_timeout_s(self) -> int:
        return max(2, math.ceil(self.check_timeout_s))  # libpq takes whole seconds, at least 2

    def _connect(self) -> psycopg.Connection[Any]:
        timeout_ms = max(1, round(self.check_timeout_s * 1000))
        conn = psycopg.connect(
            self.conninfo,
            autocommit=True,
            application_name=self.identity,
            connect_timeout=self._connect_timeout_s(),
            tcp_user_timeout=timeout_ms,  # a check stuck on a dead network fails instead of hanging
        )
        try:
            conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(timeout_ms),))
        except psycopg.Error:
            conn.close()
            raise
        return conn

    def _ask(self, query: str, params: tuple[int, ...]) -> bool:
        assert self._conn is not None
        row = self._conn.execute(query, params).fetchone()
        return bool(row and row[0])

    def _renew(self) -> None:
        self._lease_until = time.monotonic() + self.lease_s

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def _notify(self, leading: bool) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(leading)
        except Exception:
            log.exception("the handler of a leadership change failed")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def leadership_for(settings: Settings) -> Leadership:
    if not settings.database_url:
        raise ValueError("leader election needs DATABASE_URL")
    return AdvisoryLockLeadership(
        settings.database_url,
        settings.leader_lock_key,
        check_interval_s=settings.leader_check_interval_s,
        check_timeout_s=settings.leader_check_timeout_s,
        retry_interval_s=settings.leader_retry_interval_s,
    )
