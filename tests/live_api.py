"""A real API server for tests that need one over HTTP (the dashboard, curl examples): uvicorn serving
`create_app(settings)` on a free port in a daemon thread."""

from __future__ import annotations

import threading
import time

import uvicorn

from api.app import create_app
from plantwatch.embedded import free_port
from plantwatch.settings import Settings


class ApiServer:
    """uvicorn serving `create_app(settings)` on a free port in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-api", daemon=True)

    def start(self, timeout_s: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the test API did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
