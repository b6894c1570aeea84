"""The scheduled trainings (RUL and QC), each run in a process of its own.

Training holds the CPU (and the GIL) for minutes; in a spawned worker process the scheduler's
one-minute jobs keep their timing. The worker opens its own database connection and commits its
own work (the registered versions); its summary, or its exception, comes back to the job run. The
nightly firings pick the scopes due at their site's local hour here, before spawning anything.
"""

from __future__ import annotations

import multiprocessing
import os
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from db.engine import make_engine, make_session_factory, transaction
from jobs.train_qc import train_qc_job
from jobs.train_rul import train_rul_job
from jobs.training_data import scopes_with_failures
from jobs.training_hours import due_scopes, qc_scope_zones, rul_scope_zones
from jobs.training_images import scopes_with_labels
from plantwatch.settings import Settings

TRAININGS = {"rul": train_rul_job, "qc": train_qc_job}


def train_rul_in_worker(
    session: Session,
    settings: Settings,
    now: datetime,
    scope: str | None = None,
    local_hour: int | None = None,
) -> dict[str, Any]:
    """The `train_rul` job: `train_rul_job` in a spawned process (nothing inherited from our threads).

    With `local_hour` (the nightly schedule), only the types whose site is at that hour are trained.
    """
    scopes = None
    if local_hour is not None and scope is None:
        scopes = due_scopes(scopes_with_failures(session), rul_scope_zones(session), now, local_hour)
        if not scopes:
            return {
                "trained": {},
                "note": f"no machine type is at {local_hour:02d}:00 in its site's time zone",
            }
    return _in_worker("rul", settings, now, scope, scopes)


def train_qc_in_worker(
    session: Session,
    settings: Settings,
    now: datetime,
    scope: str | None = None,
    local_hour: int | None = None,
) -> dict[str, Any]:
    """The `train_qc` job: `train_qc_job` in a spawned process; `local_hour` as for `train_rul`."""
    scopes = None
    if local_hour is not None and scope is None:
        scopes = due_scopes(scopes_with_labels(session), qc_scope_zones(session), now, local_hour)
        if not scopes:
            return {"trained": {}, "note": f"no line is at {local_hour:02d}:00 in its site's time zone"}
    return _in_worker("qc", settings, now, scope, scopes)


def _in_worker(
    kind: str, settings: Settings, now: datetime, scope: str | None, scopes: list[str] | None
) -> dict[str, Any]:
    limit = settings.train_timeout_s
    # A multiprocessing pool, not concurrent.futures: leaving the block terminates a worker still
    # training after the timeout, so a runaway training never outlives its run.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pending = pool.apply_async(_train, (kind, settings, now, scope, scopes))
        try:
            return pending.get(timeout=limit)
        except multiprocessing.TimeoutError:
            raise TimeoutError(
                f"{kind} training stopped after {limit:g} s (PLANTWATCH_TRAIN_TIMEOUT_S): worker ended"
            ) from None


def _train(
    kind: str, settings: Settings, now: datetime, scope: str | None, scopes: list[str] | None
) -> dict[str, Any]:
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set")
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with transaction(make_session_factory(engine)) as session:
            summary = TRAININGS[kind](session, settings, now, scope, scopes=scopes)
            return {**summary, "worker_pid": os.getpid()}
    finally:
        engine.dispose()
