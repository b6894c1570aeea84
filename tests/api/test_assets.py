"""Describing assets over the API: a sensor's unit and normal range, a machine's type and MES code."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Fleet, auth


def test_admin_sets_a_sensors_unit_and_normal_range(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    url = "/api/v1/machines/s1/l1/m1/sensors/vibration"
    response = client.patch(url, headers=auth(keys["admin"]), json={"unit": "mm/s", "normal_max": 7.1})
    assert response.status_code == 200, response.text
    sensors = {
        s["name"]: s
        for s in client.get("/api/v1/machines/s1/l1/m1", headers=auth(keys["viewer"])).json()["sensors"]
    }
    assert sensors["vibration"] == {
        **sensors["vibration"],
        "unit": "mm/s",
        "normal_min": None,
        "normal_max": 7.1,
    }
    assert sensors["temperature"]["unit"] == "degC"  # untouched
    # Only the fields sent change; an inverted range against the stored bound is refused.
    inverted = client.patch(url, headers=auth(keys["admin"]), json={"normal_min": 9.0})
    assert inverted.status_code == 422 and "normal_min" in inverted.json()["detail"]
    cleared = client.patch(url, headers=auth(keys["admin"]), json={"normal_max": None}).json()
    assert {s["name"]: s["normal_max"] for s in cleared["sensors"]}["vibration"] is None


def test_sensor_changes_are_checked(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    url = "/api/v1/machines/s1/l1/m1/sensors/vibration"
    assert client.patch(url, headers=auth(keys["engineer"]), json={"unit": "x"}).status_code == 403
    assert client.patch(url, json={"unit": "x"}).status_code == 401
    for body in ({"normal_min": 5, "normal_max": 1}, {"colour": "red"}, {"unit": "x" * 40}):
        response = client.patch(url, headers=auth(keys["admin"]), json=body)
        assert response.status_code == 422, body
        assert set(response.json()) == {"error", "detail"}
    missing = client.patch("/api/v1/machines/s1/l1/m1/sensors/nope", headers=auth(keys["admin"]), json={})
    assert missing.status_code == 404 and "temperature" in missing.json()["detail"]


def test_machine_type_and_mes_code_and_numeric_codes_name_the_machine(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    admin = auth(keys["admin"])
    response = client.patch(
        "/api/v1/machines/s1/l1/m2", headers=admin, json={"machine_type": "press", "external_code": "77001"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["machine_type"] == "press"
    # A numeric MES code that is no machine's id finds its machine wherever an id is accepted.
    by_code = client.get("/api/v1/machines/77001", headers=auth(keys["viewer"]))
    assert by_code.status_code == 200 and by_code.json()["path"] == "s1/l1/m2"
    taken = client.patch("/api/v1/machines/s1/l1/m3", headers=admin, json={"external_code": "77001"})
    assert taken.status_code == 409 and taken.json()["error"] == "conflict"
    assert client.patch("/api/v1/machines/s1/l1/m3", headers=auth(keys["mes"]), json={}).status_code == 403


def test_admin_sets_a_sites_time_zone(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    admin = auth(keys["admin"])
    response = client.patch("/api/v1/sites/s1", json={"timezone": "Europe/Berlin"}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "name": "s1", "timezone": "Europe/Berlin", "external_code": None, "lines": ["l1", "l2"],
        "retired_at": None,
    }  # fmt: skip
    for body, status in [({"timezone": "Mars/Olympus"}, 422), ({"timezone": ""}, 422), ({"tz": "UTC"}, 422)]:
        bad = client.patch("/api/v1/sites/s1", json=body, headers=admin)
        assert bad.status_code == status and set(bad.json()) == {"error", "detail"}, bad.text
    assert client.patch("/api/v1/sites/nowhere", json={"timezone": "UTC"}, headers=admin).status_code == 404
    engineer = auth(keys["engineer"])
    assert client.patch("/api/v1/sites/s1", json={"timezone": "UTC"}, headers=engineer).status_code == 403
