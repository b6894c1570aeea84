"""Job requests written through the service are picked up once, run, and linked to their run."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.tables import JobRequest, JobRun
from jobs.requests import drain_requests, run_next_request
from plantwatch.settings import Settings
from services.job_requests import request_job


def test_a_request_is_picked_up_and_run(session_factory: sessionmaker[Session], settings: Settings) -> None:
    with transaction(session_factory) as session:
        request_id = request_job(session, "silent_machines", {}, "alice").id

    served = run_next_request(session_factory, settings)

    assert served is not None and served.request_id == request_id
    assert served.result.status == "succeeded"
    with session_factory() as session:
        request = session.get_one(JobRequest, request_id)
        run = session.get_one(JobRun, served.result.run_id)
    assert request.picked_at is not None and request.job_run_id == run.id
    assert (run.job_name, run.trigger, run.status) == ("silent_machines", "request", "succeeded")
    assert run.scheduled_for == request.requested_at
    assert run_next_request(session_factory, settings) is None


def test_unknown_and_bad_requests_are_recorded_as_failed_runs(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with transaction(session_factory) as session:
        # Written directly: an API of a newer version may know a job this scheduler does not.
        session.add(JobRequest(job_name="retrain_everything", params={}, requested_by="bob"))
        request_job(session, "silent_machines", {"no_such_param": 1}, "carol")
        request_job(session, "partition_upkeep", {}, "dave")

    served = drain_requests(session_factory, settings)

    assert [s.result.status for s in served] == ["failed", "failed", "succeeded"]
    with session_factory() as session:
        requests = list(session.scalars(select(JobRequest).order_by(JobRequest.id)))
        runs = {run.id: run for run in session.scalars(select(JobRun))}
    assert all(r.picked_at is not None and r.job_run_id in runs for r in requests)
    unknown, bad_params, _ = (runs[r.job_run_id] for r in requests if r.job_run_id is not None)
    assert unknown.status == "failed" and "unknown job 'retrain_everything'" in (unknown.error or "")
    assert bad_params.status == "failed" and "no_such_param" in (bad_params.error or "")
    assert drain_requests(session_factory, settings) == []
