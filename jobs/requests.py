"""Serve job requests from the API: claim the oldest pending request, run its job, link the run.

A request is marked picked (and committed) before its job runs, so two schedulers never run the same
request; if the process dies during the run, the request stays picked with the run left `running`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from jobs.runs import RunResult, describe, run_job
from plantwatch.settings import Settings
from services import job_requests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedRequest:
    request_id: int
    result: RunResult


def run_next_request(factory: sessionmaker[Session], settings: Settings) -> ServedRequest | None:
    """Claim and run the oldest pending request; None when there is none."""
    with transaction(factory) as session:
        claimed = job_requests.claim_pending(session, 1)
        if not claimed:
            return None
        request = claimed[0]
        request_id, job_name, params = request.id, request.job_name, dict(request.params or {})
        requested_at, requested_by = request.requested_at, request.requested_by
    log.info("job request %d: running %s for %s", request_id, job_name, requested_by or "someone")
    # The request's own time stamp is its firing: unique per request, and never a schedule slot.
    result = run_job(factory, settings, job_name, requested_at, trigger="request", params=params)
    if result.run_id is not None:
        with transaction(factory) as session:
            job_requests.record_run(session, request_id, result.run_id)
    return ServedRequest(request_id, result)


class RequestPoller:
    """Serves pending requests at each poll; a database outage is logged once, not at every poll."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory = factory
        self.settings = settings
        self.failing = False

    def drain(self, stop: threading.Event | None = None, limit: int = 100) -> list[ServedRequest]:
        """Serve requests one at a time until none is left, `stop` is set or `limit` is reached."""
        served: list[ServedRequest] = []
        while len(served) < limit and not (stop is not None and stop.is_set()):
            try:
                outcome = run_next_request(self.factory, self.settings)
            except OperationalError as exc:
                if not self.failing:
                    log.warning("cannot pick up job requests, retrying at every poll: %s", describe(exc))
                self.failing = True
                break
            except Exception:
                log.exception("could not pick up job requests; trying again at the next poll")
                break
            if self.failing:
                log.info("job requests: the database answers again")
                self.failing = False
            if outcome is None:
                break
            served.append(outcome)
        return served


def drain_requests(
    factory: sessionmaker[Session], settings: Settings, stop: threading.Event | None = None, limit: int = 100
) -> list[ServedRequest]:
    """Serve pending requests one at a time until none is left, `stop` is set or `limit` is reached."""
    return RequestPoller(factory, settings).drain(stop, limit)
