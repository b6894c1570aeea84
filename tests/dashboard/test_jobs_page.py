"""The Jobs page against a real API: schedule, recent runs with durations and errors, "run now",
and dead letters with their replay; actions change what the API returns afterwards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from db.engine import transaction
from db.tables import DeadLetter, JobRun
from plantwatch.embedded import free_port
from plantwatch.settings import get_settings
from services import job_requests
from services.api_keys import create_key
from tests.dashboard.conftest import ApiServer, Seed, api, app_test

NO_FAILURE = "InsufficientDataError: no machine has a recorded failure"


@pytest.fixture
def history(dashboard_env: Seed, session_factory: sessionmaker[Session]) -> dict[str, Any]:
    """Three runs (rollups succeeded in 2.5 s, train_rul failed after 65 s, score_machines running),
    three dead letters (two not_json, one of them replayed; one unknown_sensor), and an admin key."""
    now = dashboard_env.now
    with transaction(session_factory) as session:
        hour_ago, ten_min_ago = now - timedelta(hours=1), now - timedelta(minutes=10)
        runs = [
            JobRun(job_name="train_rul", scheduled_for=hour_ago, started_at=hour_ago,
                   finished_at=hour_ago + timedelta(seconds=65), status="failed", error=NO_FAILURE,
                   trigger="request"),
            JobRun(job_name="rollups", scheduled_for=ten_min_ago, started_at=ten_min_ago,
                   finished_at=ten_min_ago + timedelta(seconds=2.5), status="succeeded"),
            JobRun(job_name="score_machines", scheduled_for=now - timedelta(seconds=5),
                   started_at=now - timedelta(seconds=5), status="running"),
        ]  # fmt: skip
        letters = [
            DeadLetter(topic="plantwatch/v1/a/b/c/telemetry", payload=b"{oops", reason="not_json",
                       detail="not JSON: Expecting property name", received_at=now - timedelta(minutes=3)),
            DeadLetter(topic="plantwatch/v1/a/b/c/telemetry", payload=b"nope", reason="not_json",
                       detail="not JSON", received_at=now - timedelta(minutes=2), replayed_at=now),
            DeadLetter(topic="plantwatch/v1/a/b/d/telemetry", payload=b'{"ts": 1}', reason="unknown_sensor",
                       detail="sensor x is not registered", received_at=now - timedelta(minutes=1)),
        ]  # fmt: skip
        session.add_all([*runs, *letters])
        session.flush()
        return {
            "runs": {run.job_name: run.id for run in runs},
            "letters": [letter.id for letter in letters],
            "admin_key": create_key(session, "dash-admin", "admin")[1],
        }


def jobs_page(key: str | None = None) -> AppTest:
    at = app_test()
    if key:
        at.session_state["pw_api_key"] = key
    at.run()
    return at.switch_page("views/jobs.py").run()


def table(at: AppTest, column: str) -> pd.DataFrame:
    """The first table with `column` (AppTest does not expose the keys of dataframes)."""
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def test_schedule_and_recent_runs_with_durations_errors_and_filters(
    history: dict[str, Any], api_server: ApiServer, dashboard_env: Seed
) -> None:
    at = jobs_page()

    assert not at.exception
    schedule = table(at, "next run").set_index("job")
    assert list(schedule.index) == [
        job["name"] for job in api(api_server, dashboard_env.engineer_key, "/jobs")["items"]
    ]
    assert schedule.loc["rollups", "schedule"] == "every 1 min" and schedule.loc["rollups", "next run"]
    assert schedule.loc["rollups", "last run"] == "✅ succeeded"
    assert schedule.loc["rollups", "last duration"] == "2.5 s"
    assert schedule.loc["train_rul", "params"] == "local_hour=2"
    assert schedule.loc["train_rul", "last error"] == NO_FAILURE
    assert schedule.loc["classify_inspections", "schedule"] == "on request only"
    assert schedule.loc["classify_inspections", "next run"] == ""
    assert schedule.loc["retention", "last run"] == "never"

    runs = table(at, "trigger")
    assert list(runs["job"]) == ["score_machines", "rollups", "train_rul"]
    assert list(runs["duration"]) == ["", "2.5 s", "1 min 5 s"]
    assert list(runs["error"]) == ["", "", NO_FAILURE]
    assert {m.label: m.value for m in at.metric}["Failed"] == "1"

    at.selectbox(key="jobs_runs_status").select("Failed").run()
    assert list(table(at, "trigger")["id"]) == [history["runs"]["train_rul"]]
    at.selectbox(key="jobs_runs_job").select("rollups").run()
    assert "No job run matches" in at.info[0].value


def test_admin_runs_a_job_now_and_follows_the_request(
    history: dict[str, Any], api_server: ApiServer, session_factory: sessionmaker[Session]
) -> None:
    at = jobs_page(history["admin_key"])
    at.selectbox(key="jobs_run_pick").select("retention")
    at.button(key="jobs_run_now").click().run()

    assert not at.exception and at.success[0].value.startswith(
        "Asked the scheduler to run retention now (request #"
    )
    request_id = int(at.session_state["jobs_last_request"])
    request = api(api_server, history["admin_key"], f"/jobs/requests/{request_id}")
    assert (request["job_name"], request["requested_by"], request["picked_at"]) == (
        "retention",
        "dash-admin",
        None,
    )
    queued = f"Request #{request_id} (retention) is queued: the scheduler has not picked it up yet."
    assert queued in [c.value for c in at.caption]

    # The scheduler takes it and records a run that fails; the page follows.
    with transaction(session_factory) as session:
        (claimed,) = job_requests.claim_pending(session, 10)
        asked = claimed.requested_at
        run = JobRun(job_name="retention", scheduled_for=asked, started_at=asked, trigger="request",
                     finished_at=asked + timedelta(seconds=3), status="failed",
                     error="disk full")  # fmt: skip
        session.add(run)
        session.flush()
        job_requests.record_run(session, claimed.id, run.id)
    at.button(key="jobs_check_request").click().run()
    assert any(c.value == f"Request #{request_id} (retention) failed in 3.0 s: disk full" for c in at.caption)
    assert table(at, "trigger")["job"][0] == "retention"


def test_dead_letters_with_reasons_and_replay(history: dict[str, Any], api_server: ApiServer) -> None:
    at = jobs_page(history["admin_key"])

    shown = {m.label: m.value for m in at.metric}
    assert (shown["Dead letters"], shown["Not replayed"], shown["Replayed"]) == ("3", "2", "1")
    reasons = table(at, "not replayed")
    assert list(zip(reasons["reason"], reasons["not replayed"], reasons["total"], strict=True)) == [
        ("not_json", 1, 2), ("unknown_sensor", 1, 1)]  # fmt: skip
    letters = table(at, "payload")
    first, _replayed, unknown = history["letters"]
    assert list(letters["id"]) == [unknown, first]  # not replayed ones, newest first
    assert list(letters["reason"]) == ["unknown_sensor", "not_json"]
    assert list(letters["payload"]) == ['{"ts": 1}', "{oops"]

    at.multiselect(key="dead_letters_ids").select(unknown)
    at.button(key="dead_letters_replay_ids").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("1 dead letters marked; an ingestor replays them")
    assert at.multiselect(key="dead_letters_ids").options == [str(first)]
    listed = api(api_server, history["admin_key"], "/dead-letters", replayed="false")["items"]
    assert {item["id"]: item["replay_requested_at"] is not None for item in listed} == {
        unknown: True,
        first: False,
    }

    at.selectbox(key="dead_letters_reason").select("not_json").run()
    at.button(key="dead_letters_replay_reason").click().run()
    assert at.success[0].value.startswith("1 dead letters marked")
    summary = api(api_server, history["admin_key"], "/dead-letters/summary")
    assert summary["replay_requested"] == 2
    assert table(at, "payload")["replay"][0] == "replay requested"


def test_roles_disable_what_they_may_not_do(history: dict[str, Any], dashboard_env: Seed) -> None:
    at = jobs_page()  # engineer
    assert at.button(key="jobs_run_now").disabled and at.button(key="dead_letters_replay_ids").disabled
    notes = [c.value for c in at.caption]
    assert any("running a job now needs an admin key" in n for n in notes)
    assert any("replaying dead letters needs an admin key" in n for n in notes)

    at = jobs_page(dashboard_env.viewer_key)
    assert not at.exception and table(at, "next run") is not None
    assert not at.error  # a viewer reads the dead letters too; replaying them needs an admin
    assert at.button(key="dead_letters_replay_ids").disabled


def test_empty_states_and_api_down(dashboard_env: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    at = jobs_page()
    infos = [i.value for i in at.info]
    assert infos == [
        "No job run matches: runs are recorded each time a job fires; is `plantwatch scheduler` running?",
        "No dead letters: ingest has accepted every message it received.",
    ]
    assert table(at, "next run")["last run"].eq("never").all()

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("PLANTWATCH_API_URL", url)
    get_settings.cache_clear()
    at = jobs_page()
    assert at.error[0].value.startswith(f"Cannot reach the plantwatch API at {url}")


def test_runs_render_with_auto_refresh_on(history: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTWATCH_DASHBOARD_REFRESH_S", "10")
    get_settings.cache_clear()
    at = jobs_page()
    assert not at.exception
    assert list(table(at, "trigger")["job"]) == ["score_machines", "rollups", "train_rul"]
