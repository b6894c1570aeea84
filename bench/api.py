"""`python -m bench.api`: the REST API under a fixed request rate, against a bare FastAPI baseline.

Seeds its own PostgreSQL (an EmbeddedPostgres under var/bench/api-pg with 1 GB of shared buffers, kept
between runs, see bench.api_seed: 1,000 machines with a prediction and an open alert each, readings of
100 of them as bench.readings seeds them, a champion RUL model). For each scenario it starts `plantwatch
api` (or the baseline app, bench.api_baseline) afresh, uvicorn with 2 worker processes
(bench.api_servers.WORKERS) on a free port, times 20 requests one after another (`serial_p50_ms`: one
request on an idle server, caches cold), answers each distinct request of the scenario 5 times on 4
connections (`prewarm_s`; skipped with `--cold`: a server that has been up a while holds those answers
in its caches, and each worker keeps its own), then drives it from another process, the open-loop
generator bench.api_load, at `--rps` for `--duration-s` after a `--warmup-s` warm-up. The generator
shares the cores with the API and PostgreSQL, as wrk would. Scenarios: `line_health` (GET
/api/v1/health of one 100-machine line), `alerts` (open alerts, the first page), `readings_24h` (one
sensor of one machine, 24 h in 1-minute buckets), `predict_rul` (POST /api/v1/predict/rul, one window);
`baseline` is the constant endpoint. Each gets its achieved rate, p50/p99 latency, errors, and the cores
the server, PostgreSQL and the generator used meanwhile. Logs go to stderr (the servers' and generator's
logs to var/bench/api-run/), the result is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bench.api_seed import (
    LINES,
    READINGS_MACHINES,
    SENSORS,
    SITE,
    FleetParams,
    read_marker,
    refresh_bench_rollups,
    seed_all,
)
from bench.api_servers import Servers
from bench.common import REPO, emit, machine, setup_logging
from db.engine import make_engine, make_session_factory, transaction
from db.migrate import upgrade
from plantwatch.embedded import EmbeddedPostgres
from services.api_keys import create_key

log = logging.getLogger("bench.api")

TARGET_P99_MS = {"line_health": 50.0, "alerts": 50.0, "readings_24h": 100.0, "predict_rul": 100.0}
MIN_RATE = 0.95
# As docs/operations.md advises (a quarter of the memory would be 6 GB here): the data, 350 MB, fits.
POSTGRES_CONFIG = {"shared_buffers": "1GB"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n")[0])
    parser.add_argument("--rps", type=float, default=200.0, help="Requests per second of every scenario.")
    parser.add_argument("--duration-s", type=float, default=15.0, help="Measured seconds per scenario.")
    parser.add_argument("--warmup-s", type=float, default=3.0, help="Unmeasured seconds before them.")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="Skip the prewarm: measure from the servers' first requests, their caches empty.",
    )
    parser.add_argument("--scenarios", nargs="+", choices=[*TARGET_P99_MS, "baseline"], default=None)
    parser.add_argument("--per-line", type=int, default=100, help="Machines on each of the 10 lines.")
    parser.add_argument("--days", type=int, default=1, help="Days of readings of the 100 machines.")
    parser.add_argument("--interval-s", type=int, default=10, help="Seconds between readings of a machine.")
    parser.add_argument(
        "--data-dir", type=Path, default=REPO / "var" / "bench" / "api-pg", help="Kept between runs."
    )
    parser.add_argument("--out", type=Path, default=None, help="Also write the JSON line to this file.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    load_before = os.getloadavg()[0]
    params = FleetParams(args.per_line, args.days, args.interval_s)
    bench_db = open_seeded(args.data_dir, params)
    seeded, data_dir, work = bench_db.seeded, bench_db.data_dir, bench_db.work
    servers = Servers(bench_db.url, work, bench_db.models_dir)
    try:
        with transaction(bench_db.factory) as session:
            key = create_key(session, f"bench-api-{datetime.now(UTC):%Y%m%dT%H%M%S}", "viewer")[1]
        for stale in work.glob("*.log"):
            stale.unlink()
        plans = _plans(datetime.fromisoformat(seeded["end"]))
        names = args.scenarios or [*TARGET_P99_MS, "baseline"]
        results = {}
        for name in names:
            server = "baseline" if name == "baseline" else "api"
            base = servers.serve(server)
            serial_ms = servers.check(base, plans[name], key)
            prewarm_s = None if args.cold else servers.prewarm(base, plans[name], key)
            results[name] = _run(name, servers, server, data_dir, base, plans[name], key, args)
            results[name].update(serial_p50_ms=serial_ms, prewarm_s=prewarm_s)
    finally:
        servers.stop()
        bench_db.close()
    result: dict[str, Any] = {
        "scenarios": {name: results[name] for name in names if name != "baseline"},
        "baseline": results.get("baseline"),
    }
    result.update(
        seeded_this_run=bench_db.seeded_now,
        seed_seconds=seeded["seed_seconds"],
        readings_rows=seeded["readings_rows"],
        params={"rps": args.rps, "warmup_s": args.warmup_s, "duration_s": args.duration_s, **vars(params)},
        postgres=POSTGRES_CONFIG,
        load_avg_1m_before=round(load_before, 2),
        machine=machine(),
        date=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    emit(result, args.out)
    return 0


@dataclass
class SeededDatabase:
    """bench.api's PostgreSQL, running, with the fleet seeded; `close` stops it."""

    database: EmbeddedPostgres
    url: str
    engine: Engine
    factory: sessionmaker[Session]
    seeded: dict[str, Any]  # the seed marker: params, end of the readings, rows, model, seconds
    seeded_now: bool
    data_dir: Path
    models_dir: Path
    work: Path  # where the servers run and log

    def close(self) -> None:
        self.engine.dispose()
        self.database.stop()


def open_seeded(data_dir: Path, params: FleetParams) -> SeededDatabase:
    """Start the database under `data_dir`, seeding it afresh unless its marker says it holds `params`."""
    data_dir = data_dir.resolve()
    marker = data_dir.with_name(data_dir.name + ".seed.json")
    models_dir = data_dir.with_name(data_dir.name + "-models")
    work = data_dir.with_name(data_dir.name.removesuffix("-pg") + "-run")
    seeded = read_marker(marker, params) if data_dir.is_dir() else None
    seeded_now = seeded is None
    if seeded is None:
        log.info("seeding %s afresh", data_dir)
        marker.unlink(missing_ok=True)
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(models_dir, ignore_errors=True)
    database = EmbeddedPostgres(data_dir, config=POSTGRES_CONFIG)
    url = database.start()
    engine = make_engine(url, pool_size=2)
    try:
        factory = make_session_factory(engine)
        if seeded is None:
            seeded = seed_all(url, factory, params, models_dir)
            marker.write_text(json.dumps(seeded))
        else:
            log.info("reusing the data seeded %s (%s)", seeded["seeded_at"], marker)
            upgrade(url)  # the schema follows the code between runs, and so do the rollups' watermarks
            with transaction(factory) as session:
                refresh_bench_rollups(session, datetime.fromisoformat(seeded["end"]))
    except BaseException:
        engine.dispose()
        database.stop()
        raise
    return SeededDatabase(database, url, engine, factory, seeded, seeded_now, data_dir, models_dir, work)


def _plans(end: datetime) -> dict[str, list[dict[str, Any]]]:
    """The requests each scenario sends in turn (machines, sensors and windows drawn at random)."""
    import numpy as np

    from bench.api_seed import MACHINE_TYPE, WINDOW, degrading_step

    rng = np.random.default_rng(5)
    day = {"start": (end - timedelta(hours=24)).isoformat(), "end": end.isoformat(), "bucket": "1m"}
    readings = []
    for _ in range(500):
        number = int(rng.integers(READINGS_MACHINES))
        path = f"/api/v1/machines/{SITE}/line{number // 10}/m{number:03d}/readings"
        readings.append({"path": path, "params": {"sensor": str(rng.choice(SENSORS)), **day}})
    windows = []
    for _ in range(50):
        wear = float(rng.uniform(0, 1))
        window = [degrading_step(rng, wear) for _ in range(WINDOW)]
        windows.append({"method": "POST", "path": "/api/v1/predict/rul",
                        "json": {"machine_type": MACHINE_TYPE, "windows": [window]}})  # fmt: skip
    lines = [{"path": "/api/v1/health", "params": {"site": SITE, "line": f"line{k}"}} for k in range(LINES)]
    return {
        "line_health": lines,
        "alerts": [{"path": "/api/v1/alerts", "params": {"state": "open"}}],
        "readings_24h": readings,
        "predict_rul": windows,
        "baseline": [{"path": "/constant"}],
    }


def _run(
    name: str,
    servers: Servers,
    server: str,
    data_dir: Path,
    base: str,
    requests: list[dict[str, Any]],
    key: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One scenario through the generator process; its figures with the cores each part used."""
    spec = {"base_url": base, "headers": {"X-API-Key": key}, "rps": args.rps, "warmup_s": args.warmup_s,
            "duration_s": args.duration_s, "requests": requests}  # fmt: skip
    spec_path = servers.work / f"{name}.spec.json"
    spec_path.write_text(json.dumps(spec))
    roots = {"api": servers.pid(server), "postgres": _postmaster(data_dir)}
    before = {part: _cpu(pid) for part, pid in roots.items()}
    log.info("%s: %.0f requests/s for %.0f + %.0f s", name, args.rps, args.warmup_s, args.duration_s)
    began = time.monotonic()
    with open(servers.work / f"{name}.load.log", "wb") as errors:
        done = subprocess.run(
            [sys.executable, "-m", "bench.api_load", str(spec_path)],
            stdout=subprocess.PIPE, stderr=errors, cwd=REPO, check=True,
        )  # fmt: skip
    wall = time.monotonic() - began
    figures: dict[str, Any] = json.loads(done.stdout)
    cores = {part: round((_cpu(pid) - before[part]) / wall, 2) for part, pid in roots.items()}
    figures["cores"] = {**cores, "load": figures.pop("load_cores")}
    if name in TARGET_P99_MS:
        figures["target_p99_ms"] = TARGET_P99_MS[name]
        figures["met"] = bool(
            figures["p99_ms"] is not None
            and figures["p99_ms"] <= TARGET_P99_MS[name]
            and figures["rps"] >= MIN_RATE * args.rps
            and figures["errors"] == 0
        )
    log.info("%s: %s", name, figures)
    return figures


def _postmaster(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _cpu(pid: int | None) -> float:
    """CPU seconds of a process and its children (PostgreSQL's backends, the API's threads)."""
    if pid is None:
        return 0.0
    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    except psutil.NoSuchProcess:
        pass
    return total


if __name__ == "__main__":
    raise SystemExit(main())
