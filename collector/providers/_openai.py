"""An `openai_usage` source: OpenAI's organisation usage and costs as aggregated ledger rows.

Why a trailing window: OpenAI's buckets fill up until their hour or day is over and can be
corrected a little later, so each poll re-fetches the last `trailing_days` (default 2) and
replaces the rows it wrote before (the ids are the bucket start and the group key).

Reads (admin key as a Bearer token):
    GET /v1/organization/usage/completions?start_time=&bucket_width=1h|1d&group_by=model,project_id,api_key_id
        -> {"data": [{"start_time": 1730419200, "results": [{"input_tokens": 5000, "output_tokens": 1200,
            "input_cached_tokens": 3000, "num_model_requests": 42, "project_id": "proj_abc",
            "api_key_id": "key_xyz", "model": "gpt-4o-mini-2024-07-18", "batch": false}]}],
            "has_more": true, "next_page": "page_AAAA"}
    GET /v1/organization/costs?start_time=&bucket_width=1d&group_by=project_id,line_item
        -> results {"amount": {"value": 0.06, "currency": "usd"}, "line_item": "gpt-4o-mini, input",
                    "project_id": "proj_abc"}    (value: float, dollars)

Example:
    >>> usage = parse_usage({"start_time": 1730419200}, {"input_tokens": 5000, "input_cached_tokens": 3000,
    ...     "output_tokens": 1200, "num_model_requests": 42, "model": "gpt-4o-mini-2024-07-18"})
    >>> usage.start.isoformat(), usage.weights
    ('2024-11-01T00:00:00+00:00', {'input': 2000, 'cached': 3000, 'output': 1200})
    >>> cost = parse_cost({"start_time": 1730419200}, {"amount": {"value": 0.06, "currency": "usd"},
    ...     "line_item": "gpt-4o-mini, input", "project_id": "proj_abc"})
    >>> cost.model, cost.kind, cost.amount, cost.currency
    ('gpt-4o-mini', 'input', 0.06, 'USD')
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ._buckets import BucketPollResult, BucketSource, Cost, Usage, buckets, results, store

USAGE = "/v1/organization/usage/completions"
COSTS = "/v1/organization/costs"
LIMITS = {"1h": 168, "1d": 31}
COST_LIMIT = 180


def _int(item: dict[str, Any], key: str) -> int:
    value = item.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} = {value!r} is not a token count")
    return value


def parse_usage(bucket: dict[str, Any], item: dict[str, Any]) -> Usage:
    """One usage result; input_tokens include the cached ones."""
    prompt, cached, output = _int(item, "input_tokens"), _int(item, "input_cached_tokens"), _int(item, "output_tokens")
    group = (item.get("model"), item.get("project_id"), item.get("api_key_id"), item.get("batch"))
    return Usage(
        start=datetime.fromtimestamp(int(bucket["start_time"]), UTC),
        model=str(item.get("model") or "unknown"),
        project=item.get("project_id"),
        api_key_id=item.get("api_key_id"),
        prompt=prompt,
        cached=cached,
        completion=output,
        requests=_int(item, "num_model_requests"),
        weights={"input": prompt - cached, "cached": cached, "output": output},
        group=group,
        batch=item.get("batch") if isinstance(item.get("batch"), bool) else None,
    )


def _kind(label: str) -> str | None:
    text = label.lower()
    if "cached" in text:
        return "cached"
    return "output" if "output" in text else "input" if "input" in text else None


def parse_cost(bucket: dict[str, Any], item: dict[str, Any]) -> Cost:
    """One cost result: 'gpt-4o-mini, input' -> model gpt-4o-mini, kind input."""
    amount = item["amount"]
    label = str(item.get("line_item") or "unspecified")
    name, _, _ = label.partition(",")
    return Cost(
        day=datetime.fromtimestamp(int(bucket["start_time"]), UTC).date(),
        project=item.get("project_id"),
        model=name.strip() if "," in label else None,
        kind=_kind(label),
        amount=float(amount["value"]),
        currency=str(amount.get("currency") or "usd").upper(),
        label=label,
    )


class OpenAIUsageSource(BucketSource):
    """Polls OpenAI's usage and costs for the trailing window and upserts them into the ledger."""

    def poll(self) -> BucketPollResult:
        now, start, span = self.window()
        base = [("start_time", int(start.timestamp())), ("end_time", int(now.timestamp()))]
        usage_q = base + [
            ("bucket_width", self.width),
            ("group_by", "model,project_id,api_key_id"),
            ("limit", min(LIMITS[self.width], span)),
        ]
        cost_q = base + [("bucket_width", "1d"), ("group_by", "project_id,line_item"), ("limit", COST_LIMIT)]
        result, pages = BucketPollResult(), [0]
        usages = list(results(self.source.name, buckets(self, USAGE, usage_q, pages), parse_usage))
        costs = list(results(self.source.name, buckets(self, COSTS, cost_q, pages), parse_cost))
        result.pages, result.skipped = pages[0], sum(x is None for x in usages + costs)
        return store(self, "oai", "/v1/chat/completions", [u for u in usages if u], [c for c in costs if c], result)
