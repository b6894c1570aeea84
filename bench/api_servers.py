"""The servers bench.api measures, as real processes: `plantwatch api` and the baseline app.

Each scenario gets a fresh one (`serve`): an overloaded API keeps working through the requests it has
already accepted long after their clients gave up, which would burden the next scenario. Both are uvicorn
with `WORKERS` worker processes (one Python process holds about one core, the GIL; the API through
PLANTWATCH_API_WORKERS, the baseline through --workers) on a free port of 127.0.0.1, started in `work`
(their logs there, no developer .env applies) with the bench's database, each in its own process
group; `check` sends a scenario's first request once (which also loads the RUL model) and refuses to
measure a scenario that does not answer what it should; `prewarm` answers every distinct request of the
scenario a few times before the clock starts, so that the workers' caches hold what a server that has
been up a while holds.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.common import REPO
from plantwatch.embedded import free_port

log = logging.getLogger("bench.api")

START_TIMEOUT_S = 90.0
STOP_GRACE_S = 5.0
SERIAL = 20
WORKERS = 2  # the machine's cores
# Each worker keeps its own caches and the kernel hands each connection to either: with 4 connections
# both workers get some (all 4 on one worker about 1 time in 8), and 5 answers of each request in a
# shuffled order leave few requests unseen by a worker that got connections.
PREWARM_PASSES = 5
PREWARM_CONNECTIONS = 4


class Servers:
    def __init__(self, database_url: str, work: Path, models_dir: Path) -> None:
        self.database_url = database_url
        self.work = work
        self.models_dir = models_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def serve(self, name: str) -> str:
        """Stop the running server, start `api` or `baseline`; its base URL once it answers."""
        self.stop()
        self.work.mkdir(parents=True, exist_ok=True)
        port = free_port()
        args = (
            ["-m", "plantwatch", "api"]
            if name == "api"
            else ["-m", "bench.api_baseline", "--workers", str(WORKERS)]
        )
        self.processes[name] = self._spawn(name, [*args, "--port", str(port)])
        url = f"http://127.0.0.1:{port}"
        self._wait(name, f"{url}/readyz" if name == "api" else f"{url}/constant")
        log.info("%s at %s (log in %s)", name, url, self.work)
        return url

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def check(self, base: str, requests: list[dict[str, Any]], key: str) -> float:
        """The first request answers 200 with a full answer (a page of 100, 1,440 buckets, one
        prediction); then `SERIAL` requests one after another: their median latency in ms, the time one
        request takes on an idle server (the rate one core could serve is about 1000 / that)."""
        took_s = []
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as client:
            for i in range(SERIAL + 1):
                request = requests[i % len(requests)]
                began = time.perf_counter()
                response = client.request(
                    request.get("method", "GET"), request["path"], params=request.get("params"),
                    json=request.get("json"), headers={"Accept-Encoding": "identity"},
                )  # fmt: skip
                took = time.perf_counter() - began
                if not response.is_success:
                    raise RuntimeError(
                        f"{request['path']} answered {response.status_code}: {response.text[:500]}"
                    )
                if i == 0:
                    _check_body(request["path"], response.json())
                else:
                    took_s.append(took)
        return round(statistics.median(took_s) * 1000, 2)

    def prewarm(self, base: str, requests: list[dict[str, Any]], key: str) -> float:
        """Every distinct request `PREWARM_PASSES` times, in a shuffled order, over
        `PREWARM_CONNECTIONS` connections at once; the seconds it took."""
        distinct = list({json.dumps(request, sort_keys=True): request for request in requests}.values())
        work = distinct * PREWARM_PASSES
        random.Random(0).shuffle(work)
        chunks = [work[k::PREWARM_CONNECTIONS] for k in range(PREWARM_CONNECTIONS)]
        began = time.perf_counter()
        with ThreadPoolExecutor(PREWARM_CONNECTIONS) as pool:
            list(pool.map(lambda chunk: _send_all(base, key, chunk), chunks))
        return round(time.perf_counter() - began, 1)

    def stop(self) -> None:
        """Stop the server; soon killed, since an overloaded one would first serve all it accepted."""
        for process in self.processes.values():
            process.terminate()
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the workers too, not only their supervisor
                process.wait()
        self.processes.clear()

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTWATCH_")}
        env.update(
            DATABASE_URL=self.database_url,
            PLANTWATCH_VAR_DIR=str(self.models_dir),
            PLANTWATCH_API_WORKERS=str(WORKERS),
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        )
        log_file = open(self.work / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        return subprocess.Popen(
            [sys.executable, *args], env=env, cwd=self.work, stdout=log_file, stderr=log_file,
            start_new_session=True,
        )  # fmt: skip

    def _wait(self, name: str, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                break
            try:
                if httpx.get(url, timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        tail = (self.work / f"{name}.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{name} did not answer {url}; its log ends:\n{tail}")


def _check_body(path: str, body: dict[str, Any]) -> None:
    sizes = {"items": 100, "points": 1440, "predictions": 1}
    for field, size in sizes.items():
        if field in body and len(body[field]) != size:
            raise RuntimeError(f"{path} answered {len(body[field])} {field}, not {size}")


def _send_all(base: str, key: str, requests: list[dict[str, Any]]) -> None:
    headers = {"X-API-Key": key, "Accept-Encoding": "identity"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for request in requests:
            client.request(
                request.get("method", "GET"), request["path"], params=request.get("params"),
                json=request.get("json"),
            ).raise_for_status()  # fmt: skip
