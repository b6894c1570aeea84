"""Serving the API with uvicorn: one process, or `api_workers` worker processes on one listener.

Each worker process builds its app (`worker_app`) and sets up logging as the parent does, so every
request is logged with its id whatever the number of workers. The workers share a listening socket
made here with TCP_NODELAY: uvicorn's own (for `workers` > 1) leaves Nagle's algorithm on for every
connection, and each keep-alive request after the first then waits about 40 ms for the client's
delayed ACK (Kludex/uvicorn#3149). Linux hands TCP_NODELAY down to the accepted connections.

Once the app is built, the objects alive then (the imported libraries: hundreds of thousands) are
frozen out of the garbage collector's reach: otherwise its full collections walk them all again and
again while requests allocate, which doubled the cost of a request of 100 machines (bench.api).
"""

from __future__ import annotations

import gc
import logging
import socket
from typing import Any

from fastapi import FastAPI

from plantwatch.cli import common
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


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    options: dict[str, Any] = {
        "log_level": settings.log_level.lower(),
        "access_log": False,  # api.requests logs each request, with its id and duration
    }
    setup_request_logging(settings)
    if settings.api_workers <= 1:
        uvicorn.run(_frozen(create_app(settings)), host=host, port=port, **options)
        return
    sock = listener(host, port)
    logging.getLogger(__name__).info("API on http://%s:%d with %d workers", host, port, settings.api_workers)
    uvicorn.run(
        f"{__name__}:worker_app", factory=True, fd=sock.fileno(), workers=settings.api_workers, **options
    )
