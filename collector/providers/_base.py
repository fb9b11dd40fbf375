"""What every provider source shares: a pooled client with the provider's auth header, retries,
a client-side rate limit, and one warning per distinct problem.

Why warn once: a provider whose payload changed shape changes it for every poll; an hourly
poll repeating the same warning forever buries the one line that matters.

Example:
    >>> bearer("sk-test")                       # the default auth header; a source passes its own `headers`
    {'Authorization': 'Bearer sk-test'}
    >>> warn_once("openai", "unknown line item"), warn_once("openai", "unknown line item")
    (True, False)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from foundation.config import SourceConfig
from foundation.errors import ConfigError
from foundation.log import event_logger
from foundation.scrub import register_secret

from .._context import Context
from .._http import RateLimiter, RetryPolicy, make_client, send, without_secrets

log = event_logger("collector")

Headers = Callable[[str], dict[str, str]]
_warned: set[tuple[str, str]] = set()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def warn_once(source: str, problem: str, **fields: Any) -> bool:
    """Log `problem` for `source` unless this process already did; True if logged."""
    if (source, problem) in _warned:
        return False
    _warned.add((source, problem))
    log.warning("source_warning", source=source, problem=problem, **fields)
    return True


class ProviderSource:
    """Base of the provider sources: owns the HTTP client; subclasses implement poll()."""

    def __init__(
        self,
        *,
        source: SourceConfig,
        context: Context,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        headers: Headers = bearer,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.source = source
        self.context = context
        self.policy = policy or RetryPolicy(max_retries=source.max_retries, sleep=context.stop.wait)
        self.limiter = RateLimiter(per_second=source.max_requests_per_second, sleep=context.stop.wait)
        self.client = make_client(source, transport)
        self.client.headers.pop("Authorization", None)
        token = source.token()
        register_secret(token)
        if token:
            self.client.headers.update(headers(token))
        self.clock = clock or (lambda: datetime.now(UTC))

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, params: Any, check: Callable[[httpx.Response], Any] = lambda r: r) -> Any:
        """GET with the collector's retries; `check` parses a 2xx and may raise PollError to retry."""
        return send(
            self.client,
            self.source,
            path,
            params,
            self.policy,
            self.limiter,
            lambda response: check(without_secrets(response)),
        )

    def option(self, key: str, default: Any, kind: type | tuple[type, ...]) -> Any:
        """A kind-specific config key, type-checked with a ConfigError naming it."""
        value = self.source.options.get(key, default)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise ConfigError(f"sources.{self.source.name}.{key}: {value!r} has the wrong type; see docs/billing.md")
        return value
