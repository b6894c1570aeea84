"""The listener `plantwatch api` serves its worker processes on: connections accepted on it must not
wait on Nagle's algorithm (uvicorn's own listener for workers loses TCP_NODELAY, ~40 ms a request)."""

from __future__ import annotations

import socket

from plantwatch.cli.api_server import listener
from plantwatch.embedded import free_port


def test_accepted_connections_have_tcp_nodelay() -> None:
    server = listener("127.0.0.1", free_port())
    server.listen()
    with server, socket.create_connection(server.getsockname(), timeout=5):
        accepted, _ = server.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
