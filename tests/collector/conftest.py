from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector._context import Context
from collector._http import RetryPolicy
from collector._usage import UsageEndpointSource
from foundation.config import Config, SourceConfig


def make_record(i: int, **overrides: Any) -> dict[str, Any]:
    """A valid contract record, numbered i, at 10:00 + i seconds on 2026-11-20 UTC."""
    record = {
        "id": f"r{i}",
        "timestamp": f"2026-11-20T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "model": "mistral-small-latest",
        "endpoint": "/v1/chat/completions",
        "api_key_id": "key_aaaa",
        "project": "search",
        "status_code": 200,
        "error_type": None,
        "prompt_tokens": 1000,
        "completion_tokens": 100,
        "cached_tokens": 0,
        "latency_ms": 120.5,
    }
    record.update(overrides)
    return record


Fault = Callable[[httpx.Request], httpx.Response | None]


class FakeEndpoint:
    """Serves `records` in pages via httpx.MockTransport; cursor = index of the next record."""

    def __init__(self, records: list[Any], faults: list[Fault] | None = None):
        self.records = records
        self.faults = list(faults or [])
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if self.faults:
            response = self.faults.pop(0)(request)
            if response is not None:
                return response
        start = int(request.url.params.get("after", "0"))
        limit = int(request.url.params.get("limit", "1000"))
        page = self.records[start : start + limit]
        end = start + len(page)
        return httpx.Response(
            200, json={"object": "list", "data": page, "next_cursor": str(end), "has_more": end < len(self.records)}
        )


class RecordingSource(UsageEndpointSource):
    """The real source, plus the back-off sleeps its retry policy asked for (tests read them)."""

    sleeps: list[float]


@pytest.fixture
def make_source(tmp_path: Path) -> Callable[..., RecordingSource]:
    def build(
        endpoint: FakeEndpoint, page_limit: int = 3, config_kw: dict[str, Any] | None = None, **source_kw: Any
    ) -> RecordingSource:
        source = SourceConfig(
            name="fake",
            kind="usage_endpoint",
            url="http://usage.test",
            page_limit=page_limit,
            max_requests_per_second=1e6,
            **source_kw,
        )
        # make_record's fixed dates must stay inside the timestamp window whenever the tests run
        settings = {"max_record_age_days": 36_500} | (config_kw or {})
        context = Context.build(Config(data_dir=tmp_path / "data", sources=(source,), **settings))
        policy = RetryPolicy(max_retries=4, sleep=lambda s: sleeps.append(s), rng=lambda: 0.5)
        sleeps: list[float] = []
        src = RecordingSource(source=source, context=context, transport=httpx.MockTransport(endpoint), policy=policy)
        src.sleeps = sleeps
        return src

    return build
