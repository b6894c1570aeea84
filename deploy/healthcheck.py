"""Container health checks (docker-compose.yml runs them inside the plantwatch image): exit 0 if healthy.

    python deploy/healthcheck.py http URL             the URL answers 2xx within 5 s
    python deploy/healthcheck.py fresh FILE SECONDS   FILE was touched less than SECONDS ago
    python deploy/healthcheck.py tcp HOST:PORT ...    every address accepts a TCP connection

Standard library only, so it runs in any image with Python and needs no curl.
"""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

TIMEOUT_S = 5.0


def check_http(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status = int(response.status)
    except OSError as exc:  # URLError and HTTPError are OSErrors
        return f"{url}: {exc}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def check_fresh(path: str, max_age_s: str) -> str | None:
    try:
        age = time.time() - Path(path).stat().st_mtime
    except OSError as exc:
        return f"{path}: {exc}"
    return None if age <= float(max_age_s) else f"{path}: last touched {age:.0f} s ago (limit {max_age_s} s)"


def check_tcp(*addresses: str) -> str | None:
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=TIMEOUT_S).close()
        except OSError as exc:
            return f"{address}: {exc}"
    return None


CHECKS: dict[str, Callable[..., str | None]] = {"http": check_http, "fresh": check_fresh, "tcp": check_tcp}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        problem = CHECKS[argv[0]](*argv[1:])
    except (TypeError, ValueError) as exc:
        problem = f"bad arguments: {exc}"
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
