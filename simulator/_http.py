"""The HTTP face of the simulator: contract v1 over a stdlib threading server.

Why the stdlib server: pages are pre-encoded bytes, so the server only parses a query string
and writes one buffer; measured, that already serves several hundred thousand records a second
over loopback, and it runs in a background thread inside a test without an event loop.

Example:
    >>> import httpx
    >>> sim = start_server(seed=3, days=1, rate=2.0)
    >>> httpx.get(sim.url + "/v1/usage/requests", params={"limit": 5}).json()["has_more"]
    True
    >>> sim.close()
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from foundation.log import event_logger
from foundation.usage_contract import BadParameter, error_body, page_size

from ._admin import ADMIN_PREFIX, AdminBilling
from ._cursor import CursorError, Position, decode, encode
from ._incidents import HOUR_MS, Runaway
from ._store import Store

log = event_logger("simulator")

USAGE_PATH = "/v1/usage/requests"


class Settings:
    """What one simulator serves: the workload, its history, its token and clock.

    The history starts `days` before the server started, on a whole minute, and stays put while
    it runs, so that two scans of a running simulator agree on old records.
    """

    def __init__(
        self,
        *,
        seed: int,
        days: float,
        rate: float,
        token: str | None,
        bad_every: int,
        clock: Callable[[], float],
        runaway: Runaway | None = None,
    ) -> None:
        self.store = Store(seed=seed, rate=rate, bad_every=bad_every, cache_hours=int(days * 24) + 3, runaway=runaway)
        self.days, self.token, self.clock = days, token, clock
        self.first = Position(int(clock() * 1000 - days * 86_400_000) // 60_000, 0)
        self.admin = AdminBilling(seed=seed, rate=rate, days=days, clock=clock, token=token)

    def preload(self) -> int:
        """Generate the whole history up to now; return how many records it holds."""
        return self.store.preload(range(self.first.minute // 60, int(self.clock() * 1000) // HOUR_MS + 1))


def _error(message: str, kind: str, code: str) -> bytes:
    return orjson.dumps(error_body(int(code), kind, message))


class Handler(BaseHTTPRequestHandler):
    """GET /v1/usage/requests and GET /healthz; everything else is a JSON 404."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the body goes out in several writes
    server: SimulatorHTTPServer

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        """Route the request; an unexpected failure is still a JSON error, never a dropped connection."""
        try:
            self._route()
        except Exception:
            log.exception("request_failed", path=self.path[:200])
            self._send(500, _error("internal error; retry later", "server_error", "500"))

    def _route(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._send(200, b'{"status":"ok"}')
        elif url.path.startswith(ADMIN_PREFIX):
            self._send(*self.server.settings.admin.response(url.path, parse_qs(url.query), self.headers))
        elif url.path != USAGE_PATH:
            self._send(404, _error(f"no route {url.path[:80]!r}; use {USAGE_PATH}", "not_found", "404"))
        elif not self._authorised():
            message = "Unauthorized: send the header 'Authorization: Bearer <token>' with the right token"
            self._send(401, _error(message, "unauthorized", "401"))
        else:
            self._usage(parse_qs(url.query, keep_blank_values=True))

    def _authorised(self) -> bool:
        token = self.server.settings.token
        if token is None:
            return True
        sent = self.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())

    def _usage(self, query: dict[str, list[str]]) -> None:
        settings = self.server.settings
        try:
            limit = page_size(query["limit"][-1] if query.get("limit") else None)
            after = (query.get("after") or [""])[-1]
            asked = decode(after) if after else None
        except (BadParameter, CursorError) as exc:
            self._send(400, _error(str(exc), "invalid_request_error", "400"))
            return
        now_ms = int(settings.clock() * 1000)
        start = max(asked or Position(0, 0), settings.first)
        page = settings.store.page(start, limit, now_ms)
        cursor = encode(page.last) if page.last else after or encode(start)
        tail = orjson.dumps({"next_cursor": cursor, "has_more": page.has_more})
        parts = page.parts[:-1] + [page.parts[-1][:-1]] if page.parts else []
        self._send(200, b'{"object":"list","data":[', *parts, b"]," + tail[1:])

    def _send(self, status: int, *body: bytes | memoryview) -> None:
        """Write the response; the body goes out in pieces so that cached pages are not copied."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(sum(len(piece) for piece in body)))
        self.end_headers()
        for piece in body:
            self.wfile.write(piece)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("request", client=self.address_string(), line=format % args)


class SimulatorHTTPServer(ThreadingHTTPServer):
    """A threading server that carries the simulator's settings for its handlers."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], settings: Settings) -> None:
        super().__init__(address, Handler)
        self.settings = settings


class SimulatorHandle:
    """A simulator running in a background thread; `url` has no trailing slash."""

    def __init__(self, server: SimulatorHTTPServer, host: str) -> None:
        self.server = server
        self.url = f"http://{host}:{server.server_port}"
        self._thread = threading.Thread(target=server.serve_forever, name="simulator", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C still interrupts: the join polls)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()
        self.server.settings.store.close()
        self._thread.join()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_server(
    seed: int = 0,
    days: float = 30,
    rate: float = 6.0,
    *,
    token: str | None = None,
    bad_every: int = 0,
    host: str = "127.0.0.1",
    port: int = 0,
    preload: bool = False,
    clock: Callable[[], float] = time.time,
    runaway: Runaway | None = None,
) -> SimulatorHandle:
    """Serve the simulated endpoint in a background thread (port 0: any free port).

    `clock` returns epoch seconds; a fixed clock makes the visible records fixed too.
    `preload` generates the whole history before the port opens, instead of on first read.
    `runaway` sends one key's requests x20 for an hour (simulator._incidents.Runaway).
    """
    settings = Settings(seed=seed, days=days, rate=rate, token=token, bad_every=bad_every, clock=clock, runaway=runaway)
    if preload:
        started = time.perf_counter()
        count = settings.preload()
        log("preloaded", records=count, duration_s=round(time.perf_counter() - started, 1))
    return SimulatorHandle(SimulatorHTTPServer((host, port), settings), host)
