"""The line simulator: its degradation model, C-MAPSS replay, and simulator → broker → ingest → database."""

from __future__ import annotations

import json
import random
import statistics
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from plantwatch.embedded import free_port
from plantwatch.settings import Settings
from plantwatch.simulation import (
    CMAPSS_SENSORS,
    KINDS,
    DegradingMachine,
    build_fleet,
    cmapss_line,
    read_cmapss,
)
from plantwatch.simulator import run_simulator
from tests.conftest import SHARED_DATA
from tests.ingest.helpers import Start, count, start_ingestor, wait_for

__all__ = ["start_ingestor"]  # the fixture, shared with tests/ingest

FD001 = SHARED_DATA / "cmapss" / "train_FD001.txt"


# --- the pure model ------------------------------------------------------------------------------


def run_to_failure(machine: DegradingMachine, limit: int = 10_000) -> list[dict[str, float]]:
    history = []
    for _ in range(limit):
        tick = machine.step()
        assert tick.values is not None
        history.append(tick.values)
        if tick.event == "failure":
            return history
    raise AssertionError(f"{machine.path} did not fail within {limit} ticks")


def test_machines_degrade_fail_get_repaired_and_start_healthy() -> None:
    machine = DegradingMachine("s", "l", "press-01", KINDS[0], random.Random(3), mean_life_ticks=400)
    run_to_failure(machine)  # the first life starts somewhere in the middle
    assert machine.health == 0.0
    down = [machine.step() for _ in range(machine.down_for)]
    assert all(t.values is None for t in down)
    assert [t.event for t in down if t.event] == ["maintenance"]
    assert machine.health == 1.0
    life = run_to_failure(machine)
    assert 100 < len(life) < 1000
    early, late = life[: len(life) // 5], life[-len(life) // 20 :]
    for sensor, direction in [
        ("vibration_rms", 1),
        ("bearing_temp_c", 1),
        ("motor_current_a", 1),
        ("spindle_speed_rpm", -1),
        ("oil_pressure_bar", -1),
    ]:
        change = statistics.mean(v[sensor] for v in late) - statistics.mean(v[sensor] for v in early)
        assert change * direction > 0, f"{sensor} should move with wear ({change:+.3f})"
    vibration = [v["vibration_rms"] for v in life]
    temperature = [v["bearing_temp_c"] for v in life]
    assert statistics.correlation(vibration, temperature) > 0.5


def test_fleet_names_seeding_and_staggered_lives() -> None:
    fleet = build_fleet(1, 2, 5, seed=7)
    paths = [m.path for m in fleet]
    assert paths[:3] == ["site-1/line-1/press-01", "site-1/line-1/lathe-02", "site-1/line-1/mill-03"]
    assert len(set(paths)) == 10 and paths[-1] == "site-1/line-2/compressor-05"
    again = build_fleet(1, 2, 5, seed=7)
    assert [m.step().values for m in fleet] == [m.step().values for m in again]
    other = build_fleet(1, 2, 5, seed=8)
    assert [m.step().values for m in fleet] != [m.step().values for m in other]
    # Machines start at different points of their lives, so one fails within minutes of starting.
    assert len({round(m.health, 2) for m in fleet}) > 5
    ticks_to_first_failure = 0
    while not any(m.step().event == "failure" for m in fleet):
        ticks_to_first_failure += 1
    assert ticks_to_first_failure < 300  # 5 minutes at the default interval of 1 s


def write_cmapss(path: Path, lengths: dict[int, int]) -> Path:
    rows = []
    for unit, cycles in lengths.items():
        for cycle in range(1, cycles + 1):
            values = [0.001 * cycle, -0.0002, 100.0] + [500.0 + unit + cycle * 0.1 + i for i in range(21)]
            rows.append(" ".join([str(unit), str(cycle)] + [f"{v:.4f}" for v in values]) + "  ")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_read_cmapss(tmp_path: Path) -> None:
    engines = read_cmapss(write_cmapss(tmp_path / "train_FD009.txt", {2: 4, 1: 3}))
    assert [(e.name, len(e.cycles)) for e in engines] == [("engine-001", 3), ("engine-002", 4)]
    assert engines[1].cycles[-1][1][3] == pytest.approx(502.4)
    assert len(CMAPSS_SENSORS) == 24
    assert cmapss_line(Path("train_FD001.txt")) == "fd001"
    assert cmapss_line(Path("test_FD004.txt")) == "fd004-test"
    broken = tmp_path / "broken.txt"
    broken.write_text("1 1 0.1 0.2\n")
    with pytest.raises(ValueError, match="line 1: 4 columns"):
        read_cmapss(broken)


# --- through the broker ----------------------------------------------------------------------------


class EventRecorder:
    """A tiny HTTP server standing in for the API: it records every POST."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, object]]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                recorder.posts.append((self.path, dict(self.headers), body))
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api() -> Iterator[EventRecorder]:
    recorder = EventRecorder()
    yield recorder
    recorder.server.shutdown()
    recorder.server.server_close()


def fast(settings: Settings, api: EventRecorder, **changes: object) -> Settings:
    return settings.model_copy(
        update={"simulate_interval_s": 0.02, "api_url": api.url, "api_key": "pw_test_key", **changes}
    )


def test_simulator_to_database(
    settings: Settings, session_factory: sessionmaker[Session], start_ingestor: Start, api: EventRecorder
) -> None:
    ingestor = start_ingestor(settings)
    simulated = fast(settings, api, simulate_sites=1, simulate_lines=1, simulate_machines=3)
    run_simulator(simulated, max_ticks=5)
    wait_for(lambda: count(session_factory, "SELECT count(*) FROM readings") == 15, what="15 readings")
    ingestor.stop()
    assert count(session_factory, "SELECT count(*) FROM machines") == 3
    assert count(session_factory, "SELECT count(*) FROM sensors") == 15
    assert count(session_factory, "SELECT count(*) FROM dead_letters") == 0
    assert count(session_factory, "SELECT count(*) FROM machines WHERE path = 'site-1/line-1/press-01'") == 1
    assert count(session_factory, "SELECT max(last_seq) FROM machines") == 5


def test_cmapss_replay_posts_failures(
    settings: Settings,
    session_factory: sessionmaker[Session],
    start_ingestor: Start,
    api: EventRecorder,
    tmp_path: Path,
) -> None:
    ingestor = start_ingestor(settings)
    path = write_cmapss(tmp_path / "train_FD001.txt", {1: 3, 2: 5})
    run_simulator(fast(settings, api), replay_cmapss=path)
    wait_for(lambda: count(session_factory, "SELECT count(*) FROM readings") == 8, what="8 readings")
    ingestor.stop()
    assert count(session_factory, "SELECT count(*) FROM sensors") == 48
    assert count(session_factory, "SELECT last_seq FROM machines WHERE path = 'cmapss/fd001/engine-002'") == 5
    assert sorted(p[0] for p in api.posts) == [
        "/api/v1/machines/cmapss/fd001/engine-001/events",
        "/api/v1/machines/cmapss/fd001/engine-002/events",
    ]
    for _path, headers, body in api.posts:
        assert headers["X-API-Key"] == "pw_test_key"
        assert body["kind"] == "failure" and "C-MAPSS" in str(body["note"])
        assert datetime.fromisoformat(str(body["ts"]).replace("Z", "+00:00")).tzinfo is not None


def test_truncated_replay_posts_no_failure(settings: Settings, api: EventRecorder, tmp_path: Path) -> None:
    path = write_cmapss(tmp_path / "test_FD001.txt", {1: 2, 2: 3})
    run_simulator(fast(settings, api), replay_cmapss=path, truncated=True)
    assert api.posts == []


def test_an_unreachable_api_never_stops_the_simulator(settings: Settings, tmp_path: Path) -> None:
    path = write_cmapss(tmp_path / "train_FD001.txt", {1: 2})
    offline = settings.model_copy(
        update={"simulate_interval_s": 0.01, "api_url": f"http://127.0.0.1:{free_port()}"}
    )
    run_simulator(offline, replay_cmapss=path)  # logs a warning, does not raise


def test_replay_of_the_real_fd001(
    settings: Settings, session_factory: sessionmaker[Session], start_ingestor: Start, api: EventRecorder
) -> None:
    if not FD001.exists():
        pytest.skip(f"C-MAPSS FD001 is not at {FD001} (see ../shared/data/README.md)")
    engines = read_cmapss(FD001)
    assert len(engines) == 100 and sum(len(e.cycles) for e in engines) == 20631
    assert min(len(e.cycles) for e in engines) == 128
    ingestor = start_ingestor(settings)
    run_simulator(fast(settings, api, simulate_interval_s=0.05), replay_cmapss=FD001, max_ticks=3)
    wait_for(lambda: count(session_factory, "SELECT count(*) FROM readings") == 300, what="300 readings")
    ingestor.stop()
    assert (
        count(session_factory, "SELECT count(*) FROM machines WHERE path LIKE 'cmapss/fd001/engine-%'") == 100
    )
    assert api.posts == []  # no engine of FD001 fails before cycle 128


@pytest.fixture
def real_api(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[Settings]:
    """The real API in a thread (uvicorn), and settings carrying its URL and an API key of role mes."""
    import uvicorn

    from api.app import create_app
    from db.engine import transaction
    from services.api_keys import create_key

    with transaction(session_factory) as session:
        _row, key = create_key(session, "simulator", "mes")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout_s=20, what="the API to start")
    yield settings.model_copy(update={"api_url": f"http://127.0.0.1:{port}", "api_key": key})
    server.should_exit = True
    thread.join(10)


def test_failures_reach_the_real_api(
    real_api: Settings, session_factory: sessionmaker[Session], start_ingestor: Start, tmp_path: Path
) -> None:
    ingestor = start_ingestor(real_api)
    path = write_cmapss(tmp_path / "train_FD001.txt", {1: 4, 2: 6})
    run_simulator(real_api.model_copy(update={"simulate_interval_s": 0.05}), replay_cmapss=path)
    ingestor.stop()
    with session_factory() as session:
        rows = session.execute(
            text(
                "SELECT m.path, e.kind, e.ts = (SELECT max(ts) FROM readings r WHERE r.machine_id = m.id) "
                "FROM machine_events e JOIN machines m ON m.id = e.machine_id ORDER BY m.path"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("cmapss/fd001/engine-001", "failure", True),
        ("cmapss/fd001/engine-002", "failure", True),
    ]
