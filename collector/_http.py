"""HTTP to a source: explicit timeouts, a client-side rate limit, retries with full jitter.

Why full jitter: after an outage every collector retrying on the same schedule hits the
source together; a uniformly random delay in [0, base * 2**n] spreads them. A `Retry-After`
(seconds or HTTP date) from the source wins, capped so a bad header cannot stall us for hours.

Example:
    >>> answers = iter([httpx.Response(503), httpx.Response(200, json={"data": []})])
    >>> client = httpx.Client(base_url="http://source.test", transport=httpx.MockTransport(lambda _: next(answers)))
    >>> source = SourceConfig(name="sim", kind="usage_endpoint", url="http://source.test")
    >>> policy = RetryPolicy(max_retries=5, sleep=lambda seconds: None)   # no real waiting in an example
    >>> limiter = RateLimiter(per_second=20)
    >>> send(client, source, "/v1/usage/requests", {"limit": 10}, policy, limiter).json()   # answered after a 503
    {'data': []}
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from foundation.config import SourceConfig
from foundation.scrub import contains_secret, scrub_secrets

from .errors import BadPageError, PageTooLargeError, PollError, SourceAuthError, SourceHTTPError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TRANSIENT = (httpx.TransportError,)

Sleep = Callable[[float], Any]


@dataclass(kw_only=True)
class RetryPolicy:
    """How hard to try: `max_retries` after the first attempt, delays capped at `max_delay`."""

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    rng: Callable[[], float] = random.random
    sleep: Sleep = time.sleep

    def backoff(self, attempt: int) -> float:
        return float(self.rng() * min(self.max_delay, self.base_delay * 2**attempt))


@dataclass(kw_only=True)
class RateLimiter:
    """At most `per_second` requests per second from this process, spaced evenly."""

    per_second: float
    clock: Callable[[], float] = time.monotonic
    sleep: Sleep = time.sleep
    _next: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            delay = self._next - now
            self._next = max(now, self._next) + 1.0 / self.per_second
        if delay > 0:
            self.sleep(delay)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a Retry-After header: delta seconds or an HTTP date; None if absent or junk."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def data_page(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object holding a `data` list, or BadPageError (a failed poll, retried)."""
    path = response.request.url.path
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise BadPageError(f"{path}: body is not JSON ({exc}); is the url right?") from None
    return checked_page(body, path)


def checked_page(body: Any, path: str) -> dict[str, Any]:
    """`body` if it is a JSON object holding a `data` list, else BadPageError naming `path`."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BadPageError(f"{path}: expected an object with a 'data' list, got {str(body)[:80]!r}")
    return body


def make_client(source: SourceConfig, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """One pooled client per source; the token goes in a header, never the URL."""
    token = source.token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx.Timeout(source.timeout_seconds, connect=min(10.0, source.timeout_seconds))
    return httpx.Client(base_url=source.url, headers=headers, timeout=timeout, transport=transport)


_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def bounded_get(client: httpx.Client, source: SourceConfig, path: str, params: Any) -> httpx.Response:
    """GET, reading at most `source.max_page_bytes` of (decoded) body, else PageTooLargeError.

    Why decoded bytes: a gzip body of a few kilobytes can inflate to gigabytes. The response
    returned holds the whole body already read, so callers use `.content` as usual.
    """
    with client.stream("GET", path, params=params) as response:
        content = read_capped(response, source.max_page_bytes, lambda seen: _too_large(source, path, seen))
    return _with_body(response, content)


def read_capped(response: httpx.Response, limit: int, too_large: Callable[[str], Exception]) -> bytes:
    """A streamed response's decoded body, raising `too_large(what was seen)` past `limit` bytes.

    Example: `read_capped(response, 32 * MIB, lambda seen: FetchError(f"body too large ({seen})"))`.
    """
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large(f"it declares {int(declared):,}")
    parts: list[bytes] = []
    read = 0
    for chunk in response.iter_bytes():
        read += len(chunk)
        if read > limit:
            raise too_large(f"stopped reading at {read:,}")
        parts.append(chunk)
    return b"".join(parts)


def _with_body(response: httpx.Response, content: bytes) -> httpx.Response:
    """A read response rebuilt around `content` (already decoded, so no length or encoding headers)."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED_HEADERS]
    return httpx.Response(response.status_code, headers=headers, content=content, request=response.request)


def scrub_body(content: bytes) -> bytes:
    """`content` with the configured tokens replaced by `***` (read as UTF-8, bad bytes replaced)."""
    return scrub_secrets(content.decode("utf-8", errors="replace")).encode()


def without_secrets(response: httpx.Response) -> httpx.Response:
    """`response`, or a copy whose body has the configured tokens replaced by `***`.

    Why: a provider that echoes our key inside a 2xx body would otherwise carry it into the
    billed table or the readings, which are written as parsed, not as text.
    """
    if not contains_secret(response.content):
        return response
    return _with_body(response, scrub_body(response.content))


def _too_large(source: SourceConfig, path: str, seen: str) -> PageTooLargeError:
    return PageTooLargeError(
        f"source {source.name}: the body from {path} is over max_page_bytes = {source.max_page_bytes:,} ({seen}); "
        "lower page_limit or raise max_page_bytes. Nothing from it was stored; the next poll retries the same cursor"
    )


def _delay_for(response: httpx.Response | None, attempt: int, policy: RetryPolicy) -> float:
    header = response.headers.get("retry-after") if response is not None else None
    hinted = retry_after_seconds(header)
    if hinted is not None:
        return min(hinted, policy.max_retry_after)
    return policy.backoff(attempt)


def _raise_for(response: httpx.Response, source: SourceConfig) -> None:
    status = response.status_code
    if status in (401, 403):
        fix = f"set {source.token_env} to a valid token" if source.token_env else "add token_env to the source"
        raise SourceAuthError(f"source {source.name}: HTTP {status} from {response.request.url.path}; {fix}")
    raise SourceHTTPError(f"source {source.name}: HTTP {status} from {response.request.url.path}: {_brief(response)}")


def _brief(response: httpx.Response) -> str:
    return response.text[:200].replace("\n", " ")


def send(
    client: httpx.Client,
    source: SourceConfig,
    path: str,
    params: dict[str, Any],
    policy: RetryPolicy,
    limiter: RateLimiter,
    check: Callable[[httpx.Response], Any] = lambda r: r,
) -> Any:
    """GET with retries; `check(response)` parses a 2xx and may raise PollError to retry it."""
    last: Exception | None = None
    response: httpx.Response | None = None
    for attempt in range(policy.max_retries + 1):
        if attempt:
            policy.sleep(_delay_for(response, attempt - 1, policy))
        limiter.wait()
        response = None
        try:
            response = bounded_get(client, source, path, params)
        except TRANSIENT as exc:
            last = PollError(f"source {source.name}: {type(exc).__name__} calling {path}: {exc}")
            continue
        if response.status_code in RETRY_STATUSES:
            last = SourceHTTPError(f"source {source.name}: HTTP {response.status_code} from {path}")
            continue
        if response.status_code >= 400:
            _raise_for(response, source)
        try:
            return check(response)
        except PollError as exc:
            last = exc
    raise last or PollError(f"source {source.name}: no attempt made")
