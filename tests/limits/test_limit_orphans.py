"""A reservation whose Redis reply never came back is released, not left to hold spend for 30 s.

The request path waits `limits_state_timeout_ms` for Redis. When the reply is late, the script may
still have run on the server: the request then goes on (fail open) or gets a 503 (fail closed)
without knowing its token holds part of the limit. Left alone, that hold lapses only after
RESERVATION_SECONDS, and a hard limit meanwhile refuses requests it has room for. A proxy on
loopback forwards the call to a real redis-server and drops the reply, as a network would.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from foundation.limit_rules import Limit
from gateway._limit_redis import RedisStore
from gateway._limiter import Limiter, LimitSettings
from gateway._metrics import Metrics
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.process]

BODY = b'{"model": "m", "max_tokens": 1000, "messages": []}'
COST = 1000 * 0.01
"""The request's worst case: no prompt, 1000 output tokens at 0.01 each."""


class ReplyDropper:
    """A TCP proxy on port 0 to `port`; while `dropping`, the server's replies are thrown away."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.dropping = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self.sockets += [client, server]
            for source, target, drops in ((client, server, False), (server, client, True)):
                thread = threading.Thread(target=self._pump, args=(source, target, drops), daemon=True)
                self.threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, target: socket.socket, drops: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if not (drops and self.dropping):
                    target.sendall(chunk)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self.threads:
            thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def test_a_reservation_whose_reply_was_lost_is_released_at_the_next_sync(redis_server: RedisServer) -> None:
    proxy = ReplyDropper(redis_server.port)
    now = datetime(2026, 3, 10, 10, 7, tzinfo=UTC).timestamp()
    limit = Limit(name="p daily", project="p", period="day", amount=1000.0)
    settings = LimitSettings(
        state_path=Path("unused.sqlite3"),
        state_url=f"redis://127.0.0.1:{proxy.port}/0",
        state_timeout=0.3,
        sync_seconds=3600,
        ledger_refresh_seconds=3600,
    )
    limiter = Limiter(
        limits=[limit],
        settings=settings,
        metrics=Metrics(),
        clock=lambda: now,
        pricer=lambda records: [0.0 for _ in records],
        units={"m": (0.0, 0.01)},
    )
    direct = RedisStore(redis_server.url, password=None, timeout=5)
    period = (limit.name, limiter.periods.of(limit, now).id)

    async def run() -> tuple[float, float, float]:
        await limiter.start()
        first = limiter.check("p", None, "m", BODY, "/v1/chat/completions")  # loads the script; its hold stays
        assert first is not None and len(first.held) == 1
        before = direct.reserved([period], now)[period]
        proxy.dropping = True
        verdict = limiter.check("p", None, "m", BODY, "/v1/chat/completions")
        assert verdict is not None and verdict.held == [], "the reply was dropped: the limiter cannot know its hold"
        orphaned = direct.reserved([period], now)[period]
        proxy.dropping = False
        await limiter.sync()
        left = direct.reserved([period], now)[period]
        await limiter.stop()
        return before, orphaned, left

    try:
        before, orphaned, left = asyncio.run(run())
    finally:
        direct.close()
        proxy.close()
    assert before == pytest.approx(COST)
    assert orphaned == pytest.approx(2 * COST), "the script ran on the server: its hold is there"
    assert left == pytest.approx(COST), f"the lost reservation still holds {left - COST} after a sync"
