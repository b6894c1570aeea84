"""Job requests: validated names, and each pending request claimed exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from services.job_requests import JOB_NAMES, UnknownJobError, claim_pending, request_job


def test_request_job_validates_the_name(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        request = request_job(session, "silent_machines", {"x": 1}, "alice")
        assert request.id and request.params == {"x": 1} and request.picked_at is None
        with pytest.raises(UnknownJobError, match=r"unknown job 'rm_rf'.*silent_machines"):
            request_job(session, "rm_rf", {}, "mallory")
        with pytest.raises(UnknownJobError):
            request_job(session, "silent_machines", {}, "alice", known=("something_else",))
    assert "silent_machines" in JOB_NAMES


def test_claim_pending_claims_each_request_once(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        ids = [request_job(session, "partition_upkeep", {}, f"user{i}").id for i in range(20)]

    with transaction(session_factory) as session:
        first = claim_pending(session, 3)
    assert [r.id for r in first] == ids[:3] and all(r.picked_at is not None for r in first)

    barrier = threading.Barrier(4)

    def claim_all(_: int) -> list[int]:
        barrier.wait()
        got: list[int] = []
        while True:
            with transaction(session_factory) as session:
                batch = claim_pending(session, 2)
                if not batch:
                    return got
                got.extend(r.id for r in batch)

    with ThreadPoolExecutor(4) as pool:
        claimed = [i for batch in pool.map(claim_all, range(4)) for i in batch]
    assert sorted(claimed) == ids[3:]
