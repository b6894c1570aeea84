"""Machines over HTTP: list with filters and cursor pages, one machine by id/path/code, readings."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.machines.schemas import MachineOut
from api.pagination import Page
from db.engine import transaction
from tests.api.conftest import T0, Fleet, auth, insert_readings


def test_list_machines_shows_sensors_and_latest_reading(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    response = client.get("/api/v1/machines", headers=auth(keys["viewer"]))
    assert response.status_code == 200
    body = response.json()
    assert [m["path"] for m in body["items"]] == list(fleet.ids)
    assert body["next_cursor"] is None
    m1 = body["items"][0]
    assert m1["id"] == fleet.ids["s1/l1/m1"]
    assert (m1["site"], m1["line"], m1["name"], m1["external_code"]) == ("s1", "l1", "m1", "MES-0001")
    assert m1["sensors"] == [
        {"name": "temperature", "position": 1, "unit": "degC", "normal_min": 20.0, "normal_max": 80.0,
         "retired_at": None},
        {"name": "vibration", "position": 2, "unit": None, "normal_min": None, "normal_max": None,
         "retired_at": None},
    ]  # fmt: skip
    # The newest reading is minute 59: vibration is absent (odd minute), so null.
    assert m1["latest"] == {"ts": "2024-05-01T08:59:00Z", "values": {"temperature": 59.0, "vibration": None}}
    assert body["items"][1]["latest"] is None
    assert body["items"][1]["sensors"] == []
    # The page is written from rows, not from models: it must still be what the schema writes.
    assert Page[MachineOut].model_validate(body).model_dump(mode="json") == body
    assert response.text == Page[MachineOut].model_validate_json(response.text).model_dump_json()


def test_a_value_that_is_not_a_number_is_listed_as_null(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    # Ingest refuses NaN; a value written by other means must not make the list invalid JSON.
    with transaction(session_factory) as session:
        insert_readings(session, fleet.ids["s1/l1/m1"], [(T0 + timedelta(hours=2), [float("nan"), 1.5])])
    response = client.get("/api/v1/machines", params={"limit": 1}, headers=auth(keys["viewer"]))
    assert response.status_code == 200
    assert response.json()["items"][0]["latest"]["values"] == {"temperature": None, "vibration": 1.5}


def test_list_machines_pages_with_a_cursor(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/api/v1/machines", params=params, headers=auth(keys["viewer"])).json()
        assert len(body["items"]) <= 2
        seen += [m["path"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(fleet.ids)
    assert pages == 3


def test_a_full_last_page_has_no_cursor(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    body = client.get("/api/v1/machines", params={"limit": 5}, headers=auth(keys["viewer"])).json()
    assert len(body["items"]) == 5
    assert body["next_cursor"] is None


def test_list_machines_filters_by_site_and_line(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    def paths(**params: str) -> list[str]:
        response = client.get("/api/v1/machines", params=params, headers=auth(keys["viewer"]))
        assert response.status_code == 200
        return [m["path"] for m in response.json()["items"]]

    assert paths(site="s1") == ["s1/l1/m1", "s1/l1/m2", "s1/l1/m3", "s1/l2/m4"]
    assert paths(line="l1") == ["s1/l1/m1", "s1/l1/m2", "s1/l1/m3", "s2/l1/m5"]
    assert paths(site="s2", line="l1") == ["s2/l1/m5"]
    assert paths(site="nowhere") == []


def test_limit_above_the_page_maximum_is_refused(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    # api_settings sets api_max_page=50.
    response = client.get("/api/v1/machines", params={"limit": 51}, headers=auth(keys["viewer"]))
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert "50" in str(response.json()["detail"])
    assert (
        client.get("/api/v1/machines", params={"limit": 50}, headers=auth(keys["viewer"])).status_code == 200
    )


def test_get_machine_by_id_path_and_external_code(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    m1 = fleet.ids["s1/l1/m1"]
    # Swagger UI sends the path parameter percent-encoded.
    for ref in (str(m1), "s1/l1/m1", "MES-0001", "s1%2Fl1%2Fm1", "s1/l1/m1/"):
        response = client.get(f"/api/v1/machines/{ref}", headers=auth(keys["viewer"]))
        assert response.status_code == 200, ref
        assert response.json()["id"] == m1
        assert response.json()["path"] == "s1/l1/m1"
    other = client.get("/api/v1/machines/s2/l1/m5", headers=auth(keys["viewer"])).json()
    assert other["id"] == fleet.ids["s2/l1/m5"]


def test_unknown_machine_is_404(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    for ref in ("s9/l9/m9", "424242", "99999999999999999999"):
        response = client.get(f"/api/v1/machines/{ref}", headers=auth(keys["viewer"]))
        assert response.status_code == 404, ref
        assert response.json()["error"] == "not_found"
        assert ref in response.json()["detail"]


def test_readings_of_a_sensor_in_a_range(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    params = {"sensor": "temperature", "start": "2024-05-01T08:10:00Z", "end": "2024-05-01T10:20:00+02:00"}
    response = client.get("/api/v1/machines/s1/l1/m1/readings", params=params, headers=auth(keys["viewer"]))
    assert response.status_code == 200
    body = response.json()
    assert (body["machine"], body["sensor"], body["unit"]) == ("s1/l1/m1", "temperature", "degC")
    # [08:10, 08:20) UTC, oldest first.
    assert [p["value"] for p in body["points"]] == [float(i) for i in range(10, 20)]
    assert body["points"][0]["ts"] == "2024-05-01T08:10:00Z"


def test_readings_skip_absent_values_and_honour_limit(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    m1 = fleet.ids["s1/l1/m1"]
    params = {"sensor": "vibration", "start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
    body = client.get(f"/api/v1/machines/{m1}/readings", params=params, headers=auth(keys["viewer"])).json()
    assert len(body["points"]) == 30  # even minutes only
    limited = client.get(
        f"/api/v1/machines/{m1}/readings", params={**params, "limit": 3}, headers=auth(keys["viewer"])
    ).json()
    assert [p["ts"] for p in limited["points"]] == [
        "2024-05-01T08:00:00Z",
        "2024-05-01T08:02:00Z",
        "2024-05-01T08:04:00Z",
    ]


def test_readings_default_to_the_last_24_hours(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    # The seeded readings are from 2024: nothing in the last day, but also not an error.
    response = client.get(
        "/api/v1/machines/s1/l1/m1/readings", params={"sensor": "temperature"}, headers=auth(keys["viewer"])
    )
    assert response.status_code == 200
    assert response.json()["points"] == []
    only_end = client.get(
        "/api/v1/machines/s1/l1/m1/readings",
        params={"sensor": "temperature", "end": "2024-05-01T08:30:00Z"},
        headers=auth(keys["viewer"]),
    ).json()
    assert len(only_end["points"]) == 30


def test_unknown_sensor_lists_the_known_ones(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    response = client.get(
        "/api/v1/machines/s1/l1/m1/readings", params={"sensor": "pressure"}, headers=auth(keys["viewer"])
    )
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert "pressure" in body["detail"] and "temperature" in body["detail"] and "vibration" in body["detail"]


def test_readings_reject_bad_ranges(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    url = "/api/v1/machines/s1/l1/m1/readings"
    cases = [
        {"sensor": "temperature", "start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"},
        {"sensor": "temperature", "start": "2024-05-01T00:00:00Z", "end": "2024-05-01T00:00:00Z"},
        {"sensor": "temperature", "start": "yesterday"},
        {"sensor": "temperature", "end": "2024-13-45T00:00:00Z"},
        {"sensor": "temperature", "end": "2024-05-01T00:00:00"},  # no offset
        {"sensor": "temperature", "end": "0001-01-01T00:00:00+14:00"},
        {"sensor": "temperature", "limit": "100001"},
        {"sensor": "temperature", "limit": "0"},
        {},  # sensor is required
    ]
    for params in cases:
        response = client.get(url, params=params, headers=auth(keys["viewer"]))
        assert response.status_code == 422, params
        assert response.json()["error"] == "invalid_request"
        assert response.json()["detail"], params
