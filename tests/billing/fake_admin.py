"""A fake Mistral Admin API over real HTTP on 127.0.0.1: the test sets each month's usage body.

Why not the simulator: these tests need bodies in shapes the simulator never serves (money
in micros inside a nested object, an entry in a changed shape), switched between polls.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import payloads as p


@dataclass
class FakeAdmin:
    url: str = ""
    usage: dict[str, Any] = field(default_factory=dict)  # "YYYY-MM" -> body
    requests: list[str] = field(default_factory=list)

    def body(self, path: str, query: dict[str, list[str]]) -> Any:
        if path == "/v1/admin/usage":
            month = f"{int(query['year'][0]):04d}-{int(query['month'][0]):02d}"
            return self.usage.get(month, {"completion": {"models": {}}, "currency": "EUR"})
        if path == "/v1/admin/spend-limit":
            return p.SPEND_LIMIT
        if path == "/v1/admin/rate-limit":
            return p.RATE_LIMIT
        return None


def _handler(fake: FakeAdmin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            fake.requests.append(parts.path)
            body = fake.body(parts.path, parse_qs(parts.query))
            data = json.dumps(body if body is not None else {"detail": "Not Found"}).encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    return Handler


@contextmanager
def serve() -> Iterator[FakeAdmin]:
    fake = FakeAdmin()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
