"""Serving the API with uvicorn: one process, or `api_workers` worker processes on one listener.

Each worker process builds its app (`worker_app`) and sets up logging as the parent does, so every
request is logged with its id whatever the number of workers. The workers share a listening socket
made here with TCP_NODELAY: uvicorn's own (for `workers` > 1) leaves Nagle's algorithm on for every
connection, and each keep-alive request after the first then waits about 40 ms for the client's
delayed ACK (Kludex/uvicorn#3149). Linux hands TCP_NODELAY down to the accepted connections.

With several workers, request metrics go through prometheus_client's multiprocess mode: the workers
write them to files in one directory (PROMETHEUS_MULTIPROC_DIR, given or a temporary one made here and
removed at exit), so `/metrics` on any worker and PLANTWATCH_METRICS_PORT (served by this parent process)
report the whole API, not one worker's share.

Once the app is built, the objects alive then (the imported libraries: hundreds of thousands) are
frozen out of the garbage collector's reach: otherwise its full collections walk them all again and
again while requests allocate, which doubled the cost of a request of 100 machines (bench.api).
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from plantwatch.cli import common
from plantwatch.metrics import serve_metrics
from plantwatch.settings import Settings, get_settings


def setup_request_logging(settings: Settings) -> None:
    """Logging as the CLI's, with the request id in every line written while serving a request."""
    from api.middleware import RequestIdFilter

    common.setup_logging(settings)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(
            logging.Formatter(common.LOG_FORMAT.replace("%(name)s", "%(name)s [%(request_id)s]"))
        )


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory), from the same environment as the parent."""
    from api.app import create_app

    settings = get_settings()
    setup_request_logging(settings)
    return _frozen(create_app(settings))


def _frozen(app: FastAPI) -> FastAPI:
    gc.collect()
    gc.freeze()
    return app


def listener(host: str, port: int) -> socket.socket:
    """A bound TCP socket with TCP_NODELAY, for uvicorn's workers to accept on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@contextmanager
def shared_metrics_dir() -> Iterator[Path]:
    """A directory for the workers' metric files, set in the environment they inherit, empty at start."""
    from api.metrics import MULTIPROCESS_DIR_ENV

    given = os.environ.get(MULTIPROCESS_DIR_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # figures of an earlier run would be added to this one's
            stale.unlink()
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="plantwatch-api-metrics-") as made:
        os.environ[MULTIPROCESS_DIR_ENV] = made
        try:
            yield Path(made)
        finally:
            os.environ.pop(MULTIPROCESS_DIR_ENV, None)


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app
    from api.metrics import MULTIPROCESS_DIR_ENV, request_registry

    options: dict[str, Any] = {
        "log_level": settings.log_level.lower(),
        "access_log": False,  # api.requests logs each request, with its id and duration
    }
    setup_request_logging(settings)
    if settings.api_workers <= 1:
        # One process: its own registry, unless a multiprocess directory was given (then emptied first).
        given = MULTIPROCESS_DIR_ENV in os.environ
        with shared_metrics_dir() if given else nullcontext():
            serve_metrics(settings, "api", request_registry())
            uvicorn.run(_frozen(create_app(settings)), host=host, port=port, **options)
        return
    sock = listener(host, port)
    with shared_metrics_dir() as metrics_dir:
        logging.getLogger(__name__).info(
            "API on http://%s:%d with %d workers (request metrics in %s)",
            host,
            port,
            settings.api_workers,
            metrics_dir,
        )
        serve_metrics(settings, "api", request_registry())
        uvicorn.run(
            f"{__name__}:worker_app", factory=True, fd=sock.fileno(), workers=settings.api_workers, **options
        )
