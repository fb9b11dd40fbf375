"""Provider usage buckets into ledger rows: paging, cost allocation, and the upsert.

Why allocate: OpenAI and Anthropic report usage per (bucket, model, project, key) but money
per (day, project, line item). A line item's amount is shared among the day's usage rows of
its model in proportion to the tokens of its kind (input, cached, output...), so every row
carries the provider's own money; an amount no usage row can take (web search, a model with
no tokens that day) becomes a row of its own with zero tokens. Totals are therefore exact.

Example:
    >>> start = datetime(2026, 5, 12, tzinfo=UTC)
    >>> usages = [Usage(start=start, model=m, project="p", api_key_id=None, prompt=n, cached=0, completion=0,
    ...                 requests=1, weights={"input": n}, group=(m,)) for m, n in [("gpt-4o", 3000), ("gpt-4o", 1000)]]
    >>> costs = [Cost(day=start.date(), project="p", model="gpt-4o", kind="input", amount=0.04, currency="USD",
    ...               label="gpt-4o, input"), Cost(day=start.date(), project="p", model=None, kind=None,
    ...               amount=0.01, currency="USD", label="web search")]
    >>> [(r.model, round(r.cost, 4)) for r in allocate(usages, costs)]
    [('gpt-4o', 0.03), ('gpt-4o', 0.01), ('web search', 0.01)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import orjson
import pyarrow as pa

from foundation.settings import Setting
from ledger import SCHEMA, price_rows
from ledger.storage.upsert import upsert_rows

from .._http import data_page
from ..errors import BadPageError
from ._base import ProviderSource, warn_once

BUCKET_SECONDS = {"1h": 3600, "1d": 86_400}
MAX_PAGES = 1000


@dataclass(frozen=True, kw_only=True)
class Usage:
    """One usage bucket for one group; `weights` are the token counts per cost kind."""

    start: datetime
    model: str
    project: str | None
    api_key_id: str | None
    prompt: int
    cached: int
    completion: int
    requests: int
    weights: dict[str, int]
    group: tuple[Any, ...]
    batch: bool | None = None
    service_tier: str | None = None
    cost: float | None = None
    currency: str | None = None


@dataclass(frozen=True, kw_only=True)
class Cost:
    """One line of a provider's daily cost report, in currency units (not cents)."""

    day: date
    project: str | None
    model: str | None
    kind: str | None
    amount: float
    currency: str
    label: str


@dataclass(kw_only=True)
class BucketPollResult:
    records: int = 0
    pages: int = 0
    skipped: int = 0
    days: list[str] = field(default_factory=list)


def buckets(source: ProviderSource, path: str, params: list[tuple[str, Any]], pages: list[int]) -> Iterator[Any]:
    """Every bucket of a paged report, following `next_page` while `has_more`."""
    cursor = None
    for _ in range(MAX_PAGES):
        query = params + ([("page", cursor)] if cursor else [])
        body = source.get(path, query, data_page)
        pages[0] += 1
        yield from body["data"]
        nxt = body.get("next_page")
        if body.get("has_more") is not True or not nxt or nxt == cursor:
            return
        cursor = nxt
    raise BadPageError(f"{path}: more than {MAX_PAGES} pages; narrow trailing_days")


def results(source_name: str, data: Iterator[Any], parse: Callable[[Any, Any], Any]) -> Iterator[Any]:
    """Parse every result of every bucket; a result that does not parse is skipped with one warning."""
    for bucket in data:
        items = bucket.get("results") if isinstance(bucket, dict) else None
        for item in items if isinstance(items, list) else []:
            try:
                yield parse(bucket, item)
            except (KeyError, TypeError, ValueError) as exc:
                warn_once(
                    source_name,
                    "a bucket result was not recognised and was skipped",
                    error=f"{type(exc).__name__}: {exc}",
                    result=str(item)[:200],
                )
                yield None


def _matches(model: str, name: str) -> bool:
    return model == name or model.startswith(name + "-")


def _best(model: str, names: set[str]) -> str | None:
    return max((n for n in names if _matches(model, n)), key=len, default=None)


def allocate(usages: Sequence[Usage], costs: Sequence[Cost]) -> list[Usage]:
    """Usage rows with their share of the cost lines, plus rows for unallocated amounts."""
    money: dict[int, float] = {}
    currency: dict[int, str] = {}
    leftover: list[Usage] = []
    names: dict[tuple[date, str | None], set[str]] = {}
    for cost in costs:
        if cost.model:
            names.setdefault((cost.day, cost.project), set()).add(cost.model)
    for cost in costs:
        pool = [
            i
            for i, u in enumerate(usages)
            if u.start.date() == cost.day
            and u.project == cost.project
            and cost.model
            and _best(u.model, names[(cost.day, cost.project)]) == cost.model
        ]
        weights = [usages[i].weights.get(cost.kind or "", 0) for i in pool]
        total = sum(weights)
        if not total:
            leftover.append(_cost_row(cost))
            continue
        for i, weight in zip(pool, weights, strict=True):
            money[i] = money.get(i, 0.0) + cost.amount * weight / total
            currency[i] = cost.currency
    priced = [replace(u, cost=money[i], currency=currency[i]) if i in money else u for i, u in enumerate(usages)]
    return priced + leftover


def _cost_row(cost: Cost) -> Usage:
    start = datetime(cost.day.year, cost.day.month, cost.day.day, tzinfo=UTC)
    return Usage(
        start=start,
        model=cost.model or cost.label,
        project=cost.project,
        api_key_id=None,
        prompt=0,
        cached=0,
        completion=0,
        requests=0,
        weights={},
        group=("cost", cost.label),
        cost=cost.amount,
        currency=cost.currency,
    )


def row_id(prefix: str, usage: Usage) -> str:
    """A stable id from the bucket start and the group key, so a re-fetch replaces the row."""
    key = orjson.dumps([usage.start.isoformat(), list(usage.group)])
    return f"{prefix}-{usage.start:%Y%m%dT%H}-{hashlib.sha256(key).hexdigest()[:16]}"


def to_table(source: ProviderSource, prefix: str, endpoint: str, usages: Sequence[Usage]) -> pa.Table:
    """Ledger rows (aggregated, request_count = requests): provider money where given, else the price book."""
    records = pa.table(
        {
            "id": [row_id(prefix, u) for u in usages],
            "timestamp": pa.array([u.start for u in usages], SCHEMA.field("timestamp").type),
            "model": [u.model for u in usages],
            "project": [u.project for u in usages],
            "api_key_id": [u.api_key_id for u in usages],
            "endpoint": [endpoint] * len(usages),
            "status_code": pa.array([200] * len(usages), pa.int32()),
            "prompt_tokens": pa.array([u.prompt for u in usages], pa.int64()),
            "completion_tokens": pa.array([u.completion for u in usages], pa.int64()),
            "cached_tokens": pa.array([u.cached for u in usages], pa.int64()),
            "batch": pa.array([u.batch for u in usages], pa.bool_()),
            "service_tier": pa.array([u.service_tier for u in usages], pa.string()),
            "resolved_model": pa.array([None] * len(usages), pa.string()),
            "simulated": pa.array([False] * len(usages), pa.bool_()),
        }
    )
    ctx = source.context
    table = price_rows(records, source.source.name, ctx.book, ctx.config.currency)
    book_cost, book_currency = table["cost"].to_pylist(), table["currency"].to_pylist()
    cost = [u.cost if u.cost is not None else c for u, c in zip(usages, book_cost, strict=True)]
    cur = [u.currency if u.cost is not None and u.currency else c for u, c in zip(usages, book_currency, strict=True)]
    replaced = {
        "request_count": pa.array([u.requests for u in usages], pa.int64()),
        "aggregated": pa.array([True] * len(usages), pa.bool_()),
        "cost": pa.array(cost, pa.float64()),
        "currency": pa.array(cur, pa.string()),
    }
    for name, column in replaced.items():
        table = table.set_column(SCHEMA.get_field_index(name), SCHEMA.field(name), column)
    return table


BUCKET_OPTIONS: tuple[Setting, ...] = (
    Setting(
        name="bucket_width",
        kind=str,
        default="1h",
        choices=tuple(BUCKET_SECONDS),
        help="The report's bucket: 1h or 1d.",
    ),
    Setting(name="trailing_days", kind=int, default=2, help="Days of buckets re-fetched on every poll."),
)
"""The keys of a provider source that reads usage buckets (OpenAI's, Anthropic's)."""


class BucketSource(ProviderSource):
    """A provider source that re-fetches a trailing window of `bucket_width` buckets."""

    OPTIONS: ClassVar[tuple[Setting, ...]] = BUCKET_OPTIONS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = self.options["bucket_width"]
        self.trailing = self.options["trailing_days"]

    def window(self) -> tuple[datetime, datetime, int]:
        """(now, start of the window, how many buckets it spans)."""
        now = self.clock()
        start = window_start(now, self.trailing)
        return now, start, int((now - start).total_seconds()) // BUCKET_SECONDS[self.width] + 1


def window_start(now: datetime, trailing_days: int) -> datetime:
    """Midnight UTC `trailing_days` before now: whole days, so daily cost buckets line up."""
    day = (now - timedelta(days=trailing_days)).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def store(
    source: ProviderSource, prefix: str, endpoint: str, usages: list[Usage], costs: list[Cost], result: BucketPollResult
) -> BucketPollResult:
    rows = allocate(usages, costs)
    result.records = upsert_rows(source.context.data_dir, to_table(source, prefix, endpoint, rows))
    result.days = sorted({u.start.date().isoformat() for u in rows})
    return result
