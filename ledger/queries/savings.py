"""Where the money could be saved: what each lever would have saved over a window, from the
ledger and the price book.

Why one module with one function per lever: each figure on the Savings page is a formula over
rows the ledger holds; the page shows the formula (`LEVERS[...].formula`) and the rows behind
it (`lever_rows`, the same `where` condition), and the tests recompute each by hand. Money is
in the display currency (`ledger.pricing.fx`), like every other figure.

The levers:
- caching: per model, the cached share of prompt tokens, and what a higher hit rate would
  save: (target x prompt - cached) x (input - cached input price) / 1M, list prices of the
  window's last day;
- batch: 50% of the spend of calls that could wait (not streamed, not already batch, on an
  endpoint the Batch API serves): an upper bound per project and endpoint, the projects marked
  `[savings] offline_projects` counted apart;
- premiums: what the priority tier (x1.75) and the regional endpoints (x1.1) added;
- failures: billed failed requests (status >= 400 but 499) and billed retries (attempt > 1);
- cancelled streams: streams that ended without their usage (the gateway estimated the tokens);
- right-sizing: the same tokens at the list price of the next cheaper model of the family
  (`FAMILIES`, each step checked against the price book), "if quality allows".

Example:
    >>> from datetime import UTC, date, datetime
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=2000, days=3, seed=7, end=datetime(2026, 11, 25, 12, tzinfo=UTC))
    >>> f = Filters.for_dates(date(2026, 11, 23), date(2026, 11, 25), "Europe/Paris")
    >>> failures(Path("data"), f).columns.tolist()
    ['kind', 'requests', 'spend']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from ledger.pricing import Price, PriceBook, fx
from ledger.pricing.prices import BATCH_DISCOUNT, PRIORITY_FACTOR, ZONE_FACTOR

from ._engine import query
from ._filters import Filters
from ._measures import aggregates

CACHEABLE = ("/v1/chat/completions", "/v1/agents/completions", "/v1/fim/completions", "/v1/conversations")
"""Endpoints whose prompt Mistral can serve from its cache (conversations: any route under it)."""
BATCHABLE = (
    "/v1/chat/completions",
    "/v1/fim/completions",
    "/v1/embeddings",
    "/v1/moderations",
    "/v1/chat/moderations",
    "/v1/ocr",
    "/v1/classifications",
)
"""Endpoints the Batch API serves (docs.mistral.ai, Batch inference)."""
FAMILIES: tuple[tuple[str, ...], ...] = (
    ("mistral-large", "mistral-medium", "mistral-small", "ministral-8b", "ministral-3b"),
    ("magistral-medium", "magistral-small"),
    ("devstral-medium", "devstral-small"),
    ("pixtral-large", "pixtral-12b"),
    ("voxtral-small", "voxtral-mini"),
)
"""Model families, most expensive first: right-sizing moves a model one step down its family."""
DEFAULT_TARGET = 0.5
"""The cache hit rate the caching lever compares with, by default."""


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


_STREAM, _BATCH = "coalesce(stream, false)", "coalesce(batch, false)"
_CACHEABLE = f"(endpoint IN {_in(CACHEABLE)} OR endpoint LIKE '/v1/conversations%')"


@dataclass(frozen=True, kw_only=True)
class Lever:
    """One lever: its title, the rows it reads (`where`, SQL over ledger rows) and its formula in words."""

    name: str
    title: str
    where: str
    formula: str
    raw: bool = False
    """True when `where` reads a column the hourly rollups do not keep (stream, batch, tier, zone)."""


LEVERS: dict[str, Lever] = {
    lever.name: lever
    for lever in (
        Lever(
            name="caching",
            title="Prompt caching",
            where=f"{_CACHEABLE} AND priced_model IS NOT NULL AND cost IS NOT NULL",
            formula="per model: max(0, target hit rate x prompt tokens - cached tokens) x (input price - cached "
            "input price) / 1M, at the list prices of the window's last day",
        ),
        Lever(
            name="batch",
            title="Batch API (-50%)",
            where=f"NOT {_STREAM} AND NOT {_BATCH} AND endpoint IN {_in(BATCHABLE)} AND cost > 0",
            formula=f"{1 - BATCH_DISCOUNT:.0%} x the spend of calls not streamed, not already batch, on an endpoint "
            "the Batch API serves; an upper bound (only traffic that can wait for hours qualifies)",
            raw=True,
        ),
        Lever(
            name="priority",
            title="Priority tier premium",
            where=f"service_tier = 'priority' AND NOT {_BATCH} AND cost > 0",
            formula=f"spend of priority-tier calls x (1 - 1/{PRIORITY_FACTOR:g})",
            raw=True,
        ),
        Lever(
            name="regional",
            title="Regional endpoint premium",
            where=f"api_zone IN {_in(tuple(ZONE_FACTOR))} AND cost > 0",
            formula="spend of calls to a regional endpoint (eu, us) x (1 - 1/"
            + "/".join(f"{f:g}" for f in sorted(set(ZONE_FACTOR.values())))
            + ")",
            raw=True,
        ),
        Lever(
            name="failed",
            title="Billed failed requests",
            where="status_code >= 400 AND status_code <> 499 AND cost > 0",
            formula="the spend of requests that failed (status >= 400) and were still billed; 499 (the client "
            "hung up) is a cancelled call, counted with the cancelled streams",
        ),
        Lever(
            name="retries",
            title="Billed retries",
            where="coalesce(attempt, 1) > 1 AND cost > 0",
            formula="the spend of retries (attempt > 1), whatever their outcome",
        ),
        Lever(
            name="cancelled",
            title="Cancelled streams",
            where=f"{_STREAM} AND coalesce(tokens_estimated, false) AND cost > 0",
            formula="the spend of streams that ended before their usage arrived (cancelled or broken off; "
            "the gateway estimated their tokens)",
            raw=True,
        ),
        Lever(
            name="right_sizing",
            title="Right-sizing (if quality allows)",
            where="priced_model IS NOT NULL AND cost IS NOT NULL",
            formula="per model: the same tokens at list price on the next cheaper model of its family "
            "(uncached input, cached input and output tokens each at their price), minus at its own list price",
        ),
    )
}


def _last_day(filters: Filters) -> datetime:
    return filters.end_at - timedelta(microseconds=1)


def _token_sums(data_dir: Path, filters: Filters, where: str) -> pd.DataFrame:
    select = f"""SELECT priced_model AS model, {
        aggregates("spend", "requests", "prompt_tokens", "cached_tokens", "completion_tokens")
    } FROM rows WHERE {where} GROUP BY ALL ORDER BY spend DESC, model"""
    df = query(data_dir, filters, select)
    columns = ["model", "spend", "requests", "prompt_tokens", "cached_tokens", "completion_tokens"]
    return pd.DataFrame(columns=columns) if df is None else df


def caching(
    data_dir: Path, filters: Filters, target: float = DEFAULT_TARGET, book: PriceBook | None = None
) -> pd.DataFrame:
    """Per model: prompt_tokens, cached_tokens, cached_share, input_per_1m, cached_per_1m, saving.

    `saving` is NaN for a model with no list price in the display currency on the window's last day.
    """
    book = book or PriceBook.load()
    df = _token_sums(data_dir, filters, LEVERS["caching"].where)
    currency, at = fx.display().currency, _last_day(filters)
    prices = [book.price_at(str(m), at, currency) for m in df["model"]]
    df["cached_share"] = df["cached_tokens"] / df["prompt_tokens"].where(df["prompt_tokens"] > 0)
    df["input_per_1m"] = [p.input_per_1m if p else float("nan") for p in prices]
    df["cached_per_1m"] = [p.cached_input_per_1m if p else float("nan") for p in prices]
    extra = (target * df["prompt_tokens"] - df["cached_tokens"]).clip(lower=0)
    df["saving"] = extra * (df["input_per_1m"] - df["cached_per_1m"]) / 1e6
    columns = ["model", "prompt_tokens", "cached_tokens", "cached_share", "input_per_1m", "cached_per_1m", "saving"]
    return df[columns].sort_values(["saving", "model"], ascending=[False, True], ignore_index=True)


def batch(data_dir: Path, filters: Filters, offline_projects: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per project and endpoint: requests, spend, saving (50% of spend), offline (a marked project)."""
    select = f"""SELECT coalesce(project, '(no project)') AS project, endpoint, {aggregates("requests", "spend")}
        FROM rows WHERE {LEVERS["batch"].where} GROUP BY ALL"""
    df = query(data_dir, filters, select, raw=True)
    if df is None:
        df = pd.DataFrame(columns=["project", "endpoint", "requests", "spend"])
    df["saving"] = df["spend"].astype(float) * (1 - BATCH_DISCOUNT)
    df["offline"] = df["project"].isin(offline_projects)
    return df.sort_values(
        ["offline", "saving", "project", "endpoint"], ascending=[False, False, True, True]
    ).reset_index(drop=True)


def premiums(data_dir: Path, filters: Filters) -> pd.DataFrame:
    """One row per premium (priority tier, each regional zone): kind, requests, spend, premium."""
    parts = []
    for kind, condition, factor in (
        ("priority tier", LEVERS["priority"].where, PRIORITY_FACTOR),
        *((f"regional endpoint ({zone})", f"api_zone = '{zone}' AND cost > 0", f) for zone, f in ZONE_FACTOR.items()),
    ):
        select = f"SELECT {aggregates('requests', 'spend')} FROM rows WHERE {condition}"
        df = query(data_dir, filters, select, raw=True)
        requests, spend = (0, 0.0) if df is None else (int(df["requests"].iloc[0]), float(df["spend"].iloc[0]))
        parts.append({"kind": kind, "requests": requests, "spend": spend, "premium": spend * (1 - 1 / factor)})
    return pd.DataFrame(parts, columns=["kind", "requests", "spend", "premium"])


def _spend_of(data_dir: Path, filters: Filters, lever: str) -> tuple[int, float]:
    select = f"SELECT {aggregates('requests', 'spend')} FROM rows WHERE {LEVERS[lever].where}"
    df = query(data_dir, filters, select, raw=LEVERS[lever].raw)
    return (0, 0.0) if df is None else (int(df["requests"].iloc[0]), float(df["spend"].iloc[0]))


def failures(data_dir: Path, filters: Filters) -> pd.DataFrame:
    """Two rows: billed failed requests, billed retries; kind, requests, spend."""
    rows = [(LEVERS[lever].title, *_spend_of(data_dir, filters, lever)) for lever in ("failed", "retries")]
    return pd.DataFrame(rows, columns=["kind", "requests", "spend"])


def cancelled_streams(data_dir: Path, filters: Filters) -> tuple[int, float]:
    """(requests, spend) of streams cancelled (or broken off) before their usage arrived."""
    return _spend_of(data_dir, filters, "cancelled")


def lost(failures: pd.DataFrame, cancelled: tuple[int, float]) -> pd.DataFrame:
    """The `failures` rows and one row for the cancelled streams (`cancelled_streams`): kind, requests, spend."""
    requests, spend = cancelled
    row = pd.DataFrame([{"kind": LEVERS["cancelled"].title, "requests": requests, "spend": spend}])
    return pd.concat([failures, row], ignore_index=True)


@dataclass(frozen=True, kw_only=True)
class Totals:
    """What each lever would have saved in all (the Savings page's tiles); caching is None without a
    cacheable model (nothing to compare), every other lever 0 without rows."""

    caching: float | None
    batch: float
    batch_offline: float
    premiums: float
    failed: float
    cancelled: float
    right_sizing: float


def totals(
    caching: pd.DataFrame,
    batch: pd.DataFrame,
    premiums: pd.DataFrame,
    failures: pd.DataFrame,
    cancelled: tuple[int, float],
    right_sizing: pd.DataFrame,
) -> Totals:
    """The levers' frames (as `caching`, `batch`, ... return them) added up."""
    cached = caching["saving"].sum(min_count=1)
    return Totals(
        caching=None if pd.isna(cached) else float(cached),
        batch=float(batch["saving"].sum()),
        batch_offline=float(batch.loc[batch["offline"], "saving"].sum()),
        premiums=float(premiums["premium"].sum()),
        failed=float(failures["spend"].sum()),
        cancelled=float(cancelled[1]),
        right_sizing=float(right_sizing["saving"].sum()),
    )


def cheaper_model(model: str, book: PriceBook, at: datetime, currency: str) -> str | None:
    """The newest model of the first family member below `model` whose list price is lower
    (input and output no higher, one of them lower) at `at`; None when there is none.

    Names do not order prices (mistral-large-2512 costs less than mistral-medium-3-5), so each
    step down is checked against the price book.
    """
    own = book.price_at(model, at, currency)
    if own is None:
        return None
    for family in FAMILIES:
        for step, prefix in enumerate(family):
            if model.startswith(prefix + "-") or model == prefix:
                for lower in family[step + 1 :]:
                    found = _newest(lower, book, at, currency)
                    price = book.price_at(found, at, currency) if found else None
                    if price is not None and _cheaper(price, own):
                        return found
                return None
    return None


def _cheaper(price: Price, than: Price) -> bool:
    pairs = ((price.input_per_1m, than.input_per_1m), (price.output_per_1m, than.output_per_1m))
    return all(a <= b for a, b in pairs) and any(a < b for a, b in pairs)


def _newest(prefix: str, book: PriceBook, at: datetime, currency: str) -> str | None:
    """The priced model named `prefix-<version>` whose price started latest on or before `at`."""
    best: tuple[datetime | None, str] | None = None
    for name in sorted(book.models()):
        if not name.startswith(prefix + "-") or name.startswith(prefix + "-latest"):
            continue
        price = book.price_at(name, at, currency)
        if price is None:
            continue
        key = (datetime.combine(price.effective_from, datetime.min.time()), name)
        if best is None or key > best:
            best = key
    return None if best is None else best[1]


def _list_cost(df: pd.DataFrame, input_: pd.Series, cached: pd.Series, output: pd.Series) -> pd.Series:
    uncached = df["prompt_tokens"] - df["cached_tokens"]
    return (uncached * input_ + df["cached_tokens"] * cached + df["completion_tokens"] * output) / 1e6


def right_sizing(data_dir: Path, filters: Filters, book: PriceBook | None = None) -> pd.DataFrame:
    """Per model with a cheaper sibling: cheaper, tokens, list_cost, cheaper_cost, saving (list prices)."""
    book = book or PriceBook.load()
    df = _token_sums(data_dir, filters, LEVERS["right_sizing"].where)
    currency, at = fx.display().currency, _last_day(filters)
    df["cheaper"] = [cheaper_model(str(m), book, at, currency) for m in df["model"]]
    df = df[df["cheaper"].notna()].reset_index(drop=True)
    own = [book.price_at(str(m), at, currency) for m in df["model"]]
    low = [book.price_at(str(m), at, currency) for m in df["cheaper"]]

    def rates(prices: list[Price | None], attr: str) -> pd.Series:
        return pd.Series([getattr(p, attr) if p else float("nan") for p in prices], dtype=float)

    df["tokens"] = df["prompt_tokens"] + df["completion_tokens"]
    df["list_cost"] = _list_cost(df, *(rates(own, a) for a in ("input_per_1m", "cached_input_per_1m", "output_per_1m")))
    df["cheaper_cost"] = _list_cost(
        df, *(rates(low, a) for a in ("input_per_1m", "cached_input_per_1m", "output_per_1m"))
    )
    df["saving"] = (df["list_cost"] - df["cheaper_cost"]).clip(lower=0)
    columns = ["model", "cheaper", "tokens", "list_cost", "cheaper_cost", "saving"]
    return df[columns].sort_values(["saving", "model"], ascending=[False, True], ignore_index=True)


def lever_rows(data_dir: Path, filters: Filters, lever: str, limit: int = 1000) -> pd.DataFrame:
    """The ledger rows behind a lever's figure (newest first, at most `limit`)."""
    select = f"""SELECT timestamp, project, api_key_id, model, priced_model, endpoint, status_code, attempt, stream,
        batch, service_tier, api_zone, tokens_estimated, prompt_tokens, cached_tokens, completion_tokens, cost, id
        FROM rows WHERE {LEVERS[lever].where} ORDER BY timestamp DESC LIMIT {int(limit)}"""
    df = query(data_dir, filters, select, raw=True)
    return pd.DataFrame() if df is None else df
