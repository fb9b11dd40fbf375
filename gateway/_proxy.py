"""The forwarder: every request that is not the gateway's own goes upstream, byte for byte.

Why raw ASGI and one pooled aiohttp session: this is the hot path, and measured on a 2-core
machine aiohttp direct is several times faster than httpx's default transport. The body is
relayed as it arrives (an SSE stream is never held whole); a copy goes through an observer
that keeps only what the record needs. A watcher task waits on `receive()`: when the client
disconnects it cancels the forwarding, which closes the upstream connection, so a dropped
stream stops generating (and billing) upstream, and the record says `cancelled`.

Example:
    >>> forwarder = Forwarder(config, secrets, recorder, metrics)
    >>> app = Starlette(routes=[Route("/{path:path}", forwarder)])
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
from yarl import URL

from ._headers import downstream_headers, upstream_headers
from ._log import log
from ._metrics import Metrics
from ._observe import observer_for
from ._record import (
    CLIENT_CLOSED,
    Exchange,
    KeyFingerprints,
    attempt_from,
    build_record,
    ratelimit_from,
    request_fields,
)
from ._recorder import Recorder
from .config import GatewayConfig, Secrets

Scope = dict[str, Any]
Receive = Any
Send = Any
SMALL_BODY = 1024 * 1024
_SKIP_AUTO = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


def error_body(status: int, kind: str, message: str) -> dict[str, Any]:
    """A Mistral-shaped error body, so SDKs parse the gateway's own errors like Mistral's."""
    return {"object": "error", "message": message, "type": kind, "param": None, "code": str(status)}


class Forwarder:
    def __init__(self, config: GatewayConfig, secrets: Secrets, recorder: Recorder, metrics: Metrics) -> None:
        self.config = config
        self.base = config.upstream_url
        self.recorder = recorder
        self.metrics = metrics
        self.fingerprint = KeyFingerprints(secrets.key_salt)
        self.project_header = config.project_header.encode()
        self.retry_headers = tuple(h.encode() for h in config.retry_count_headers)
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.config.connect_timeout_seconds, sock_read=self.config.read_timeout_seconds
        )
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.config.max_connections, ttl_dns_cache=300),
            timeout=timeout, auto_decompress=False, skip_auto_headers=_SKIP_AUTO,
            cookie_jar=aiohttp.DummyCookieJar(),
        )  # fmt: skip

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ex = Exchange(method=scope["method"], endpoint=scope["path"])
        body = await _read_body(receive)
        if body is None:
            return
        headers, seen = upstream_headers(scope["headers"], self.project_header, self.retry_headers)
        ex.model, ex.stream = request_fields(body, seen.content_type)
        ex.project, ex.attempt = seen.project, attempt_from(seen.retry_count)
        ex.api_key_id = self.fingerprint(seen.authorization)
        task = asyncio.current_task()
        watcher = asyncio.create_task(_watch(receive, task, ex))
        try:
            await self._forward(scope, headers, body, send, ex)
        except asyncio.CancelledError:
            if not ex.cancelled or task is None:
                raise
            task.uncancel()
            ex.status = ex.status if ex.response_started else CLIENT_CLOSED
            ex.error_type = "client_disconnected"
            self.metrics.client_disconnects += 1
        finally:
            ex.done = True
            watcher.cancel()
            self._record(ex)

    async def _forward(self, scope: Scope, headers: list[tuple[str, str]], body: bytes, send: Send,
                       ex: Exchange) -> None:  # fmt: skip
        assert self.session is not None, "Forwarder.start() was not awaited"
        try:
            response = await self.session.request(ex.method, self._url(scope), headers=headers, data=body or None,
                                                  allow_redirects=False)  # fmt: skip
        except TimeoutError:
            return await self._fail(send, ex, 504, "upstream_timeout", "the upstream API did not answer in time")
        except (aiohttp.ClientError, OSError) as exc:
            return await self._fail(send, ex, 502, "upstream_unavailable", f"the upstream API is unreachable: {exc}")
        relayed = False
        try:
            relayed = await self._relay(response, send, ex)
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

    async def _relay(self, response: aiohttp.ClientResponse, send: Send, ex: Exchange) -> bool:
        """Send the upstream response on; True when it was relayed whole."""
        ex.status = response.status
        ex.ratelimit = ratelimit_from(response.raw_headers)
        content_type = response.headers.get("content-type", "")
        ex.stream = ex.stream or content_type.startswith("text/event-stream")
        ex.observer = observer_for(content_type, response.headers.get("content-encoding", ""))
        start = {"type": "http.response.start", "status": response.status,
                 "headers": downstream_headers(response.raw_headers)}  # fmt: skip
        whole = response.content_length is not None and response.content_length <= SMALL_BODY and not ex.stream
        try:
            await (_relay_whole if whole else _relay_chunks)(response, send, start, ex)
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
        log("upstream_broken_mid_response", endpoint=ex.endpoint, error=repr(exc))
        return False

    async def _fail(self, send: Send, ex: Exchange, status: int, kind: str, message: str) -> None:
        body = error_body(status, kind, message)
        ex.status, ex.summary = status, body
        self.metrics.upstream_failures[kind] += 1
        data = orjson.dumps(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        await _send_start(send, {"type": "http.response.start", "status": status, "headers": headers}, ex)
        await send({"type": "http.response.body", "body": data})

    def _record(self, ex: Exchange) -> None:
        try:
            self.metrics.count_response(ex.status)
            record = build_record(ex)
            self.recorder.submit(record)
            if self.config.log_requests:
                log("request", **{k: record[k] for k in ("id", "endpoint", "status_code", "latency_ms")})
        except Exception as exc:  # a record failure must never reach the client
            self.metrics.record_failures += 1
            log("record_failure", records=1, error=f"{type(exc).__name__}: {exc}")


async def _relay_whole(response: aiohttp.ClientResponse, send: Send, start: dict[str, Any], ex: Exchange) -> None:
    """A small body of known length: read it first, so a failure can still become a clean 502/504."""
    data = await response.read()
    await _send_start(send, start, ex)
    await send({"type": "http.response.body", "body": data})
    if ex.observer is not None:
        ex.observer.feed(data)


async def _relay_chunks(response: aiohttp.ClientResponse, send: Send, start: dict[str, Any], ex: Exchange) -> None:
    """A stream or a large body: each chunk goes on as it arrives."""
    await _send_start(send, start, ex)
    observer = ex.observer
    async for chunk in response.content.iter_any():
        if observer is not None:
            observer.feed(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _send_start(send: Send, start: dict[str, Any], ex: Exchange) -> None:
    ex.response_started = True
    await send(start)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client left before sending it (nothing to forward)."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def _watch(receive: Receive, task: asyncio.Task[Any] | None, ex: Exchange) -> None:
    """Cancel the forwarding when the client disconnects before the response ended."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not ex.done and task is not None:
                ex.cancelled = True
                task.cancel()
            return
