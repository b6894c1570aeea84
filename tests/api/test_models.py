"""The model registry over HTTP: versions with metrics, promote, rollback, and retraining requested
from the scheduler (never run in the web process)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from services import model_registry
from tests.api.conftest import auth


def _versions(factory: sessionmaker[Session], rmses: list[float]) -> list[int]:
    ids = []
    with transaction(factory) as session:
        for rmse in rmses:
            row = model_registry.register_version(
                session, kind="rul", scope="press", metrics={"rmse": rmse}, params={}, data_start=None,
                data_end=None, artifact_path=None, artifact_sha256=None, evaluation_machines=["a", "b"],
            )  # fmt: skip
            model_registry.promote_if_better(session, row)
            ids.append(row.id)
    return ids


def test_list_promote_and_rollback(
    client: TestClient, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    first, second, worse = _versions(session_factory, [20.0, 15.0, 30.0])
    listed = client.get("/api/v1/models?kind=rul&scope=press", headers=auth(keys["viewer"])).json()["items"]
    status = {v["id"]: v["status"] for v in listed}
    assert status == {first: "retired", second: "champion", worse: "candidate"}
    assert next(v for v in listed if v["id"] == worse)["metrics"] == {"rmse": 30.0}

    promoted = client.post(f"/api/v1/models/{worse}/promote", headers=auth(keys["admin"]))
    assert promoted.status_code == 200 and promoted.json()["status"] == "champion"
    back = client.post("/api/v1/models/rollback", headers=auth(keys["admin"]), json={"scope": "press"})
    assert back.status_code == 200 and back.json()["id"] == second
    listed = client.get("/api/v1/models", headers=auth(keys["viewer"])).json()["items"]
    assert {v["id"]: v["status"] for v in listed}[second] == "champion"


def test_registry_errors_and_roles(client: TestClient, keys: dict[str, str]) -> None:
    assert client.post("/api/v1/models/1/promote", headers=auth(keys["engineer"])).status_code == 403
    missing = client.post("/api/v1/models/999/promote", headers=auth(keys["admin"]))
    assert missing.status_code == 404 and set(missing.json()) == {"error", "detail"}
    nothing = client.post("/api/v1/models/rollback", headers=auth(keys["admin"]), json={"scope": "none"})
    assert nothing.status_code == 409
    assert client.get("/api/v1/models?kind=xyz", headers=auth(keys["viewer"])).status_code == 422


def test_retraining_is_a_job_request(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post("/api/v1/models/rul/retrain", headers=auth(keys["admin"]), json={"scope": "press"})
    assert response.status_code == 202, response.text
    request = response.json()
    assert request["job_name"] == "train_rul" and request["params"] == {"scope": "press"}
    assert request["picked_at"] is None
    assert client.post("/api/v1/models/rul/retrain", headers=auth(keys["viewer"])).status_code == 403
    qc = client.post("/api/v1/models/qc/retrain", headers=auth(keys["admin"]), json={"scope": "plant/paint"})
    assert qc.status_code == 202 and qc.json()["job_name"] == "train_qc"
    unknown = client.post("/api/v1/models/vibes/retrain", headers=auth(keys["admin"]))
    assert unknown.status_code == 422 and unknown.json()["error"]
