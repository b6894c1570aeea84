"""The dashboard's API client against the real API, and the pure formatting helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.api_error import ApiError
from dashboard.client import PlantwatchClient
from dashboard.formatting import fleet_counts, relative_age, sensor_values
from dashboard.ops_client import OpsClient
from plantwatch.embedded import free_port
from plantwatch.settings import Settings
from tests.dashboard.conftest import ApiServer, Seed


@pytest.fixture
def client(api_server: ApiServer, seed: Seed) -> PlantwatchClient:
    return PlantwatchClient(api_server.url, seed.engineer_key)


def test_machines_follow_the_cursor_and_filter(client: PlantwatchClient) -> None:
    machines = client.machines(page_size=1)

    assert [m.path for m in machines] == [
        "plant-a/press/m1",
        "plant-a/press/m2",
        "plant-a/paint/p1",
        "plant-b/assembly/a1",
    ]
    m1 = machines[0]
    assert [(s.name, s.unit, s.normal_min, s.normal_max) for s in m1.sensors] == [
        ("temperature", "°C", 20.0, 80.0),
        ("vibration", None, None, None),
    ]
    assert m1.latest_values == {"temperature": 71.25, "vibration": 0.125}
    assert m1.last_activity is not None and m1.last_activity.tzinfo is not None
    assert [m.name for m in client.machines(site="plant-a", line="press")] == ["m1", "m2"]
    assert client.machine("plant-a/paint/p1").latest_values == {"humidity": 42.0}


def test_recent_readings_keep_the_newest_when_the_window_holds_too_many(
    client: PlantwatchClient, seed: Seed
) -> None:
    m1 = seed.ids["plant-a/press/m1"]
    end = datetime.now(UTC) + timedelta(seconds=1)
    start = end - timedelta(hours=3)

    everything = client.recent_readings(m1, "temperature", start, end)
    newest = client.recent_readings(m1, "temperature", start, end, limit=50)

    assert len(everything.points) == 241 and not everything.truncated
    assert newest.truncated
    assert 40 <= len(newest.points) <= 50
    assert newest.points[-1] == everything.points[-1]
    assert newest.points[-1].value == 71.25


def test_long_windows_come_in_buckets_with_min_max_and_count(client: PlantwatchClient, seed: Seed) -> None:
    m1 = seed.ids["plant-a/press/m1"]
    end = datetime.now(UTC) + timedelta(seconds=1)

    week = client.recent_readings(m1, "temperature", end - timedelta(days=7), end)
    minutes = client.readings(m1, "temperature", end - timedelta(hours=3), end, bucket="1m")

    assert week.bucket == "1h" and len(week.points) == 3
    assert minutes.bucket == "1m" and 120 <= len(minutes.points) <= 121
    for series in (week, minutes):
        assert sum(p.n or 0 for p in series.points) == 241
        assert all(p.min is not None and p.max is not None for p in series.points)
        assert all(p.min <= p.value <= p.max for p in series.points)  # type: ignore[operator]
        assert series.points[-1].max == 71.25


def test_errors_carry_status_code_and_detail(client: PlantwatchClient, api_server: ApiServer) -> None:
    with pytest.raises(ApiError) as missing:
        client.machine("plant-z/no/such")
    assert (missing.value.status, missing.value.error) == (404, "not_found")
    assert "plant-z/no/such" in missing.value.detail_text()

    with pytest.raises(ApiError) as refused:
        PlantwatchClient(api_server.url, "pw_00000000_wrong").machines()
    assert (refused.value.status, refused.value.error) == (401, "unauthorized")

    with pytest.raises(ApiError) as invalid:
        client.log_event("plant-a/press/m1", "explosion", datetime.now(UTC))
    assert invalid.value.status == 422
    assert "kind" in invalid.value.detail_text()


def test_unreachable_api_is_status_zero() -> None:
    with pytest.raises(ApiError) as down:
        PlantwatchClient(f"http://127.0.0.1:{free_port()}", "pw_x", timeout_s=2).machines()
    assert down.value.unreachable


def test_log_event_round_trip(client: PlantwatchClient, seed: Seed) -> None:
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)

    logged = client.log_event("plant-a/paint/p1", "maintenance", ts, "new filter")

    assert (logged.kind, logged.ts, logged.note, logged.created_by) == (
        "maintenance",
        ts,
        "new filter",
        "dash-engineer",
    )
    assert client.events(seed.ids["plant-a/paint/p1"]) == [logged]


def test_never_seen_machines_count_as_silent(client: PlantwatchClient) -> None:
    now = datetime.now(UTC)
    machines = client.machines()

    assert relative_age(None, now) == "never"
    assert fleet_counts(machines, now, 300) == (4, 3, 1)
    assert fleet_counts(machines, now + timedelta(hours=3), 300) == (4, 0, 4)
    table = sensor_values([m for m in machines if m.line == "press"])
    assert list(table.columns) == ["temperature [°C]", "vibration"]
    assert list(table["temperature [°C]"]) == [71.25, 55.5]


def test_lists_still_read_whole_where_the_api_allows_smaller_pages(
    migrated_url: str, seed: Seed, tmp_path: Path
) -> None:
    small = ApiServer(Settings(database_url=migrated_url, var_dir=tmp_path, api_max_page=2))
    small.start()
    try:
        client = OpsClient(small.url, seed.engineer_key)
        assert len(client.machines()) == 4  # asked 1,000 a page: refused (422), then default pages of 2
        assert len(client.jobs()) > 2 and len(client.alert_rules()) > 2
    finally:
        small.stop()
