"""Jobs page: what the scheduler runs and when (every_s, next run), recent runs with their durations
and errors, "run now" (admin), and the dead letters with their reasons and replay (admin).
"""

from __future__ import annotations

from datetime import UTC, datetime
from statistics import median

import streamlit as st

from dashboard import ops_session, session
from dashboard.api_error import ApiError
from dashboard.dead_letters import dead_letters_section
from dashboard.job_records import Job, JobRequest
from dashboard.ops_tables import duration_text, jobs_table, runs_table

ALL_JOBS = "All jobs"
STATUSES = {"Any status": None, "Failed": "failed", "Succeeded": "succeeded", "Running": "running"}
REQUEST_STATE = "jobs_last_request"


def _run_now() -> None:
    # From the session state, not args bound at the last render: the pick may have changed with the click.
    job_name = str(st.session_state["jobs_run_pick"])

    def call() -> str:
        request = ops_session.client().request_job(job_name)
        st.session_state[REQUEST_STATE] = request.id
        return (
            f"Asked the scheduler to run {job_name} now (request #{request.id}): it starts within "
            "seconds when `plantwatch scheduler` is running."
        )

    ops_session.act(f"run {job_name}", call)


def _request_state(request: JobRequest) -> str:
    run = request.run
    if request.picked_at is None:
        return (
            f"Request #{request.id} ({request.job_name}) is queued: the scheduler has not picked it up yet."
        )
    if run is None:
        return f"Request #{request.id} ({request.job_name}) was picked up; its run is starting."
    if run.status == "running":
        return f"Request #{request.id} ({request.job_name}) is running (run #{run.id})."
    outcome = f"{run.status} in {duration_text(run.duration_s)}"
    return f"Request #{request.id} ({request.job_name}) {outcome}" + (f": {run.error}" if run.error else ".")


def _schedule(jobs: list[Job], admin: bool) -> None:
    st.header("Schedule")
    now = datetime.now(UTC)
    tz = session.display_tz()
    st.dataframe(jobs_table(jobs, now, tz), hide_index=True, width="stretch", key="jobs_schedule")
    st.caption(
        f"Times in {tz}. Jobs fire only while `plantwatch scheduler` runs; one on request only runs "
        "when asked (Run now, or the CLI)."
    )
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.selectbox("Job", [job.name for job in jobs], key="jobs_run_pick")
    right.button("Run now", key="jobs_run_now", on_click=_run_now, disabled=not admin, width="stretch")
    if not admin:
        ops_session.permission_note("admin", "running a job now")
    request_id = st.session_state.get(REQUEST_STATE)
    if request_id is not None:
        try:
            st.caption(_request_state(ops_session.client().job_request(int(request_id))))
        except ApiError as exc:
            session.show_api_error(exc, "read the job request")
        st.button("Check again", key="jobs_check_request")


def _runs(job_names: list[str]) -> None:
    st.header("Recent runs")
    left, right = st.columns(2)
    job_choice = str(left.selectbox("Job", [ALL_JOBS, *job_names], key="jobs_runs_job"))
    status = STATUSES[str(right.selectbox("Status", list(STATUSES), key="jobs_runs_status"))]
    job = None if job_choice == ALL_JOBS else job_choice
    try:
        runs = ops_session.client().job_runs(job=job, status=status, limit=100)
    except ApiError as exc:
        session.show_api_error(exc, "list job runs")
        return
    if not runs:
        hint = "choose another job or status" if job or status else "is `plantwatch scheduler` running?"
        st.info(f"No job run matches: runs are recorded each time a job fires; {hint}")
        return
    durations = [r.duration_s for r in runs if r.duration_s is not None]
    counts = st.columns(3)
    counts[0].metric("Runs shown", len(runs))
    counts[1].metric("Failed", sum(r.status == "failed" for r in runs))
    counts[2].metric("Median duration", duration_text(median(durations)) if durations else "none")
    st.dataframe(runs_table(runs, session.display_tz()), hide_index=True, width="stretch", key="jobs_runs")


def jobs_body() -> None:
    if not session.require_key():
        return
    ops_session.show_result()
    try:
        with st.spinner("Loading jobs…"):
            jobs = ops_session.client().jobs()
    except ApiError as exc:
        session.show_api_error(exc, "list jobs")
        return
    admin = ops_session.may("admin")
    if not jobs:
        st.info("The API lists no jobs: check that the API and the scheduler are the same version.")
    else:
        _schedule(jobs, admin)
        _runs([job.name for job in jobs])
    dead_letters_section(admin)


st.title("Jobs")
# The page's data (schedule, runs, a requested run's state, dead letters) refreshes itself
# (PLANTWATCH_DASHBOARD_REFRESH_S); widgets keep their state.
st.fragment(jobs_body, run_every=session.refresh_every())()
