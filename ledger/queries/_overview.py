"""The Overview's figures from one scan: the tiles' totals for the view and the period before it, spend
per bucket and model, the top projects and API keys, the unpriced models and the currencies converted.

Why one query: each of these is a small group-by over the same rows, and asked one by one they scanned
the window's rollups six times on every filter change (a tenth of a second each at 10M records). One
scan of the window and the period before it, grouped by every key any of them needs (a few thousand
groups), then those groups summed by GROUPING SETS, gives every one of them (each measure is a sum, a
min or a max: ledger.queries._measures); each figure is the one its own function answers
(`spend_summary`, `spend_over_time`, `top_contributors`, `unpriced_models`, `conversion`:
tests/ledger/test_overview_figures.py compares them).

Example:
    >>> from datetime import UTC, date, datetime
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=2000, days=6, seed=7, end=datetime(2026, 11, 25, 12, tzinfo=UTC))
    >>> f = Filters.for_dates(date(2026, 11, 23), date(2026, 11, 25), "UTC")
    >>> figures = overview_figures(Path("data"), f, "day", top=3, n=2)
    >>> figures.previous.requests > 0, len(figures.projects), figures.by_model["model"].nunique() <= 4
    (True, 2, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ledger.pricing import fx

from ._core import (
    EMPTY_SUMMARY,
    SUMMARY_NAMES,
    TOTALS,
    Summary,
    _dim,
    _empty,
    spend_over_time,
    spend_summary,
    summary_of,
    top_contributors,
)
from ._costs import _BY_MODEL_COLUMNS, RateUsed, conversion, rates_used, unpriced_models, unpriced_of
from ._engine import by_bucket, quantum, query, slot_sql
from ._filters import GRAINS, Filters, check_choice
from ._measures import MEASURES_BY_NAME, aggregates

_TOP_COLUMNS = ("spend", "requests", "tokens", "unpriced_requests")
_EXTRA = ("simulated_rows", "first_at", "last_at", "tokens", "unpriced_tokens", "priced_requests", "priced_tokens")
_SETS = {
    "period": "(cur)",
    "series": "(cur, slot, k_model)",
    "model": "(cur, k_model)",
    "project": "(cur, k_project)",
    "api_key": "(cur, k_api_key)",
    "currency": "(cur, currency, day)",
}
_KEYS = ("slot", "k_model", "k_project", "k_api_key", "currency", "day")
"""The grouping columns, in the order `grouping()` reads them (bit 0 = the last). `day` (the UTC day, for the
currency rates) adds no group: a slot lies within one UTC day."""
_NAMES = tuple(dict.fromkeys((*SUMMARY_NAMES, *_BY_MODEL_COLUMNS, *_EXTRA, "unconverted_cost")))


def _combined(name: str) -> str:
    """A measure of the finest groups summed (or min, max) into a grouping set's, counts kept BIGINT."""
    measure = MEASURES_BY_NAME[name]
    cast = "::BIGINT" if measure.sql.endswith("::BIGINT") else ""
    return f"{measure.combine}({name}){cast} AS {name}"


_COMBINED = ", ".join(_combined(name) for name in _NAMES)


def _grouping_id(present: tuple[str, ...]) -> int:
    """`grouping(*_KEYS)` of the set grouped by `present`: a 1 bit per key it does not group by."""
    return sum(1 << (len(_KEYS) - 1 - i) for i, key in enumerate(_KEYS) if key not in present)


_IDS = {
    "period": _grouping_id(()),
    "series": _grouping_id(("slot", "k_model")),
    "model": _grouping_id(("k_model",)),
    "project": _grouping_id(("k_project",)),
    "api_key": _grouping_id(("k_api_key",)),
    "currency": _grouping_id(("currency", "day")),
}


@dataclass(frozen=True, kw_only=True)
class OverviewFigures:
    """What the Overview draws below its tiles, for one view (see the module docstring)."""

    current: Summary
    """`spend_summary(data_dir, filters)`."""
    previous: Summary
    """`spend_summary(data_dir, filters.previous())`."""
    by_model: pd.DataFrame
    """`spend_over_time(data_dir, filters, "model", grain, top)`."""
    projects: pd.DataFrame
    """`top_contributors(data_dir, filters, "project", n)`."""
    api_keys: pd.DataFrame
    """`top_contributors(data_dir, filters, "api_key", n)`."""
    unpriced: pd.DataFrame
    """`unpriced_models(data_dir, filters)`."""
    conversion: list[RateUsed]
    """`conversion(data_dir, filters)`."""


def overview_figures(
    data_dir: Path, filters: Filters, grain: str = "day", top: int | None = None, n: int = 10
) -> OverviewFigures:
    """The Overview's figures for `filters` (its series per `grain`, `top` models named, `n` top rows each)."""
    check_choice("grain", grain, GRAINS)
    before = filters.previous()
    if filters.start_at.timestamp() % 3_600:  # a rollup hour would straddle the periods: ask one by one
        return _one_by_one(data_dir, filters, grain, top, n)
    both = filters.with_window(before.start_at, filters.end_at)
    keyed = f"""SELECT *, timestamp >= ? AS cur, {slot_sql(quantum(filters, grain))} AS slot,
        {_dim("model")} AS k_model, {_dim("project")} AS k_project, {_dim("api_key")} AS k_api_key,
        epoch_us(timestamp) // 86400000000 AS day FROM rows"""
    finest = f"SELECT cur, {', '.join(_KEYS)}, {aggregates(*_NAMES)} FROM ({keyed}) GROUP BY ALL"
    select = f"""SELECT grouping({", ".join(_KEYS)}) AS g, cur, {", ".join(_KEYS)}, {_COMBINED}
        FROM ({finest}) GROUP BY GROUPING SETS ({", ".join(_SETS.values())})"""
    df = query(data_dir, both, select, [filters.start_at])
    if df is None:
        return OverviewFigures(
            current=EMPTY_SUMMARY,
            previous=EMPTY_SUMMARY,
            by_model=_empty(["bucket", "model", *TOTALS]),
            projects=_empty(["project", *_TOP_COLUMNS, "share"]),
            api_keys=_empty(["api_key", *_TOP_COLUMNS, "share"]),
            unpriced=unpriced_of(pd.DataFrame(columns=["model", *_BY_MODEL_COLUMNS])),
            conversion=[],
        )

    def part(name: str, current: bool = True) -> pd.DataFrame:
        return df[(df["g"] == _IDS[name]) & (df["cur"] == current)].reset_index(drop=True)

    current, previous = part("period"), part("period", current=False)
    return OverviewFigures(
        current=summary_of(data_dir, filters, current.iloc[0] if len(current) else None),
        previous=summary_of(data_dir, before, previous.iloc[0] if len(previous) else None),
        by_model=_series(part("series"), filters, grain, top),
        projects=_top(part("project"), "project", n),
        api_keys=_top(part("api_key"), "api_key", n),
        unpriced=unpriced_of(_by_model(part("model"))),
        conversion=_conversion(data_dir, part("currency")),
    )


def _one_by_one(data_dir: Path, filters: Filters, grain: str, top: int | None, n: int) -> OverviewFigures:
    return OverviewFigures(
        current=spend_summary(data_dir, filters),
        previous=spend_summary(data_dir, filters.previous()),
        by_model=spend_over_time(data_dir, filters, "model", grain, top),
        projects=top_contributors(data_dir, filters, "project", n),
        api_keys=top_contributors(data_dir, filters, "api_key", n),
        unpriced=unpriced_models(data_dir, filters),
        conversion=conversion(data_dir, filters),
    )


def _series(rows: pd.DataFrame, filters: Filters, grain: str, top: int | None) -> pd.DataFrame:
    """As `spend_over_time(filters, "model", grain, top)`."""
    df = rows[["slot", "k_model", *TOTALS]].rename(columns={"k_model": "model"})
    df["slot"] = df["slot"].astype("int64")
    return by_bucket(df, filters, grain, ["model"], TOTALS, (top, ("spend", "requests")) if top else None)


def _top(rows: pd.DataFrame, dim: str, n: int) -> pd.DataFrame:
    """As `top_contributors(filters, dim, n)`: the n largest by spend (then requests, then name), with `share`."""
    df = rows[[f"k_{dim}", *_TOP_COLUMNS]].rename(columns={f"k_{dim}": dim})
    total = float(df["spend"].sum())
    df["share"] = df["spend"] / total if total else float("nan")
    ordered = df.sort_values(["spend", "requests", dim], ascending=[False, False, True], kind="stable")
    return ordered.head(int(n)).reset_index(drop=True)


def _by_model(rows: pd.DataFrame) -> pd.DataFrame:
    """As ledger.queries._costs._by_model (ordered by spend, then requests, then model)."""
    df = rows[["k_model", *_BY_MODEL_COLUMNS]].rename(columns={"k_model": "model"})
    ordered = df.sort_values(["spend", "requests", "model"], ascending=[False, False, True], kind="stable")
    return ordered.reset_index(drop=True)


def _conversion(data_dir: Path, rows: pd.DataFrame) -> list[RateUsed]:
    """As `conversion(filters)`: per currency other than the display one, per UTC day."""
    target = fx.display().currency.upper()
    rows = rows[rows["currency"].notna() & (rows["currency"] != target)]
    renamed = {"unconverted_requests": "missing_requests", "unconverted_cost": "missing_cost"}
    df = rows[["currency", "day", "requests", *renamed]].rename(columns=renamed).astype({"day": "int64"})
    return rates_used(data_dir, df.sort_values(["currency", "day"], ignore_index=True), target)
