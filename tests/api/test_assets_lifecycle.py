"""Creating sites, lines, machines and sensors over HTTP, listing them, and retiring a machine."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Fleet, auth


def test_admin_creates_a_site_a_line_and_a_machine_with_sensors(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    admin = auth(keys["admin"])
    site = client.post("/api/v1/sites", json={"name": "berlin", "timezone": "Europe/Berlin"}, headers=admin)
    assert site.status_code == 201 and site.json() == {
        "name": "berlin",
        "timezone": "Europe/Berlin",
        "external_code": None,
        "lines": [],
        "retired_at": None,
    }
    assert client.post("/api/v1/sites", json={"name": "berlin"}, headers=admin).status_code == 409
    line = client.post("/api/v1/lines", json={"site": "berlin", "name": "press"}, headers=admin)
    assert line.status_code == 201 and line.json()["path"] == "berlin/press"
    assert (
        client.post("/api/v1/lines", json={"site": "nowhere", "name": "x"}, headers=admin).status_code == 404
    )

    body = {
        "site": "berlin",
        "line": "press",
        "name": "p1",
        "machine_type": "hydraulic-press",
        "external_code": "MES-P1",
        "sensors": [
            {"name": "pressure", "unit": "bar", "normal_min": 10, "normal_max": 200},
            {"name": "temp"},
        ],
    }
    made = client.post("/api/v1/machines", json=body, headers=admin)
    assert made.status_code == 201, made.text
    machine = made.json()
    assert (machine["path"], machine["machine_type"], machine["external_code"]) == (
        "berlin/press/p1",
        "hydraulic-press",
        "MES-P1",
    )
    assert [(s["name"], s["position"], s["unit"], s["normal_max"]) for s in machine["sensors"]] == [
        ("pressure", 1, "bar", 200.0),
        ("temp", 2, None, None),
    ]
    assert client.post("/api/v1/machines", json=body, headers=admin).status_code == 409
    assert client.get("/api/v1/machines/MES-P1", headers=auth(keys["viewer"])).json()["id"] == machine["id"]

    added = client.post(
        "/api/v1/machines/berlin/press/p1/sensors", json={"name": "flow", "unit": "l/min"}, headers=admin
    )
    assert added.status_code == 201 and [s["name"] for s in added.json()["sensors"]] == [
        "pressure",
        "temp",
        "flow",
    ]
    again = client.post("/api/v1/machines/berlin/press/p1/sensors", json={"name": "flow"}, headers=admin)
    assert again.status_code == 409

    sites = client.get("/api/v1/sites", headers=auth(keys["viewer"])).json()["items"]
    assert {s["name"]: s["lines"] for s in sites} == {"berlin": ["press"], "s1": ["l1", "l2"], "s2": ["l1"]}
    lines = client.get("/api/v1/lines", params={"site": "s1"}, headers=auth(keys["viewer"])).json()["items"]
    assert [(ln["path"], ln["machines"]) for ln in lines] == [("s1/l1", 3), ("s1/l2", 1)]
    assert (
        client.get("/api/v1/sites/berlin", headers=auth(keys["viewer"])).json()["timezone"] == "Europe/Berlin"
    )


def test_bad_asset_bodies_are_refused(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    admin = auth(keys["admin"])
    for body in (
        {"site": "s1", "line": "l1", "name": "has/slash"},
        {
            "site": "s1",
            "line": "l1",
            "name": "m9",
            "sensors": [{"name": "t", "normal_min": 5, "normal_max": 1}],
        },
        {"site": "s1", "line": "l1", "name": "m9", "colour": "red"},
    ):
        answer = client.post("/api/v1/machines", json=body, headers=admin)
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_request", body
    assert (
        client.post(
            "/api/v1/sites", json={"name": "x", "timezone": "Mars/Olympus"}, headers=admin
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/machines", json={"site": "s", "line": "l", "name": "m"}, headers=auth(keys["engineer"])
        ).status_code
        == 403
    )


def test_retiring_a_machine_keeps_it_readable_but_out_of_the_lists(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    admin, viewer = auth(keys["admin"]), auth(keys["viewer"])
    retired = client.delete("/api/v1/machines/s1/l1/m3", headers=admin)
    assert retired.status_code == 200 and retired.json()["retired_at"] is not None
    assert (
        client.delete("/api/v1/machines/s1/l1/m3", headers=admin).json()["retired_at"]
        == retired.json()["retired_at"]
    )
    listed = [m["path"] for m in client.get("/api/v1/machines", headers=viewer).json()["items"]]
    assert "s1/l1/m3" not in listed and "s1/l1/m2" in listed
    assert client.get("/api/v1/machines/s1/l1/m3", headers=viewer).json()["retired_at"] is not None
    assert client.delete("/api/v1/machines/s1/l1/nope", headers=admin).status_code == 404
