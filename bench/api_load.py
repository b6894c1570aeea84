"""The open-loop load generator of bench.api, run as its own process: `python -m bench.api_load SPEC`.

SPEC is a JSON file: `base_url`, `headers`, `rps`, `warmup_s`, `duration_s` and `requests`, a list of
`{"method", "path", "params", "json"}` sent in turn. Request i is due at i / rps seconds from the start,
whatever the earlier ones did (open loop: a slow answer never delays the next request), and its latency
runs from that due time to the end of its response body, so a stall of the server, or of this process
(it shares the cores), counts. Only requests due after the warm-up are measured; the achieved rate is the
successful responses completed within the measured window over its length. The figures are one JSON line
on stdout.

The client is a minimal HTTP/1.1 one over asyncio streams, with a pool of keep-alive connections (a new
one opens whenever none is idle): httpx spent about 9 ms of CPU per request here, more than the server.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.common import percentile

TIMEOUT_S = 5.0
MAX_CONNECTIONS = 256  # as wrk's -c: beyond them a request waits for a free one (its latency runs on)
IDLE_S = 3.0  # an idle connection is dropped before uvicorn closes it (its keep-alive timeout is 5 s)


@dataclass(frozen=True)
class Sample:
    """One request, in seconds since the start: when it was due, sent, answered; and whether it succeeded."""

    due: float
    sent: float
    done: float
    ok: bool


def schedule(rps: float, seconds: float) -> list[float]:
    """Due times of a fixed rate: i / rps for every i with i / rps < seconds."""
    if rps <= 0 or seconds <= 0:
        raise ValueError("rps and seconds must be positive")
    count = int(seconds * rps - 1e-9) + 1
    return [i / rps for i in range(count)]


def summarize(samples: list[Sample], rps: float, warmup_s: float, duration_s: float) -> dict[str, Any]:
    """target_rps, rps, p50_ms, p99_ms, errors of the requests due in [warmup, warmup + duration)."""
    end = warmup_s + duration_s
    measured = [s for s in samples if warmup_s <= s.due < end]
    completed = sum(1 for s in samples if s.ok and warmup_s <= s.done < end)
    latencies = [s.done - s.due for s in measured]
    lags = [s.sent - s.due for s in measured]
    return {
        "target_rps": rps,
        "rps": round(completed / duration_s, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 2) if latencies else None,
        "errors": sum(1 for s in measured if not s.ok),
        "requests": len(measured),
        "send_lag_p99_ms": round(percentile(lags, 99) * 1000, 2) if lags else None,
    }


class Client:
    """Keep-alive HTTP/1.1 connections to one host; reads Content-Length and chunked bodies."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.headers = f"Host: {url.netloc}\r\n{extra}"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened: list[asyncio.StreamWriter] = []
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    def encode(self, request: dict[str, Any]) -> bytes:
        target = request["path"] + (f"?{urlencode(request['params'])}" if request.get("params") else "")
        body = json.dumps(request["json"]).encode() if "json" in request else b""
        head = f"{request.get('method', 'GET')} {target} HTTP/1.1\r\n{self.headers}"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return (head + "\r\n").encode() + body

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        async with self.slots:
            return await self._send(raw)

    async def _send(self, raw: bytes) -> tuple[int, bytes]:
        """The status and body of one request; the connection goes back to the pool unless it failed."""
        while self.idle:
            reader, writer, since = self.idle.pop()
            if time.perf_counter() - since < IDLE_S and not reader.at_eof():
                break
            writer.close()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.opened.append(writer)
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        if fields.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += (await reader.readexactly(size + 2))[:-2]
            await reader.readuntil(b"\r\n")
        else:
            body = await reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() != "close":
            self.idle.append((reader, writer, time.perf_counter()))
        return status, body

    def close(self) -> None:
        for writer in self.opened:
            writer.close()


async def _one(client: Client, raw: bytes, due: float, start: float, out: list[Sample]) -> None:
    sent = time.perf_counter() - start
    ok = False
    try:
        status, body = await asyncio.wait_for(client.send(raw), TIMEOUT_S)
        ok = 200 <= status < 300
        if not ok:
            print(f"{status} {raw[:120]!r}: {body[:300]!r}", file=sys.stderr)
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, TimeoutError) as exc:
        print(f"{type(exc).__name__} {raw[:120]!r}: {exc}", file=sys.stderr)
    out.append(Sample(due, sent, time.perf_counter() - start, ok))


async def run(spec: dict[str, Any]) -> tuple[list[Sample], float]:
    """Send the spec's requests on schedule; the samples and this process's CPU seconds per second."""
    client = Client(spec["base_url"], spec.get("headers") or {})
    requests = [client.encode(request) for request in spec["requests"]]
    due_times = schedule(spec["rps"], spec["warmup_s"] + spec["duration_s"])
    samples: list[Sample] = []
    tasks = []
    cpu_before, start = time.process_time(), time.perf_counter() + 0.05
    for i, due in enumerate(due_times):
        delay = start + due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(client, requests[i % len(requests)], due, start, samples)))
    await asyncio.gather(*tasks)
    cores = (time.process_time() - cpu_before) / (time.perf_counter() - start)
    client.close()
    return samples, cores


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.api_load SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text())
    samples, cores = asyncio.run(run(spec))
    result = summarize(samples, spec["rps"], spec["warmup_s"], spec["duration_s"])
    result["load_cores"] = round(cores, 2)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
