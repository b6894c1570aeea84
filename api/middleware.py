"""ASGI middleware of the API: request ids, request metrics and log lines, body limits, ETags.

Written as plain ASGI callables rather than Starlette's BaseHTTPMiddleware, which costs a task and
a copy per request and would show in the API's latency figures (bench.api).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import observe_request

log = logging.getLogger("api.requests")

REQUEST_ID_HEADER = "x-request-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Gives every log record the id of the request it was written under (`-` outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def route_template(scope: Scope) -> str | None:
    """The matched route's full path template, e.g. /api/v1/alerts/{alert_id}; None if none matched."""
    # FastAPI ≥ 0.16x keeps the prefixed path in its route context; `route.path` lacks the prefixes.
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(context, "path", None) or getattr(scope.get("route"), "path", None)
    return str(path) if path else None


class RequestContextMiddleware:
    """Takes the caller's X-Request-ID (or makes one), echoes it, logs and measures each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = given if given and _VALID_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope) or "unmatched"  # raw paths would make a label per machine
            observe_request(scope["method"], route, status, seconds)
            log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, seconds * 1000)
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """413 for bodies over the limit: at once from Content-Length, else as soon as the count passes it."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = _header(scope, b"content-type") or ""
        # Multipart bodies are image uploads, whose own limit is image_max_bytes (plus the form's framing).
        limit = self.max_upload_bytes if content_type.startswith("multipart/") else self.max_bytes
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _send_json(send, 413, "too_large", f"the request body has more than {limit} bytes")
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"the request body has more than {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


class ETagMiddleware:
    """A strong ETag on every 200 answer to a GET that has none, and 304 when If-None-Match has it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffering_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                has_etag = any(k.lower() == b"etag" for k, _ in message.get("headers", []))
                if message["status"] != 200 or has_etag:  # e.g. images, tagged by their SHA-256
                    await send(message)
                    return
                start = message
                return
            if start is None:  # not a 200: passed through as it comes
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._finish(scope, send, start, b"".join(chunks))

        await self.app(scope, receive, buffering_send)

    @staticmethod
    async def _finish(scope: Scope, send: Send, start: Message, body: bytes) -> None:
        etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"etag", etag.encode()))
        wanted = _header(scope, b"if-none-match")
        if wanted and (
            wanted.strip() == "*" or etag in [t.strip().removeprefix("W/") for t in wanted.split(",")]
        ):
            headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, code: str, detail: Any) -> None:
    body = json.dumps({"error": code, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ConcurrencyLimitMiddleware:
    """At most `limit` requests are served at once; the others wait their turn here, holding nothing.

    Without it, a burst lets many requests take a pooled database connection in their dependencies
    and then wait for a worker thread that is itself waiting for a connection: the API deadlocks.
    The liveness probe never waits.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # made in the server's event loop
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)
