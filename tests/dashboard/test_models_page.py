"""The Models page against a real API: versions, champion, decisions and curves; promote, roll back
and retrain as an admin change what the API returns; other roles see the buttons disabled."""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from dashboard.ops_client import OpsClient
from db.engine import transaction
from db.tables import JobRequest, ModelVersion
from plantwatch.embedded import free_port
from plantwatch.settings import get_settings
from services import model_registry
from services.api_keys import create_key
from services.job_requests import JOB_NAMES
from tests.dashboard.conftest import ApiServer, Seed, app_test, charts_of

HISTORY = {"loss": [0.9, 0.5, 0.3], "val_loss": [1.0, 0.7, 0.6]}


def _register(session: Session, kind: str, scope: str, metrics: dict[str, Any], machines: list[str]) -> int:
    row = model_registry.register_version(
        session, kind=kind, scope=scope, metrics=metrics, params={"config": {"epochs": 3}},
        data_start=None, data_end=None, artifact_path=None, artifact_sha256=None,
        evaluation_machines=machines,
    )  # fmt: skip
    model_registry.promote_if_better(session, row, "rmse" if kind == "rul" else "error_rate")
    return row.id


@pytest.fixture
def versions(dashboard_env: Seed, session_factory: sessionmaker[Session]) -> dict[str, Any]:
    """rul/pump v1 (champion), v2 (a candidate evaluated elsewhere, with a training history);
    qc/plant-a/press v1 (champion); and an admin key."""
    with transaction(session_factory) as session:
        ids: dict[str, Any] = {
            "v1": _register(session, "rul", "pump", {"rmse": 20.0, "mae": 15.0}, ["m1"]),
            "v2": _register(session, "rul", "pump", {"rmse": 18.0, "mae": 14.0, "history": HISTORY}, ["m2"]),
            "qc": _register(session, "qc", "plant-a/press", {"error_rate": 0.1, "accuracy": 0.9}, ["1"]),
        }
        ids["admin_key"] = create_key(session, "dash-admin", "admin")[1]
    return ids


def models_page(key: str | None = None) -> AppTest:
    at = app_test()
    if key:
        at.session_state["pw_api_key"] = key
    at.run()
    return at.switch_page("views/models.py").run()


def statuses(session_factory: sessionmaker[Session]) -> dict[int, str]:
    with transaction(session_factory) as session:
        return dict(session.execute(select(ModelVersion.id, ModelVersion.status)).tuples().all())


def version_tables(at: AppTest) -> list[pd.DataFrame]:
    return [frame.value for frame in at.dataframe if "decision" in frame.value.columns]


def pick(at: AppTest, version_id: int) -> AppTest:
    box = at.selectbox(key="models_version")
    return box.select(next(o for o in box.options if o.endswith(f"(#{version_id})"))).run()


def test_versions_champion_decisions_and_curves(versions: dict[str, Any]) -> None:
    at = models_page()

    assert not at.exception
    assert [s.value for s in at.subheader] == ["QC · plant-a/press", "RUL · pump", "Actions"]
    qc, pump = version_tables(at)
    assert list(pump["version"]) == ["v2", "v1"]
    assert list(pump["status"]) == ["🆕 candidate", "👑 champion"]
    assert list(pump["rmse"]) == [18.0, 20.0] and list(pump["mae"]) == [14.0, 15.0]
    assert pump["decision"][0].startswith("evaluated on other machines than champion v1")
    assert pump["decision"][1] == "no champion yet"
    assert list(qc["error_rate"]) == [0.1] and "rmse" not in qc.columns
    assert {m.label: m.value for m in at.metric} == {"Versions": "3", "Champions": "2", "Candidates": "1"}
    # The first version listed (qc) has no history: no curves, and the page says why.
    assert not charts_of(at) and "no per-epoch history" in at.info[0].value

    pick(at, versions["v2"])
    (chart,) = charts_of(at)
    curves = chart.data["curves"]
    assert {name: list(rows["value"]) for name, rows in curves.groupby("series", sort=False)} == HISTORY

    at.selectbox(key="models_kind").select("QC (per line)").run()
    assert at.subheader[0].value == "QC · plant-a/press" and len(version_tables(at)) == 1


def test_admin_promotes_rolls_back_and_retrains(
    versions: dict[str, Any], session_factory: sessionmaker[Session], api_server: ApiServer
) -> None:
    at = models_page(versions["admin_key"])
    pick(at, versions["v2"])

    at.button(key="models_promote").click().run()
    assert not at.exception and at.success[0].value == "rul pump v2 is now the champion."
    found = statuses(session_factory)
    assert (found[versions["v1"]], found[versions["v2"]]) == ("retired", "champion")
    assert list(version_tables(at)[1]["status"]) == ["👑 champion", "💤 retired"]

    at.button(key="models_rollback").click().run()
    assert at.success[0].value == "Rolled back: rul pump v1 is the champion again."
    listed = httpx.get(
        f"{api_server.url}/api/v1/models",
        params={"kind": "rul"},
        headers={"X-API-Key": versions["admin_key"]},
    ).json()["items"]
    assert {(v["version"], v["status"]) for v in listed} == {(1, "champion"), (2, "retired")}

    at.text_input(key="models_retrain_scope").input("pump")
    at.button(key="models_retrain_submit").click().run()
    assert "Retraining requested (job request #" in at.success[0].value
    with transaction(session_factory) as session:
        (request,) = session.scalars(select(JobRequest)).all()
        assert (request.job_name, request.params, request.requested_by) == ("train_rul", {"scope": "pump"},
                                                                          "dash-admin")  # fmt: skip


def test_an_engineer_sees_the_buttons_disabled_with_a_note(
    versions: dict[str, Any], dashboard_env: Seed, api_server: ApiServer
) -> None:
    at = models_page()
    pick(at, versions["v2"])

    for key in ("models_promote", "models_rollback", "models_retrain_submit"):
        assert at.button(key=key).disabled
    assert any(
        "promoting, rolling back and retraining needs an admin key" in caption.value for caption in at.caption
    )
    # As the API would answer the engineer's key.
    refused = httpx.post(
        f"{api_server.url}/api/v1/models/{versions['v2']}/promote",
        headers={"X-API-Key": dashboard_env.engineer_key},
    )
    assert refused.status_code == 403


def test_no_versions_says_how_to_train_and_api_down_says_to_start_it(
    dashboard_env: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = models_page()
    assert at.info[0].value.startswith("No model versions yet: the nightly trainings register them")
    assert at.button(key="models_retrain_submit").disabled

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("PLANTWATCH_API_URL", url)
    get_settings.cache_clear()
    at = models_page()
    assert at.error[0].value.startswith(f"Cannot reach the plantwatch API at {url}")


def test_the_client_follows_the_cursor_through_every_version_and_job(
    versions: dict[str, Any], dashboard_env: Seed, api_server: ApiServer
) -> None:
    client = OpsClient(api_server.url, dashboard_env.engineer_key)
    listed = client.model_versions(page_size=1)  # a page per version
    assert [v.id for v in listed] == [versions["qc"], versions["v2"], versions["v1"]]  # newest first
    assert [v.id for v in client.model_versions(kind="rul", page_size=1)] == [versions["v2"], versions["v1"]]
    assert [job.name for job in client.jobs(page_size=5)] == sorted(JOB_NAMES)
