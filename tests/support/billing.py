from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector._context import Context
from collector._http import RetryPolicy
from collector.providers import FACTORIES
from collector.providers._base import _warned
from foundation.config import Config, SourceConfig

ENV = "TEST_ADMIN_KEY"
SECRET = "adm-secret-9f8e7d6c"


class Router:
    """A MockTransport handler: path -> callable(request) returning a Response or JSON."""

    def __init__(self, routes: dict[str, Callable[[httpx.Request], Any]]) -> None:
        self.routes = routes
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        handler = self.routes.get(request.url.path)
        if handler is None:
            return httpx.Response(404, json={"detail": "Not Found"})
        out = handler(request)
        return out if isinstance(out, httpx.Response) else httpx.Response(200, json=out)

    def paths(self) -> list[str]:
        return [c.url.path for c in self.calls]


@pytest.fixture(autouse=True)
def fresh_warnings() -> None:
    """Warnings are once per process; each test starts with none given."""
    _warned.clear()


@pytest.fixture
def make_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setenv(ENV, SECRET)

    def build(kind: str, router: Router, now: datetime, currency: str = "USD", **options: Any) -> Any:
        source = SourceConfig(
            name=kind,
            kind=kind,
            url="http://provider.test",
            token_env=ENV,
            max_requests_per_second=1e6,
            options=options,
        )
        context = Context.build(Config(data_dir=tmp_path / "data", currency=currency, sources=(source,)))
        policy = RetryPolicy(max_retries=2, sleep=lambda s: None, rng=lambda: 0.0)
        clock = {"now": now}
        impl = FACTORIES[kind](
            source=source,
            context=context,
            transport=httpx.MockTransport(router),
            policy=policy,
            clock=lambda: clock["now"],
        )
        impl.clock_box = clock
        return impl

    return build


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
