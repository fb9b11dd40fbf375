"""The forwarder: every request that is not the gateway's own goes upstream, byte for byte.

Why raw ASGI and one pooled aiohttp session: this is the hot path, and measured on a 2-core
machine aiohttp direct is several times faster than httpx's default transport. Both bodies are
relayed as they arrive (a large upload or an SSE stream is never held whole); a copy of the
response goes through an observer that keeps only what the record needs. Before anything goes
upstream the request's intent is committed (see _recorder). A watcher task waits on
`receive()` once the request body has been read: when the client disconnects it cancels the
forwarding, which closes the upstream connection, so a dropped stream stops generating (and
billing) upstream, and the record says `cancelled`. A body over `max_request_body_mib` gets a
413 (at once when its Content-Length says so, else when the count passes the limit).

Example:
    >>> error_body(413, "request_too_large", "over 513 MiB")   # the gateway's own errors, shaped like Mistral's
    {'object': 'error', 'message': 'over 513 MiB', 'type': 'request_too_large', 'param': None, 'code': '413'}
    >>> # a Forwarder is the app's catch-all route: Route("/{path:path}", Forwarder(config=..., ...))
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from yarl import URL

from foundation.limit_rules import normal_name
from foundation.log import event_logger
from foundation.usage_contract import error_body

from ._body import MIB, RequestBody
from ._endpoints import billable, endpoint_template
from ._estimate import TOKEN_BILLED
from ._headers import downstream_headers, upstream_headers
from ._limiter import Limiter, Verdict
from ._metrics import Metrics
from ._observe import observer_for, seen_so_far
from ._record import (
    CLIENT_CLOSED,
    Exchange,
    KeyFingerprints,
    attempt_from,
    build_record,
    interrupted_record,
    ratelimit_from,
    read_request,
)
from ._recorder import Recorder
from ._relay import relay_chunks, relay_whole, send_start
from ._units import zone_for
from .config import GatewayConfig, Secrets

log = event_logger("gateway")

Scope = dict[str, Any]
Receive = Any
Send = Any
SMALL_BODY = 1024 * 1024
_SKIP_AUTO = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
WARNING_HEADER = b"x-gateway-limit-warning"


class Forwarder:
    def __init__(
        self,
        *,
        config: GatewayConfig,
        secrets: Secrets,
        recorder: Recorder,
        metrics: Metrics,
        limiter: Limiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock` (seconds since the epoch) stamps each record: the limits' time, so both agree on its period."""
        self.config = config
        self.clock = clock
        self.limiter = limiter if limiter is not None and limiter.active else None
        self.base = config.upstream_url
        self.recorder = recorder
        self.metrics = metrics
        self.fingerprint = KeyFingerprints(secrets.key_salt)
        self.project_header = config.project_header.encode()
        self.require_bound = config.require_known_project
        self.retry_headers = tuple(h.encode() for h in config.retry_count_headers)
        self.limit = config.max_request_body_mib * MIB
        self.zone = zone_for(config.upstream_url, config.api_zone)
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.config.connect_timeout_seconds, sock_read=self.config.read_timeout_seconds
        )
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.config.max_connections, ttl_dns_cache=300),
            timeout=timeout,
            auto_decompress=False,
            skip_auto_headers=_SKIP_AUTO,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        template = endpoint_template(scope["path"])
        ex = Exchange(method=scope["method"], endpoint=template, zone=self.zone, wall=self.clock())
        ex.billable = billable(ex.method, template)
        headers, seen = upstream_headers(scope["headers"], self.project_header, self.retry_headers)
        ex.attempt = attempt_from(seen.retry_count)
        ex.api_key_id = self.fingerprint(seen.authorization)
        ex.project = self.limiter.project_of(seen.project, ex.api_key_id) if self.limiter else normal_name(seen.project)
        body = RequestBody(receive, self.limit, seen.content_length)
        first = b"" if body.too_large else await body.head()
        if first is None:
            return
        if body.too_large:
            return await self._refuse(send, ex)
        if self.require_bound and not (self.limiter is not None and self.limiter.bound(ex.api_key_id)):
            return await self._unbound(send, ex)
        ex.facts = read_request(first, seen.content_type, body.complete, template)
        ex.model, ex.stream = ex.facts.model, ex.facts.stream
        limiter = self.limiter
        verdict = limiter.check(ex.project, ex.api_key_id, ex.model, first, template) if limiter is not None else None
        if verdict is not None and verdict.status != 200:
            return await self._limited(send, ex, verdict)
        ex.held = verdict.held if verdict is not None else []
        warnings = verdict.warnings if verdict is not None else None
        ex.request_body = first if template in TOKEN_BILLED and body.complete else None
        ex.key = await self.recorder.begin(interrupted_record(ex))
        task = asyncio.current_task()
        watchers: list[asyncio.Task[None]] = []

        def watch() -> None:
            watchers.append(asyncio.create_task(_watch(receive, task, ex)))

        if body.complete:
            watch()
            data: Any = first or None
        else:
            body.on_complete = watch
            data = body.stream(first)
            if seen.content_length is not None:
                headers.append(("Content-Length", str(seen.content_length)))
        try:
            await self._forward(scope, headers, data, body, send, ex, warnings)
        except asyncio.CancelledError:
            if not ex.cancelled or task is None:
                raise
            task.uncancel()
            self._client_gone(ex)
        finally:
            ex.done = True
            ex.request_size = body.received
            for watcher in watchers:
                watcher.cancel()
            self._record(ex)

    async def _forward(
        self,
        scope: Scope,
        headers: list[tuple[str, str]],
        data: Any,
        body: RequestBody,
        send: Send,
        ex: Exchange,
        warnings: list[str] | None = None,
    ) -> None:
        assert self.session is not None, "Forwarder.start() was not awaited"
        try:
            response = await self.session.request(
                ex.method, self._url(scope), headers=headers, data=data, allow_redirects=False
            )
        except TimeoutError:
            return await self._fail(send, ex, 504, "upstream_timeout", "the upstream API did not answer in time")
        except (aiohttp.ClientError, OSError) as exc:
            if body.too_large:
                return await self._refuse(send, ex)
            if body.gone:
                return self._client_gone(ex)
            return await self._fail(send, ex, 502, "upstream_unavailable", f"the upstream API is unreachable: {exc}")
        relayed = False
        try:
            relayed = await self._relay(response, send, ex, warnings)
        finally:
            if relayed:
                response.release()
            else:
                response.close()

    def _url(self, scope: Scope) -> URL:
        """The upstream URL with the path and query exactly as the client encoded them."""
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = (scope.get("query_string") or b"").decode("latin-1")
        return URL(self.base + path + ("?" + query if query else ""), encoded=True)

    async def _relay(
        self, response: aiohttp.ClientResponse, send: Send, ex: Exchange, warnings: list[str] | None = None
    ) -> bool:
        """Send the upstream response on; True when it was relayed whole."""
        ex.status = response.status
        ex.ratelimit = ratelimit_from(response.raw_headers)
        content_type = response.headers.get("content-type", "")
        ex.stream = ex.stream or content_type.startswith("text/event-stream")
        ex.observer = observer_for(content_type, response.headers.get("content-encoding", ""))
        sent_headers = downstream_headers(response.raw_headers)
        if warnings:
            sent_headers.append((WARNING_HEADER, _header_text("; ".join(warnings))))
        start = {"type": "http.response.start", "status": response.status, "headers": sent_headers}
        whole = response.content_length is not None and response.content_length <= SMALL_BODY and not ex.stream
        try:
            await (relay_whole if whole else relay_chunks)(response, send, start, ex, self.complete, self.note)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return await self._broken(send, ex, exc)
        return True

    async def _broken(self, send: Send, ex: Exchange, exc: BaseException) -> bool:
        """The upstream failed mid-body: a clean error if nothing was sent yet, else cut the response."""
        timeout = isinstance(exc, TimeoutError)
        kind = "upstream_timeout" if timeout else "upstream_unavailable"
        if not ex.response_started:
            await self._fail(send, ex, 504 if timeout else 502, kind, f"the upstream response broke off: {exc!r}")
            return False
        ex.error_type = kind
        self.metrics.upstream_failures[kind] += 1
        log.warning("upstream_broken_mid_response", endpoint=ex.endpoint, error=repr(exc))
        return False

    async def _limited(self, send: Send, ex: Exchange, verdict: Verdict) -> None:
        """A hard limit (429) or unavailable state with fail-closed (503): answered here, never forwarded."""
        kind = "limit_exceeded" if verdict.status == 429 else "limits_unavailable"
        ex.billable = False
        retry = [(b"retry-after", str(verdict.retry_after).encode())]
        await self._answer(send, ex, verdict.status, error_body(verdict.status, kind, verdict.message), retry)

    async def _unbound(self, send: Send, ex: Exchange) -> None:
        """require_known_project: a key the budgets file binds to no project is refused, never forwarded."""
        ex.billable = False
        self.metrics.unbound_refusals += 1
        message = (
            "this API key is bound to no project and the gateway requires one (require_known_project); "
            "ask the gateway's operator to bind it in the budgets file's [key_projects]"
        )
        await self._answer(send, ex, 403, error_body(403, "project_required", message), [])

    async def _refuse(self, send: Send, ex: Exchange) -> None:
        self.metrics.bodies_too_large += 1
        mib = self.config.max_request_body_mib
        message = (
            f"the request body is larger than the gateway's max_request_body_mib ({mib} MiB); "
            "send a smaller body, or raise max_request_body_mib in the gateway config"
        )
        await self._fail(send, ex, 413, "request_too_large", message, upstream=False)

    async def _fail(
        self, send: Send, ex: Exchange, status: int, kind: str, message: str, upstream: bool = True
    ) -> None:
        if upstream:
            self.metrics.upstream_failures[kind] += 1
        close = [] if upstream else [(b"connection", b"close")]
        await self._answer(send, ex, status, error_body(status, kind, message), close)

    async def _answer(
        self, send: Send, ex: Exchange, status: int, body: dict[str, Any], extra_headers: list[tuple[bytes, bytes]]
    ) -> None:
        """The gateway's own JSON answer, recorded (committed) before it is sent, like an upstream one."""
        ex.status, ex.summary = status, body
        data = orjson.dumps(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        await self.complete(ex)
        start = {"type": "http.response.start", "status": status, "headers": headers + extra_headers}
        await send_start(send, start, ex)
        await send({"type": "http.response.body", "body": data})

    def _client_gone(self, ex: Exchange) -> None:
        ex.cancelled = True
        ex.status = ex.status if ex.response_started else CLIENT_CLOSED
        ex.error_type = "client_disconnected"
        self.metrics.client_disconnects += 1

    def note(self, ex: Exchange) -> None:
        """The response has begun: the intent learns its status and what the first chunk told."""
        self.recorder.update(ex.key, interrupted_record(ex, seen_so_far(ex.observer)))

    async def complete(self, ex: Exchange) -> None:
        """Commit the finished record; awaited just before the answer's last bytes go out."""
        record = self._finished(ex)
        if record is not None:
            await self.recorder.finish(ex.key, record)

    def _record(self, ex: Exchange) -> None:
        """The record of an exchange that ended another way (cancelled, broken): queued, not awaited."""
        record = self._finished(ex)
        if record is not None:
            self.recorder.submit(record, ex.key)

    def _finished(self, ex: Exchange) -> dict[str, Any] | None:
        if ex.recorded:
            return None
        ex.recorded = True
        try:
            self.metrics.count_response(ex.status)
            record = build_record(ex)
            if self.limiter is not None:
                self.limiter.observe(record, ex.held)
            if self.config.log_requests:
                log("request", **{k: record[k] for k in ("id", "endpoint", "status_code", "latency_ms")})
            return record
        except Exception as exc:  # a record failure must never reach the client
            if self.limiter is not None:
                self.limiter.forget(ex.held)
            self.metrics.record_failures += 1
            log.error("record_failure", records=1, error=f"{type(exc).__name__}: {exc}")
            return None


def _header_text(text: str) -> bytes:
    """ASCII on one line: anything else escaped (names are checked at load; this is the last guard)."""
    return "".join(c if 32 <= ord(c) < 127 else f"\\u{ord(c):04x}" for c in text[:2000]).encode("ascii")


async def _watch(receive: Receive, task: asyncio.Task[Any] | None, ex: Exchange) -> None:
    """Cancel the forwarding when the client disconnects before the response ended."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not ex.done and task is not None:
                ex.cancelled = True
                task.cancel()
            return
