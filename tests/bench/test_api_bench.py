"""bench.api's pieces: the open-loop schedule, the figures, and the load generator against real servers.

The full benchmark (seeding 1,000 machines, training a model) takes minutes and is recorded in
docs/benchmarks.md; here the generator runs for about a second against a local asyncio server and the
baseline app served by uvicorn.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.api_load import Sample, run, schedule, summarize
from plantwatch.embedded import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]


def test_schedule_is_a_fixed_rate_within_the_span() -> None:
    due = schedule(200, 1.0)
    assert len(due) == 200 and due[0] == 0 and due[-1] < 1.0
    assert all(abs((b - a) - 0.005) < 1e-12 for a, b in itertools.pairwise(due))
    assert len(schedule(3, 1.0)) == 3 and len(schedule(2.5, 2.0)) == 5
    with pytest.raises(ValueError):
        schedule(0, 1.0)


def test_summary_measures_from_the_due_time_after_the_warmup() -> None:
    # Warm-up [0, 1): never measured, however slow. Measured [1, 3): 100 requests due, each answered
    # 10 ms late except one stalled second; two failed; one completes after the window ends.
    samples = [Sample(0.5, 0.5, 2.0, True)]
    for i in range(100):
        due = 1 + i * 0.02
        late = 1.0 if i == 50 else 0.01
        samples.append(Sample(due, due + 0.001, due + late, i not in (3, 4)))
    samples.append(Sample(2.99, 2.99, 3.5, True))
    figures = summarize(samples, 50, warmup_s=1, duration_s=2)
    assert figures["requests"] == 101 and figures["errors"] == 2
    assert figures["p50_ms"] == pytest.approx(10.0)
    assert 10 < figures["p99_ms"] <= 1000  # the stall shows at p99 (interpolated), not at p50
    # Successful completions within [1, 3): 97 of the 100 (two failed, the stalled one ends at 3.0),
    # plus the warm-up one done at 2.0; not the last one, done after the window.
    assert figures["rps"] == pytest.approx(98 / 2)
    assert figures["send_lag_p99_ms"] == pytest.approx(1.0)


async def _slow_server(delay_s: float, served: list[str]) -> asyncio.Server:
    """Answers every request after `delay_s`, with a chunked body on /chunked, 404 on /missing."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                path = head.split(b" ")[1].decode()
                served.append(path)
                await asyncio.sleep(delay_s)
                if path == "/chunked":
                    chunks = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
                else:
                    status = b"404 Not Found" if path == "/missing" else b"200 OK"
                    writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _spec(port: int, rps: float, requests: list[dict[str, Any]]) -> dict[str, Any]:
    return {"base_url": f"http://127.0.0.1:{port}", "headers": {"X-API-Key": "k"}, "rps": rps,
            "warmup_s": 0.2, "duration_s": 1.0, "requests": requests}  # fmt: skip


def test_a_slow_server_does_not_slow_the_rate_but_shows_in_latency() -> None:
    async def scenario() -> tuple[list[Sample], list[str]]:
        served: list[str] = []
        server = await _slow_server(0.2, served)
        port = server.sockets[0].getsockname()[1]
        requests = [{"path": "/a"}, {"path": "/chunked"}, {"path": "/missing"}]
        samples, _cores = await run(_spec(port, 30, requests))
        server.close()
        return samples, served

    samples, served = asyncio.run(scenario())
    figures = summarize(samples, 30, 0.2, 1.0)
    # Open loop: at 30 requests/s a closed loop on one connection would get 5/s through.
    assert len(samples) == len(served) == 36
    assert figures["requests"] == 30 and figures["errors"] == 10  # every third is /missing
    assert 200 <= figures["p50_ms"] < 400
    assert figures["rps"] >= 15  # 20 successes due in the window, most done within it


def test_generator_process_against_the_baseline_app() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.api_baseline", "--port", str(port)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for_port(port, 30)
        spec = REPO / "var" / f"test-api-load-{port}.json"
        spec.parent.mkdir(exist_ok=True)
        spec.write_text(json.dumps(_spec(port, 50, [{"path": "/constant"}])))
        done = subprocess.run(
            [sys.executable, "-m", "bench.api_load", str(spec)],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        spec.unlink()
    finally:
        server.terminate()
        server.wait(10)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert figures["errors"] == 0 and figures["requests"] == 50
    assert figures["rps"] >= 45 and 0 < figures["p50_ms"] <= figures["p99_ms"] < 1000
    assert 0 < figures["load_cores"] < 1
