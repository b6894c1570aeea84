"""The benchmark scripts run end to end on tiny sizes (seconds): one JSON line on stdout, sane figures.

They are not timed here; docs/benchmarks.md records full-size runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_bench(module: str, *args: str, timeout: float = 240) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    assert len(lines) == 1, completed.stdout  # logs go to stderr
    result: dict[str, Any] = json.loads(lines[0])
    return result


@pytest.fixture
def pg_home() -> Iterator[Path]:
    """A folder for an embedded PostgreSQL: outside pytest's basetemp (see tests/conftest.py), and
    readable by the `pgserver` user that the server runs as when we are root."""
    home = Path(tempfile.mkdtemp(prefix="plantwatch-bench-smoke-"))
    home.chmod(0o755)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_readings_bench_seeds_once_and_times_both_queries(pg_home: Path, tmp_path: Path) -> None:
    data_dir = pg_home / "readings-pg"
    args = ("--machines", "3", "--sensors", "4", "--days", "1", "--interval-s", "300", "--repetitions", "5")
    out = tmp_path / "result.json"
    first = run_bench("bench.readings", *args, "--data-dir", str(data_dir), "--out", str(out))
    assert json.loads(out.read_text()) == first
    assert first["rows"] == 3 * 288 and first["seeded_this_run"] is True
    for kind in ("day_1m", "week_1h"):
        for timing in (first[kind], first["baseline_raw"][kind]):
            assert 0 < timing["p50_ms"] <= timing["p99_ms"]
    again = run_bench("bench.readings", *args, "--data-dir", str(data_dir))
    assert again["seeded_this_run"] is False and again["rows"] == first["rows"]


@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="bench.ingest needs mosquitto on PATH")
def test_ingest_bench_loses_and_doubles_nothing(tmp_path: Path) -> None:
    result = run_bench(
        "bench.ingest",
        *("--seconds", "2", "--ceiling-seconds", "1", "--latency-seconds", "1"),
        *("--machines", "20", "--sensors", "3", "--copy-rows", "500", "--out", str(tmp_path / "r.json")),
    )
    assert (result["lost"], result["duplicated"], result["altered"], result["dead_letters"]) == (0, 0, 0, 0)
    assert result["published"] >= 20 * 3  # warm-up, full speed and paced ticks of 20 machines
    assert result["messages_per_s"] > 0 and result["values_per_s"] == pytest.approx(
        3 * result["messages_per_s"], abs=3
    )
    assert result["ceiling_broker_messages_per_s"] > 0 and result["ceiling_copy_values_per_s"] > 0
    assert result["ratio"] == pytest.approx(
        result["messages_per_s"] / result["ceiling_broker_messages_per_s"], abs=0.01
    )
    assert 0 < result["p50_latency_ms"] <= result["p99_latency_ms"]
