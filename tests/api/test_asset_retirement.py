"""Sites and lines with MES codes, read and retired bottom-up; sensors listed, read and retired; lists
of sites and lines page by page and by creation time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.assets import hierarchy
from api.errors import ApiError
from db.engine import transaction
from db.tables import Machine
from tests.api.conftest import Fleet, auth


def test_a_line_and_a_site_are_retired_once_nothing_under_them_is_in_service(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    admin, viewer = auth(keys["admin"]), auth(keys["viewer"])
    site = client.post("/api/v1/sites", json={"name": "lyon", "external_code": "MES-SITE-LY"}, headers=admin)
    assert site.status_code == 201 and site.json()["external_code"] == "MES-SITE-LY"
    line = client.post(
        "/api/v1/lines",
        json={"site": "MES-SITE-LY", "name": "paint", "external_code": "MES-LINE-P"},
        headers=admin,
    )
    assert line.status_code == 201 and line.json()["path"] == "lyon/paint"
    machine = {"site": "lyon", "line": "paint", "name": "booth-1"}
    assert client.post("/api/v1/machines", json=machine, headers=admin).status_code == 201
    # Named by path or by MES code alike.
    assert client.get("/api/v1/lines/MES-LINE-P", headers=viewer).json()["machines"] == 1
    assert client.get("/api/v1/lines/lyon/paint", headers=viewer).json()["external_code"] == "MES-LINE-P"

    refused = client.delete("/api/v1/lines/lyon/paint", headers=admin)
    assert refused.status_code == 409 and "lyon/paint/booth-1" in refused.json()["detail"]
    refused = client.delete("/api/v1/sites/lyon", headers=admin)
    assert refused.status_code == 409 and "paint" in refused.json()["detail"]

    assert client.delete("/api/v1/machines/lyon/paint/booth-1", headers=admin).status_code == 200
    retired_line = client.delete("/api/v1/lines/MES-LINE-P", headers=admin)
    assert retired_line.status_code == 200 and retired_line.json()["retired_at"] is not None
    assert (
        client.delete("/api/v1/lines/lyon/paint", headers=admin).json() == retired_line.json()
    )  # idempotent
    # Nothing new under a retired line.
    again = client.post("/api/v1/machines", json={**machine, "name": "booth-2"}, headers=admin)
    assert again.status_code == 409 and "retired" in again.json()["detail"]

    retired_site = client.delete("/api/v1/sites/MES-SITE-LY", headers=admin)
    assert retired_site.status_code == 200 and retired_site.json()["retired_at"] is not None
    new_line = client.post("/api/v1/lines", json={"site": "lyon", "name": "weld"}, headers=admin)
    assert new_line.status_code == 409 and "retired" in new_line.json()["detail"]

    listed = client.get("/api/v1/sites", headers=viewer).json()["items"]
    assert "lyon" not in [s["name"] for s in listed]
    with_retired = client.get("/api/v1/sites", params={"include_retired": True}, headers=viewer).json()[
        "items"
    ]
    assert "lyon" in [s["name"] for s in with_retired]
    lines = client.get("/api/v1/lines", params={"site": "lyon", "include_retired": True}, headers=viewer)
    assert [(ln["path"], ln["retired_at"] is not None) for ln in lines.json()["items"]] == [
        ("lyon/paint", True)
    ]


def test_mes_codes_of_sites_and_lines_are_unique_and_can_be_changed(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    admin = auth(keys["admin"])
    assert (
        client.patch("/api/v1/sites/s1", json={"external_code": "PLANT-1"}, headers=admin).status_code == 200
    )
    taken = client.patch("/api/v1/sites/s2", json={"external_code": "PLANT-1"}, headers=admin)
    assert taken.status_code == 409 and taken.json()["error"] == "conflict"
    # The time zone stays as it was when only the code changes.
    site = client.get("/api/v1/sites/PLANT-1", headers=admin).json()
    assert (site["name"], site["timezone"], site["external_code"]) == ("s1", "UTC", "PLANT-1")
    assert client.patch("/api/v1/sites/s1", json={"timezone": None}, headers=admin).status_code == 422

    assert (
        client.patch("/api/v1/lines/s1/l1", json={"external_code": "L-1"}, headers=admin).status_code == 200
    )
    assert (
        client.patch("/api/v1/lines/s1/l2", json={"external_code": "L-1"}, headers=admin).status_code == 409
    )
    cleared = client.patch("/api/v1/lines/L-1", json={"external_code": None}, headers=admin)
    assert cleared.status_code == 200 and cleared.json()["external_code"] is None
    assert client.get("/api/v1/lines/s9/nowhere", headers=admin).status_code == 404


def test_sensors_are_listed_read_and_retired(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    admin, viewer = auth(keys["admin"]), auth(keys["viewer"])
    listed = client.get("/api/v1/machines/s1/l1/m1/sensors", headers=viewer).json()
    assert [(s["name"], s["position"]) for s in listed["items"]] == [("temperature", 1), ("vibration", 2)]
    first = client.get("/api/v1/machines/s1/l1/m1/sensors", params={"limit": 1}, headers=viewer).json()
    rest = client.get(
        "/api/v1/machines/s1/l1/m1/sensors",
        params={"limit": 1, "cursor": first["next_cursor"]},
        headers=viewer,
    ).json()
    assert [s["name"] for s in first["items"] + rest["items"]] == ["temperature", "vibration"]
    assert rest["next_cursor"] is None

    retired = client.delete("/api/v1/machines/s1/l1/m1/sensors/vibration", headers=admin)
    assert retired.status_code == 200 and retired.json()["retired_at"] is not None
    assert client.get("/api/v1/machines/s1/l1/m1/sensors/vibration", headers=viewer).json() == retired.json()
    in_service = client.get("/api/v1/machines/s1/l1/m1/sensors", headers=viewer).json()["items"]
    assert [s["name"] for s in in_service] == ["temperature"]
    # The machine still shows it, marked, and its readings stay readable.
    machine = client.get("/api/v1/machines/s1/l1/m1", headers=viewer).json()
    assert [(s["name"], s["retired_at"] is not None) for s in machine["sensors"]] == [
        ("temperature", False),
        ("vibration", True),
    ]
    readings = client.get(
        "/api/v1/machines/s1/l1/m1/readings", params={"sensor": "vibration", "bucket": "raw"}, headers=viewer
    )
    assert readings.status_code == 200
    assert client.get("/api/v1/machines/s1/l1/m1/sensors/nope", headers=viewer).status_code == 404


def test_sites_and_lines_page_by_page_and_by_creation_time(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    viewer = auth(keys["viewer"])
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/lines", params=params, headers=viewer).json()
        seen += [line["path"] for line in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert sorted(seen) == ["s1/l1", "s1/l2", "s2/l1"] and len(seen) == 3
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert client.get("/api/v1/sites", params={"since": later}, headers=viewer).json()["items"] == []
    assert len(client.get("/api/v1/sites", params={"until": later}, headers=viewer).json()["items"]) == 2
    bad = client.get("/api/v1/sites", params={"cursor": "not-a-cursor"}, headers=viewer)
    assert bad.status_code == 422 and set(bad.json()) == {"error", "detail"}


def test_a_code_cannot_take_another_sites_name_and_a_name_or_path_wins_over_a_code(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    admin = auth(keys["admin"])
    taken = client.patch("/api/v1/sites/s1", json={"external_code": "s2"}, headers=admin)
    assert taken.status_code == 409 and taken.json()["error"] == "conflict"
    assert (
        client.patch("/api/v1/sites/s1", json={"external_code": "PLANT-A"}, headers=admin).status_code == 200
    )
    clash = client.post("/api/v1/sites", json={"name": "PLANT-A"}, headers=admin)
    assert clash.status_code == 409 and "MES code" in clash.json()["detail"]
    # A line's code has no slash, so it can never read as another line's path.
    slash = client.patch("/api/v1/lines/s1/l1", json={"external_code": "s1/l2"}, headers=admin)
    assert slash.status_code == 422
    assert client.get("/api/v1/lines/s1/l2", headers=admin).json()["path"] == "s1/l2"


def test_a_machine_added_while_its_line_is_retired_waits_and_is_refused(
    fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        session.get_one(Machine, fleet.ids["s1/l2/m4"]).retired_at = datetime.now(UTC)
    outcome: list[str] = []
    retiring = session_factory()
    hierarchy.retire_line(retiring, "s1/l2")  # holds the line's row until it commits

    def add() -> None:
        with transaction(session_factory) as session:
            try:
                hierarchy.check_open_for_machines(session, "s1", "l2")
                outcome.append("added")
            except ApiError as refused:
                outcome.append(str(refused.detail))

    adding = threading.Thread(target=add)
    adding.start()
    adding.join(1.0)
    assert adding.is_alive() and outcome == [], "the addition did not wait for the retirement"
    retiring.commit()
    retiring.close()
    adding.join(10)
    assert outcome == ["line s1/l2 is retired: nothing can be added to it"]
