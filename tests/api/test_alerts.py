"""Alerts over HTTP: filters and pages, one alert with history and notifications, actions, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.base import utcnow
from db.engine import transaction
from db.repositories.assets import get_machine_by_path
from db.tables import AlertEvent, MachineEvent, Notification
from services import alerts
from tests.api.conftest import Fleet, auth

T = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _seed(factory: sessionmaker[Session], fleet: Fleet) -> dict[str, int]:
    """Five alerts over three machines and two lines, opened an hour apart, and one line alert."""
    ids: dict[str, int] = {}
    with transaction(factory) as session:
        m1, m2, m4 = (fleet.ids[p] for p in ("s1/l1/m1", "s1/l1/m2", "s1/l2/m4"))
        specs = [("a", m1, "rul_low", "warning"), ("b", m1, "sensor_stuck", "warning"),
                 ("c", m2, "rul_low", "critical"), ("d", m4, "silent", "warning"),
                 ("e", m4, "rul_low", "critical")]  # fmt: skip
        for k, (name, machine_id, rule, severity) in enumerate(specs):
            opened = T + timedelta(hours=k)
            ids[name] = alerts.raise_or_update(session, machine_id, rule, severity, f"{name} msg", opened).id
        alerts.resolve(session, ids["d"], "eve", T + timedelta(hours=6))
        line = get_machine_by_path(session, "s1/l2/m4")
        assert line is not None
        ids["q"] = alerts.raise_or_update(session, None, "quality_out_of_control", "warning", "p-chart", T,
                                          line_id=line.line_id).id  # fmt: skip
    return ids


def _ids(client: TestClient, key: str, **params: object) -> list[int]:
    response = client.get("/api/v1/alerts", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["items"]]


def test_filters_and_pages(client: TestClient, keys: dict[str, str], fleet: Fleet,
                           session_factory: sessionmaker[Session]) -> None:  # fmt: skip
    ids = _seed(session_factory, fleet)
    viewer = keys["viewer"]
    everything = _ids(client, viewer)
    assert everything == sorted(ids.values(), reverse=True)
    assert set(_ids(client, viewer, state="active")) == set(ids.values()) - {ids["d"]}
    assert _ids(client, viewer, state="resolved") == [ids["d"]]
    assert set(_ids(client, viewer, severity="critical")) == {ids["c"], ids["e"]}
    assert set(_ids(client, viewer, rule="rul_low")) == {ids["a"], ids["c"], ids["e"]}
    assert set(_ids(client, viewer, line="s1/l2")) == {ids["d"], ids["e"], ids["q"]}, "the line's own too"
    assert set(_ids(client, viewer, machine="MES-0001")) == {ids["a"], ids["b"]}
    window = {
        "opened_after": (T + timedelta(hours=1)).isoformat(),
        "opened_before": (T + timedelta(hours=3)).isoformat(),
    }
    assert set(_ids(client, viewer, **window)) == {ids["b"], ids["c"]}
    first = client.get("/api/v1/alerts", params={"limit": 4}, headers=auth(viewer)).json()
    second = client.get(
        "/api/v1/alerts", params={"limit": 4, "cursor": first["next_cursor"]}, headers=auth(viewer)
    ).json()
    pages = [a["id"] for a in first["items"]] + [a["id"] for a in second["items"]]
    assert pages == everything and second["next_cursor"] is None
    item = first["items"][0]
    assert item["line"] and "history" not in item
    line_alert = client.get(f"/api/v1/alerts/{ids['q']}", headers=auth(viewer)).json()
    assert (line_alert["machine"], line_alert["line"]) == (None, "s1/l2")
    for params in (
        {"state": "gone"},
        {"limit": 0},
        {"cursor": "nonsense"},
        {"line": "nope"},
        {"opened_after": "x"},
    ):
        bad = client.get("/api/v1/alerts", params=params, headers=auth(viewer))
        assert bad.status_code == 422 and set(bad.json()) == {"error", "detail"}, (params, bad.text)
    assert client.get("/api/v1/alerts", params={"machine": "x/y/z"}, headers=auth(viewer)).status_code == 404


def test_actions_write_history_with_the_keys_name(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    ids = _seed(session_factory, fleet)
    engineer = auth(keys["engineer"])
    a = ids["a"]

    def post(path: str, body: dict, status: int = 200, headers: dict[str, str] = engineer) -> dict:
        response = client.post(f"/api/v1/alerts/{a}/{path}", json=body, headers=headers)
        assert response.status_code == status, response.text
        return response.json()

    acked = post("acknowledge", {"comment": "on it"})
    assert (acked["state"], acked["acknowledged_by"], acked["comment"]) == (
        "acknowledged",
        "engineer-key",
        "on it",
    )
    assert post("acknowledge", {}, 409)["error"]
    post("comments", {"comment": "bearing noise"})
    post("comments", {}, 422)
    shelved = post("shelve", {"minutes": 30})
    assert shelved["shelved_by"] == "engineer-key"
    assert set(_ids(client, keys["viewer"], shelved=True)) == {a}
    post("shelve", {"minutes": 30, "until": utcnow().isoformat()}, 422)
    post("shelve", {"until": (utcnow() - timedelta(hours=1)).isoformat()}, 409)
    unshelved = client.delete(f"/api/v1/alerts/{a}/shelve", headers=engineer)
    assert unshelved.status_code == 200 and unshelved.json()["shelved_until"] is None
    assert client.delete(f"/api/v1/alerts/{a}/shelve", headers=engineer).status_code == 409
    resolved = post("resolve", {"comment": "bearing replaced"})
    assert (resolved["state"], resolved["resolved_by"]) == ("resolved", "engineer-key")
    assert post("resolve", {}, 409)["error"]
    assert [(h["kind"], h["actor"]) for h in resolved["history"]] == [
        ("opened", "system"), ("acknowledged", "engineer-key"), ("commented", "engineer-key"),
        ("shelved", "engineer-key"), ("unshelved", "engineer-key"), ("resolved", "engineer-key"),
    ]  # fmt: skip
    with transaction(session_factory) as session:
        event_id = session.scalars(select(AlertEvent.id).where(AlertEvent.alert_id == a)).first()
        session.add(Notification(alert_id=a, alert_event_id=event_id, channel="webhook", target="http://x",
                                 payload={}, status="failed", attempts=8, last_error="refused"))  # fmt: skip
    detail = client.get(f"/api/v1/alerts/{a}", headers=auth(keys["viewer"])).json()
    assert detail["notifications"][0] | {"created_at": None} == {
        "channel": "webhook", "target": "http://x", "status": "failed", "attempts": 8,
        "last_error": "refused", "created_at": None, "sent_at": None,
    }  # fmt: skip
    missing = client.post("/api/v1/alerts/999999/acknowledge", json={}, headers=engineer)
    assert missing.status_code == 404 and set(missing.json()) == {"error", "detail"}


def test_outcomes_from_the_mes(client: TestClient, keys: dict[str, str], fleet: Fleet,
                               session_factory: sessionmaker[Session]) -> None:  # fmt: skip
    ids = _seed(session_factory, fleet)
    mes = auth(keys["mes"])
    body = {
        "outcome": "fault_found",
        "fault_code": "BRG-12",
        "work_order_id": "WO-9",
        "done_at": T.isoformat(),
    }
    found = client.post(f"/api/v1/alerts/{ids['c']}/outcome", json=body, headers=mes)
    assert found.status_code == 200, found.text
    assert (found.json()["state"], found.json()["outcome"], found.json()["fault_code"]) == (
        "resolved", "fault_found", "BRG-12",
    )  # fmt: skip
    again = client.post(f"/api/v1/alerts/{ids['c']}/outcome", json=body, headers=mes)
    assert again.status_code == 409
    no_code = client.post(f"/api/v1/alerts/{ids['e']}/outcome", json={"outcome": "fault_found"}, headers=mes)
    assert no_code.status_code == 422
    line_alert = client.post(
        f"/api/v1/alerts/{ids['q']}/outcome", json={"outcome": "no_fault_found"}, headers=mes
    )
    assert line_alert.status_code == 409
    future = {"outcome": "part_replaced", "done_at": (utcnow() + timedelta(days=2)).isoformat()}
    assert client.post(f"/api/v1/alerts/{ids['e']}/outcome", json=future, headers=mes).status_code == 409
    with transaction(session_factory) as session:
        events = session.scalars(select(MachineEvent)).all()
        assert [(e.kind, e.ts, e.work_order_id, e.created_by) for e in events] == [
            ("maintenance", T, "WO-9", "mes-key")
        ]


def test_roles(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    a = _seed(session_factory, fleet)["a"]
    writes: list[tuple[str, str, dict[str, object] | None]] = [
        ("post", f"/api/v1/alerts/{a}/acknowledge", {}),
        ("post", f"/api/v1/alerts/{a}/resolve", {}),
        ("post", f"/api/v1/alerts/{a}/comments", {"comment": "x"}),
        ("post", f"/api/v1/alerts/{a}/shelve", {"minutes": 5}),
        ("delete", f"/api/v1/alerts/{a}/shelve", None),
    ]
    for role in ("viewer", "mes"):
        for method, path, body in writes:
            response = client.request(method, path, headers=auth(keys[role]), json=body)
            assert response.status_code == 403, (role, path, response.text)
    viewer_outcome = client.post(f"/api/v1/alerts/{a}/outcome", json={"outcome": "no_fault_found"},
                                 headers=auth(keys["viewer"]))  # fmt: skip
    assert viewer_outcome.status_code == 403
    for method, path, body in [
        *writes,
        ("get", "/api/v1/alerts", None),
        ("get", f"/api/v1/alerts/{a}", None),
    ]:
        assert client.request(method, path, json=body).status_code == 401
