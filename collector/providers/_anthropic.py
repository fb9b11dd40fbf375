"""An `anthropic_usage` source: Anthropic's usage and cost reports as aggregated ledger rows.

Why the same trailing-window upsert as OpenAI: buckets fill until they close (data lands
within minutes), so each poll re-fetches the last `trailing_days` and replaces its rows.
Anthropic reports no request count, so `request_count` is 0 (unknown), never a guess.

Reads (admin key in `x-api-key`, `anthropic-version: 2023-06-01`):
    GET /v1/organizations/usage_report/messages?starting_at=&bucket_width=1h&group_by[]=model&...
        -> {"data": [{"starting_at": "2026-11-01T00:00:00Z", "results": [{"uncached_input_tokens": 1500,
            "cache_read_input_tokens": 200, "cache_creation": {"ephemeral_5m_input_tokens": 100,
            "ephemeral_1h_input_tokens": 0}, "output_tokens": 500, "api_key_id": "apikey_01",
            "workspace_id": "wrkspc_01", "model": "claude-sonnet-4-5", "service_tier": "standard"}]}],
            "has_more": false, "next_page": null}
    GET /v1/organizations/cost_report?starting_at=&group_by[]=workspace_id&group_by[]=description
        -> results {"amount": "123.45", "currency": "USD", "workspace_id": ..., "description": ...,
                    "cost_type": "tokens", "model": ..., "token_type": "uncached_input_tokens"}
           (amount: a decimal string in CENTS: "123.45" = $1.2345)

Example:
    >>> bucket = {"starting_at": "2026-11-01T00:00:00Z"}
    >>> parse_usage(bucket, {"uncached_input_tokens": 1500, "cache_read_input_tokens": 200,
    ...     "cache_creation": {"ephemeral_5m_input_tokens": 100}, "output_tokens": 500}).prompt
    1800
    >>> parse_cost(bucket, {"amount": "123.45", "currency": "USD", "token_type": "uncached_input_tokens"}).amount
    1.2345
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from foundation.settings import Setting

from ._buckets import BUCKET_OPTIONS, BucketPollResult, BucketSource, Cost, Usage, buckets, results, store

USAGE = "/v1/organizations/usage_report/messages"
COSTS = "/v1/organizations/cost_report"
LIMITS = {"1h": 168, "1d": 31}
TOKEN_KINDS = {"uncached_input_tokens": "input", "output_tokens": "output", "cache_read_input_tokens": "cached"}


def _time(text: Any) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _int(value: Any) -> int:
    value = value or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{value!r} is not a token count")
    return value


def parse_usage(bucket: dict[str, Any], item: dict[str, Any]) -> Usage:
    """One usage result; prompt tokens = uncached + cache reads + cache writes."""
    creation = item.get("cache_creation") or {}
    writes = sum(_int(v) for v in creation.values()) if isinstance(creation, dict) else _int(creation)
    uncached, cached = _int(item.get("uncached_input_tokens")), _int(item.get("cache_read_input_tokens"))
    output = _int(item.get("output_tokens"))
    group = tuple(item.get(k) for k in ("model", "workspace_id", "api_key_id", "service_tier", "context_window"))
    return Usage(
        start=_time(bucket["starting_at"]),
        model=str(item.get("model") or "unknown"),
        project=item.get("workspace_id"),
        api_key_id=item.get("api_key_id"),
        prompt=uncached + cached + writes,
        cached=cached,
        completion=output,
        requests=0,
        group=group,
        service_tier=item.get("service_tier"),
        weights={"input": uncached, "cached": cached, "output": output, "cache_write": writes},
    )


def parse_cost(bucket: dict[str, Any], item: dict[str, Any]) -> Cost:
    """One cost result; the amount string is in cents."""
    token_type = str(item.get("token_type") or "")
    kind = TOKEN_KINDS.get(token_type, "cache_write" if token_type.startswith("cache_creation") else None)
    label = str(item.get("description") or item.get("cost_type") or "unspecified")
    return Cost(
        day=_time(bucket["starting_at"]).date(),
        project=item.get("workspace_id"),
        model=item.get("model"),
        kind=kind if item.get("cost_type", "tokens") == "tokens" else None,
        amount=float(str(item["amount"])) / 100.0,
        currency=str(item.get("currency") or "USD").upper(),
        label=label,
    )


class AnthropicUsageSource(BucketSource):
    """Polls Anthropic's usage and cost reports for the trailing window and upserts them."""

    OPTIONS = (
        *BUCKET_OPTIONS,
        Setting(
            name="anthropic_version",
            kind=str,
            default="2023-06-01",
            help="The anthropic-version header sent with every request.",
        ),
    )

    def __init__(self, **kwargs: Any) -> None:
        version = self.options_of(kwargs["source"])["anthropic_version"]
        kwargs["headers"] = lambda token: {"x-api-key": token, "anthropic-version": version}
        super().__init__(**kwargs)

    def poll(self) -> BucketPollResult:
        now, start, span = self.window()
        base = [
            ("starting_at", start.isoformat().replace("+00:00", "Z")),
            ("ending_at", now.isoformat(timespec="seconds").replace("+00:00", "Z")),
        ]
        groups = [("group_by[]", g) for g in ("model", "workspace_id", "api_key_id", "service_tier")]
        usage_q = base + groups + [("bucket_width", self.width), ("limit", min(LIMITS[self.width], span))]
        cost_q = base + [("group_by[]", "workspace_id"), ("group_by[]", "description"), ("limit", 31)]
        result, pages = BucketPollResult(), [0]
        usages = list(results(self.source.name, buckets(self, USAGE, usage_q, pages), parse_usage))
        costs = list(results(self.source.name, buckets(self, COSTS, cost_q, pages), parse_cost))
        result.pages, result.skipped = pages[0], sum(x is None for x in usages + costs)
        return store(self, "ant", "/v1/messages", [u for u in usages if u], [c for c in costs if c], result)
