"""Assemble the gateway: the Starlette app, its parts, and their start and stop order.

Why the catch-all route: every path that is not the gateway's own (/healthz, /metrics,
/v1/usage/requests) belongs to the upstream API, whatever the method.

Example:
    >>> app = create_app(load_config(None), read_secrets(load_config(None)))
    >>> uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ._buffer import Buffer
from ._log import log, register_secret
from ._metrics import Metrics
from ._proxy import Forwarder
from ._recorder import Recorder
from ._usage_api import UsageEndpoint
from .config import GatewayConfig, Secrets


def create_app(config: GatewayConfig, secrets: Secrets, metrics: Metrics | None = None) -> Starlette:
    """The ASGI app; the buffer opens now (and is locked), the upstream pool and the writer on startup."""
    register_secret(secrets.usage_token)
    register_secret(secrets.key_salt)
    metrics = metrics or Metrics()
    buffer = Buffer(config.db_path, config.sqlite_synchronous)
    usage = UsageEndpoint(buffer, secrets.usage_token)
    recorder = Recorder(buffer, metrics, config.retention_days)
    forwarder = Forwarder(config, secrets, recorder, metrics)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "upstream": config.upstream_url, "pending": recorder.pending})

    async def prometheus(request: Request) -> Response:
        text = metrics.render(buffered=await usage.buffered(), pending=recorder.pending)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await forwarder.start()
        await recorder.start()
        log("gateway_started", upstream=config.upstream_url, db=str(config.db_path), host=config.host,
            port=config.port)  # fmt: skip
        try:
            yield
        finally:
            await recorder.stop()
            await forwarder.stop()
            usage.close()
            buffer.close()
            log("gateway_stopped", records_written=metrics.records_written, record_failures=metrics.record_failures)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/v1/usage/requests", usage.handle, methods=["GET"]),
        Route("/{path:path}", forwarder, methods=None),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
