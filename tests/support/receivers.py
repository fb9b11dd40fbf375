"""Local HTTP receivers on loopback standing in for Slack, Teams and a webhook consumer.

Each records every request (`attempts`) and the ones it accepted (`accepted`); `replies` are
answered first (e.g. a 429 with `Retry-After`), `hold` keeps a request waiting (then answers
503: not accepted), `hold_after_accept` records it as accepted and then waits (the receiver
took it, the sender never heard back). It binds port 0 at its first start and keeps that port,
so it can be stopped and started on the same port.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

URL_TOKEN = "T0SECRET9/B0PATH7/xoxSecretWebhookToken42"
"""The secret part of every receiver URL: it must never appear on disk or in a log."""


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(kw_only=True)
class Receiver:
    port: int = 0
    ok_status: int = 200
    attempts: list[Request] = field(default_factory=list)
    accepted: list[Request] = field(default_factory=list)
    replies: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    hold: threading.Event | None = None
    hold_after_accept: threading.Event | None = None
    seen: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/{URL_TOKEN}"

    def handle(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        self.attempts.append(request)
        self.seen.set()
        if self.hold is not None:
            self.hold.wait(30)
            return 503, {}, b"held by the test"
        if self.replies:
            return self.replies.pop(0)
        self.accepted.append(request)
        if self.hold_after_accept is not None:
            self.hold_after_accept.wait(30)
        return self.ok_status, {}, b"ok"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, headers, reply = receiver.handle(Request(self.path, dict(self.headers), body))
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the sender was killed meanwhile

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
