"""Alert rules over HTTP: the catalogue, overrides by scope, validation and roles; the engine uses them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Fleet, auth


def _rule(client: TestClient, key: str, name: str) -> dict:
    response = client.get("/api/v1/alert-rules", headers=auth(key))
    assert response.status_code == 200, response.text
    return {r["rule"]: r for r in response.json()["items"]}[name]


def test_catalogue_shows_the_defaults_from_the_settings(client: TestClient, keys: dict[str, str]) -> None:
    rul = _rule(client, keys["viewer"], "rul_low")
    assert rul["worse"] == "below" and rul["overrides"] == []
    assert (rul["defaults"]["warning"], rul["defaults"]["critical"]) == (50.0, 20.0)
    assert _rule(client, keys["viewer"], "failure_probability_high")["worse"] == "above"


def test_overrides_per_scope_replace_and_drop(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    admin = auth(keys["admin"])
    bodies = [
        {"warning": 40, "critical": 10},
        {"line": "s1/l1", "warning": 60, "critical": 30, "hysteresis": 5, "min_duration_s": 600},
        {"machine": "MES-0001", "enabled": False},
        {"line": "s1/l1", "warning": 70, "critical": 30},  # replaces the line's
    ]
    for body in bodies:
        response = client.put("/api/v1/alert-rules/rul_low", json=body, headers=admin)
        assert response.status_code == 200, response.text
    overrides = {o["scope"]: o for o in response.json()["overrides"]}
    assert set(overrides) == {"plant", "line", "machine"}
    assert (overrides["line"]["line"], overrides["line"]["warning"], overrides["line"]["min_duration_s"]) == (
        "s1/l1", 70.0, 0,
    )  # fmt: skip
    assert overrides["machine"]["machine"] == "s1/l1/m1" and overrides["machine"]["enabled"] is False
    assert overrides["plant"]["updated_by"] == "admin-key"
    dropped = client.delete("/api/v1/alert-rules/rul_low", params={"line": "s1/l1"}, headers=admin)
    assert dropped.status_code == 200
    assert {o["scope"] for o in dropped.json()["overrides"]} == {"plant", "machine"}
    again = client.delete("/api/v1/alert-rules/rul_low", params={"line": "s1/l1"}, headers=admin)
    assert again.status_code == 404 and again.json()["error"]


def test_bad_rules_and_roles(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    admin = auth(keys["admin"])
    cases = [
        ("rul_low", {"warning": 10, "critical": 20}, 422),  # critical must be at or below warning for RUL
        ("failure_probability_high", {"warning": 0.8, "critical": 0.5}, 422),
        ("rul_low", {"enabled": True}, 422),  # no threshold
        ("rul_low", {"line": "s1/l1", "machine": "s1/l1/m1", "warning": 5}, 422),
        ("rul_low", {"line": "nope", "warning": 5}, 422),
        ("rul_low", {"line": "s9/l9", "warning": 5}, 404),
        ("rul_low", {"warning": 5, "bogus": 1}, 422),
        ("rul_low", {"hysteresis": -1, "warning": 5}, 422),
        ("no_such_rule", {"warning": 5}, 404),
    ]
    for rule, body, status in cases:
        response = client.put(f"/api/v1/alert-rules/{rule}", json=body, headers=admin)
        assert response.status_code == status and set(response.json()) == {"error", "detail"}, (
            body,
            response.text,
        )
    for role in ("viewer", "engineer", "mes"):
        put = client.put("/api/v1/alert-rules/rul_low", json={"warning": 5}, headers=auth(keys[role]))
        assert put.status_code == 403
        assert client.delete("/api/v1/alert-rules/rul_low", headers=auth(keys[role])).status_code == 403
    assert client.get("/api/v1/alert-rules").status_code == 401


def test_effective_thresholds_for_a_machine_its_line_or_the_plant(
    client: TestClient, keys: dict[str, str], fleet: Fleet
) -> None:
    def effective(machine: str | None) -> tuple[object, ...]:
        params = {"machine": machine} if machine is not None else {}
        response = client.get("/api/v1/alert-rules", params=params, headers=auth(keys["viewer"]))
        assert response.status_code == 200, response.text
        found = {r["rule"]: r for r in response.json()["items"]}["rul_low"]["effective"]
        return found["source"], found["enabled"], found["warning"], found["critical"]

    assert effective(None) == ("default", True, 50.0, 20.0)
    assert effective("s1/l1/m2") == ("default", True, 50.0, 20.0)
    admin = auth(keys["admin"])
    for body in ({"warning": 60, "critical": 30}, {"line": "s1/l1", "warning": 150, "critical": 75},
                 {"machine": "s1/l1/m3", "enabled": False}):  # fmt: skip
        put = client.put("/api/v1/alert-rules/rul_low", json=body, headers=admin)
        assert put.status_code == 200, put.text
    # A machine's override answers with what is now in effect for that machine.
    assert (put.json()["effective"]["source"], put.json()["effective"]["enabled"]) == ("machine", False)
    assert effective(None) == ("plant", True, 60.0, 30.0)  # the fleet's legend
    assert effective("MES-0001") == ("line", True, 150.0, 75.0)  # m1 by its MES code, on line s1/l1
    assert effective("s1/l1/m3") == ("machine", False, None, None)
    assert effective("s1/l2/m4") == ("plant", True, 60.0, 30.0)
    missing = client.get("/api/v1/alert-rules", params={"machine": "s9/l9/m9"}, headers=auth(keys["viewer"]))
    assert missing.status_code == 404 and set(missing.json()) == {"error", "detail"}
