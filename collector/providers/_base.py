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
from typing import Any, ClassVar, Self

import httpx

from foundation.config import SourceConfig
from foundation.log import event_logger
from foundation.scrub import register_secret
from foundation.settings import Setting, validate

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
    """Base of the provider sources: owns the HTTP client (closed by close() or a `with` block); subclasses
    implement poll().

    A kind's own config keys (`SourceConfig.options`: the table's keys the generic `[[sources]]`
    settings do not declare) are declared here, next to the provider, as `OPTIONS`; they are
    validated like every config table when the collector builds the source (ConfigError: exit 2).
    """

    OPTIONS: ClassVar[tuple[Setting, ...]] = ()

    @classmethod
    def options_of(cls, source: SourceConfig) -> dict[str, Any]:
        """The source's own keys, checked against OPTIONS (defaults filled in), or ConfigError."""
        return validate(source.options, cls.OPTIONS, f"sources.{source.name}")

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
        self.options = self.options_of(source)
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
