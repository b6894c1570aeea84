"""The scheduled trainings (RUL and QC), each run in a process of its own.

Training holds the CPU (and the GIL) for minutes; in a spawned worker process the scheduler's
one-minute jobs keep their timing. The worker opens its own database connection and commits its
own work (the registered versions); its summary, or its exception, comes back to the job run.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from db.engine import make_engine, make_session_factory, transaction
from jobs.train_qc import train_qc_job
from jobs.train_rul import train_rul_job
from plantwatch.settings import Settings

TRAININGS = {"rul": train_rul_job, "qc": train_qc_job}


def train_rul_in_worker(
    session: Session, settings: Settings, now: datetime, scope: str | None = None
) -> dict[str, Any]:
    """The `train_rul` job: `train_rul_job` in a spawned process (nothing inherited from our threads)."""
    del session  # the worker has its own connection
    return _in_worker("rul", settings, now, scope)


def train_qc_in_worker(
    session: Session, settings: Settings, now: datetime, scope: str | None = None
) -> dict[str, Any]:
    """The `train_qc` job: `train_qc_job` in a spawned process."""
    del session
    return _in_worker("qc", settings, now, scope)


def _in_worker(kind: str, settings: Settings, now: datetime, scope: str | None) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_train, kind, settings, now, scope).result()


def _train(kind: str, settings: Settings, now: datetime, scope: str | None) -> dict[str, Any]:
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set")
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with transaction(make_session_factory(engine)) as session:
            return {**TRAININGS[kind](session, settings, now, scope), "worker_pid": os.getpid()}
    finally:
        engine.dispose()
