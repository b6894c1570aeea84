"""Jobs over HTTP: the API records a request, the scheduler's poller runs it, the API shows the run."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from jobs.requests import run_next_request
from plantwatch.settings import Settings
from tests.api.conftest import auth


def test_admin_requests_a_job_and_the_scheduler_runs_it(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session], api_settings: Settings
) -> None:
    response = client.post("/api/v1/jobs/partition_upkeep/requests", headers=auth(keys["admin"]), json={})
    assert response.status_code == 202, response.text
    request = response.json()
    assert request["job_name"] == "partition_upkeep" and request["picked_at"] is None
    assert request["requested_by"] == "admin-key"

    served = run_next_request(session_factory, api_settings)
    assert served is not None

    after = client.get(f"/api/v1/jobs/requests/{request['id']}", headers=auth(keys["viewer"])).json()
    assert after["picked_at"] is not None
    assert after["run"]["status"] == "succeeded" and after["run"]["trigger"] == "request"
    runs = client.get("/api/v1/jobs/runs?job=partition_upkeep", headers=auth(keys["viewer"])).json()
    assert [run["id"] for run in runs["items"]] == [after["run"]["id"]]
    jobs = {
        job["name"]: job for job in client.get("/api/v1/jobs", headers=auth(keys["viewer"])).json()["items"]
    }
    assert jobs["partition_upkeep"]["last_run"]["id"] == after["run"]["id"]
    assert jobs["silent_machines"]["last_run"] is None
    # Schedules: the next firing on each job's grid; jobs run on request only have none.
    daily = jobs["partition_upkeep"]
    assert daily["every_s"] == 86400 and daily["next_run_at"].endswith("T00:15:00Z")
    assert jobs["train_rul"]["params"] == {"local_hour": api_settings.rul_train_hour}
    on_request = jobs["classify_inspections"]
    assert (on_request["every_s"], on_request["next_run_at"]) == (None, None)


def test_only_admins_request_jobs_and_names_are_checked(client: TestClient, keys: dict[str, str]) -> None:
    for role in ("viewer", "engineer", "mes"):
        response = client.post("/api/v1/jobs/partition_upkeep/requests", headers=auth(keys[role]))
        assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert client.post("/api/v1/jobs/partition_upkeep/requests").status_code == 401
    unknown = client.post("/api/v1/jobs/make_coffee/requests", headers=auth(keys["admin"]))
    assert unknown.status_code == 404 and "known jobs" in unknown.json()["detail"]
    extra = client.post("/api/v1/jobs/rollups/requests", headers=auth(keys["admin"]), json={"x": 1})
    assert extra.status_code == 422
    missing = client.get("/api/v1/jobs/requests/999999", headers=auth(keys["viewer"]))
    assert missing.status_code == 404


def test_runs_page_through_a_cursor(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session], api_settings: Settings
) -> None:
    for _ in range(3):
        client.post("/api/v1/jobs/partition_upkeep/requests", headers=auth(keys["admin"]))
        assert run_next_request(session_factory, api_settings) is not None
    first = client.get("/api/v1/jobs/runs?limit=2", headers=auth(keys["viewer"])).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(
        f"/api/v1/jobs/runs?limit=2&cursor={first['next_cursor']}", headers=auth(keys["viewer"])
    )
    ids = [run["id"] for run in first["items"] + rest.json()["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3
