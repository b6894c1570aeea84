"""Real recipients for the notification tests: an HTTP server and an SMTP server, each on a thread.

The SMTP server speaks just the part of the protocol that smtplib uses to send one message (EHLO,
MAIL, RCPT, DATA, QUIT); aiosmtpd is not among our dependencies.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpRecipient:
    url: str
    received: list[Received] = field(default_factory=list)
    failures_left: dict[str, int] = field(default_factory=dict)  # path → answers 500 this many times


@contextmanager
def http_recipient() -> Iterator[HttpRecipient]:
    recipient = HttpRecipient(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if recipient.failures_left.get(self.path, 0) > 0:
                recipient.failures_left[self.path] -= 1
                self.send_response(500)
            else:
                recipient.received.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recipient.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recipient
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpRecipient:
    port: int
    messages: list[tuple[str, list[str], str]] = field(default_factory=list)  # from, to, data


@contextmanager
def smtp_recipient() -> Iterator[SmtpRecipient]:
    recipient = SmtpRecipient(port=0)

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(f"{line}\r\n".encode())

        def handle(self) -> None:
            self.reply("220 test ESMTP")
            sender, recipients = "", []
            while line := self.rfile.readline().decode().rstrip("\r\n"):
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 test")
                elif verb == "MAIL":
                    sender = line.split(":", 1)[1].strip(" <>")
                    self.reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(line.split(":", 1)[1].strip(" <>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 end with .")
                    data = []
                    while (part := self.rfile.readline().decode()) not in (".\r\n", ""):
                        data.append(part)
                    recipient.messages.append((sender, recipients, "".join(data)))
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recipient.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recipient
    finally:
        server.shutdown()
        server.server_close()
