"""Assemble the gateway: the Starlette app, its parts, and their start and stop order.

Why the catch-all route: every path that is not the gateway's own (/healthz, /metrics,
/v1/usage/requests) belongs to the upstream API, whatever the method.

Example:
    >>> from dataclasses import replace
    >>> from pathlib import Path
    >>> from starlette.testclient import TestClient
    >>> from gateway.config import load_config, read_secrets
    >>> config = replace(load_config(None), db_path=Path("gateway.sqlite3"))
    >>> secrets = read_secrets(config, {"GATEWAY_USAGE_TOKEN": "usage-token-1", "GATEWAY_KEY_SALT": "key-salt-1"})
    >>> with TestClient(create_app(config, secrets)) as client:      # in production: uvicorn.run(app, ...)
    ...     client.get("/healthz").json()["status"]
    'ok'
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from foundation.limit_rules import LimitBook, LimitRuleError, load_book
from foundation.log import event_logger
from foundation.scrub import register_secret

from ._buffer import Buffer
from ._limit_ledger import Refresher, ledger_refresher
from ._limiter import Limiter, LimitSettings
from ._metrics import Metrics
from ._proxy import Forwarder
from ._recorder import Recorder
from ._usage_api import UsageEndpoint
from .config import GatewayConfig, Secrets
from .errors import ConfigError

log = event_logger("gateway")


def create_app(
    config: GatewayConfig, secrets: Secrets, metrics: Metrics | None = None, clock: Callable[[], float] = time.time
) -> Starlette:
    """The ASGI app; the buffer opens now (and is locked), the upstream pool and the writer on startup.

    `clock` (seconds since the epoch) is the limits' time and the records' timestamps: a test injects it
    to cross a period's end.
    """
    register_secret(secrets.usage_token)
    register_secret(secrets.key_salt)
    if secrets.limits_state_password:
        register_secret(secrets.limits_state_password)
    metrics = metrics or Metrics()
    limiter = build_limiter(config, metrics, clock, secrets.limits_state_password)
    buffer = Buffer(config.db_path, config.sqlite_synchronous)
    usage = UsageEndpoint(buffer, secrets.usage_token)
    recorder = Recorder(buffer=buffer, metrics=metrics, retention_days=config.retention_days)
    forwarder = Forwarder(
        config=config, secrets=secrets, recorder=recorder, metrics=metrics, limiter=limiter, clock=clock
    )

    async def healthz(request: Request) -> Response:
        status = "degraded" if limiter.degraded else "ok"  # the limits' state failed: see gateway_limit_state_*
        return JSONResponse({"status": status, "upstream": config.upstream_url, "pending": recorder.pending})

    async def prometheus(request: Request) -> Response:
        text = metrics.render(buffered=await usage.buffered(), pending=recorder.pending)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await forwarder.start()
        await recorder.start()
        await limiter.start()
        log("gateway_started", upstream=config.upstream_url, db=str(config.db_path), host=config.host, port=config.port)
        try:
            yield
        finally:
            await recorder.stop()
            await limiter.stop()
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


def build_limiter(
    config: GatewayConfig, metrics: Metrics, clock: Callable[[], float] = time.time, password: str | None = None
) -> Limiter:
    """The limits of `budgets_file` (none without one); ConfigError naming the key for a bad file.

    The ledger's refresher is built once a spend limit exists, at start or by a later reload.
    """
    book = LimitBook()
    if config.budgets_file is not None:
        if not config.budgets_file.exists():
            log.warning("limits_file_missing", path=str(config.budgets_file), detail="no limits until it is created")
        try:
            book = load_book(config.budgets_file)
        except LimitRuleError as exc:
            raise ConfigError(f"budgets_file: {exc}") from None
    ledger_dir, source = config.ledger_dir, config.ledger_source

    def ledger() -> Refresher:
        assert ledger_dir is not None
        return ledger_refresher(ledger_dir, source)

    settings = LimitSettings(
        state_path=config.limits_state_path,
        state_url=config.limits_state_url,
        state_password=password,
        timezone=config.limits_timezone,
        currency=config.limits_currency,
        fail_closed=config.limits_fail_closed,
        state_timeout=config.limits_state_timeout_ms / 1000,
        ledger_refresh_seconds=config.ledger_refresh_seconds,
        collector_config=config.collector_config,
    )
    return Limiter(
        limits=book.limits,
        projects=book.projects,
        settings=settings,
        metrics=metrics,
        clock=clock,
        ledger=ledger if ledger_dir is not None else None,
        source=config.budgets_file,
    )
