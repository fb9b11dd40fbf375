"""uvicorn's HTTP/1.1 protocol with two defences it lacks: a client timeout and a connection cap.

Why here: uvicorn times out idle keep-alive connections, but nothing bounds how long a client
may take to send its request head, or stall in its body; 300 clients sending half a header held
300 descriptors forever, the process hit its open-file limit and /healthz stopped answering.
(`limit_concurrency` answers 503 only once a head is complete, so it cannot help.) So each
connection has one timer: while the gateway waits for the client's bytes (a head, or a body it
is ready to read), `client_timeout_seconds` of silence closes the connection (408 if no request
was ever answered on it). And past `max_client_connections` open connections (kept below the process's
open-file limit, with room for the upstream pool) a new one gets a 503 and is closed at once.

Example:
    >>> from gateway.config import GatewayConfig
    >>> connection_cap(GatewayConfig(max_client_connections=1000), open_files=1024)   # what the fd limit leaves
    860
    >>> issubclass(protocol_class(GatewayConfig(), Metrics()), H11Protocol)   # uvicorn.run(app, http=this class)
    True
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from foundation.log import event_logger

from ._metrics import Metrics
from .config import GatewayConfig

log = event_logger("gateway")

FILES_RESERVED = 64
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 1\r\n\r\n"


def connection_cap(config: GatewayConfig, open_files: int | None = None) -> int:
    """max_client_connections, lowered to what the open-file limit leaves after the upstream pool."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0] if open_files is None else open_files
    if soft == resource.RLIM_INFINITY:
        return config.max_client_connections
    room = soft - config.max_connections - FILES_RESERVED
    return max(1, min(config.max_client_connections, room))


def protocol_class(config: GatewayConfig, metrics: Metrics) -> type[H11Protocol]:
    """An H11Protocol subclass bound to this config's limits (uvicorn takes a class, not an instance)."""
    cap = connection_cap(config)
    if cap < config.max_client_connections:
        log.warning("connection_cap_lowered", max_client_connections=cap, reason="the process's open-file limit")

    class GuardedProtocol(_Guarded):
        limit = cap
        timeout = config.client_timeout_seconds
        counters = metrics

    return GuardedProtocol


class _Guarded(H11Protocol):
    limit: int
    timeout: float
    counters: Metrics

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.last_heard = self.loop.time()
        self.timer: asyncio.TimerHandle | None = None
        self.served = False
        if len(self.connections) > self.limit:
            self.counters.connections_refused += 1
            transport.write(_BUSY)
            transport.close()
            return
        self.timer = self.loop.call_later(self.timeout, self._check)

    def data_received(self, data: bytes) -> None:
        self.last_heard = self.loop.time()
        super().data_received(data)

    def on_response_complete(self) -> None:
        self.served = True
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        super().connection_lost(exc)

    def _waiting_for_client(self) -> bool:
        state = self.conn.their_state
        return state is h11.IDLE or (state is h11.SEND_BODY and not self.flow.read_paused)

    def _check(self) -> None:
        """Close a connection silent for `timeout` while its bytes are awaited; else look again later."""
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if not self._waiting_for_client():
            self.last_heard = now  # the client owes nothing now (a response is under way): silence is fine
        elif now - self.last_heard >= self.timeout:
            self.counters.client_timeouts += 1
            if not self.served and self.conn.their_state is h11.IDLE:
                self.transport.write(_TIMEOUT)  # never on a reused connection: a new request may cross it
            self.transport.close()
            return
        self.timer = self.loop.call_later(max(self.last_heard + self.timeout - now, 0.05), self._check)


def server_options(config: GatewayConfig, metrics: Metrics) -> dict[str, Any]:
    """The uvicorn.run keyword arguments for this config."""
    return {
        "host": config.host,
        "port": config.port,
        "http": protocol_class(config, metrics),
        "log_level": "warning",
        "access_log": False,
        "server_header": False,
        "date_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": 30,
    }
