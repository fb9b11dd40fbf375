"""What every page renders with: percent and count formats, the conversion note, model colours, charts.

Why one module: a figure reads the same on every page (`12.5k`, `1.25%`, `n/a` for unknown),
and a model keeps its colour from page to page. Data comes from `pages._data` (cached).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TypeVar

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from foundation.money import money, symbol
from ledger import queries
from ledger.queries import Filters, RateUsed

from . import _data as data
from ._text import md

TOP_N = 12
"""Charts and tables show the TOP_N largest values of a dimension and one "(other)" group."""
PALETTE = qualitative.Plotly + qualitative.D3
NO_ROWS = (
    "No requests match these filters in this date range. Widen the date range in the sidebar, "
    "or clear the project, model, API key and source filters."
)


def rate_text(used: queries.RateUsed) -> str:
    """`EUR→USD 1.0563 (ECB, 2026-11-27)`, with the range when the days' rates differ."""
    if used.rate is None or used.rate_date is None:
        return f"{md(used.currency, 12)}→{md(used.target, 12)}: no rate"
    text = f"{md(used.currency, 12)}→{md(used.target, 12)} {used.rate:.4f} (rate of {used.rate_date.isoformat()})"
    if used.low is not None and used.high is not None and used.low != used.high:
        text += f", {used.low:.4f}–{used.high:.4f} over the window"
    return text


def conversion_note(data_dir: Path, filters: Filters, currency: str, used: list[RateUsed] | None = None) -> None:
    """Under the money figures: which rates converted them (and their dates), and what has no rate.

    Why: a figure converted from two currencies must say so; a day with no rate is left out
    of every sum (never taken at 1.0), so the page names it and the money it holds. `used`: the
    view's `data.conversion`, when the page has it already.
    """
    used = data.conversion(data_dir, filters) if used is None else used
    if not used:
        return
    st.caption(
        f"Money in {md(currency, 12)}, converted at each UTC day's reference rate: "
        + "; ".join(rate_text(u) for u in used)
        + "."
    )
    for u in (u for u in used if u.missing_requests):
        days = ", ".join(d.isoformat() for d in u.missing_days[:5]) + (" …" if len(u.missing_days) > 5 else "")
        st.warning(
            f"No {md(u.currency, 12)}→{md(u.target, 12)} rate for {days}: {u.missing_requests:,} requests "
            f"({money(u.missing_cost, md(u.currency, 12), style='unit')}) are left out of the spend. Add the rates "
            f"(`[fx] url` or `[[fx.rates]]` in the config).",
            icon=":material/currency_exchange:",
        )


def percent(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value * 100:.2f}%"


def count(value: float | None) -> str:
    """1,234 / 12.3k / 674.5M / 2.5B: at most 6 characters below a trillion, so a tile never cuts it."""
    if value is None or pd.isna(value):
        return "n/a"
    for threshold, size, suffix in ((999_950_000, 1e9, "B"), (999_950, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / size:,.1f}{suffix}"
    return f"{value:,.0f}"


TILE_MONEY_EXACT_BELOW = 10_000
"""Money under this shows in full on a tile (`$9,999.99`); from it on, compact (`$12.3k`)."""


def tile_count(value: float | None) -> tuple[str, str | None]:
    """(a tile's compact count, its tooltip: the exact figure) — `674.5M`, `674,512,345`."""
    if value is None or pd.isna(value):
        return "n/a", None
    return count(value), f"{value:,.0f}"


def tile_money(value: float | None, currency: str) -> tuple[str, str | None]:
    """(a tile's money, compact from TILE_MONEY_EXACT_BELOW: `$12.3k`; its tooltip: `$12,345.67`)."""
    exact = money(value, currency)
    if value is None or pd.isna(value) or abs(value) < TILE_MONEY_EXACT_BELOW:
        return exact, exact if value is not None and not pd.isna(value) else None
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol(currency)}{count(abs(value))}", exact


def millis(value: float | None) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def colours(models: list[str]) -> dict[str, str]:
    """One colour per model: its rank among the window's models (ignoring the model filter).

    Every page of a view sees the same model list, so a model keeps its colour across pages.
    """
    return {model: PALETTE[i % len(PALETTE)] for i, model in enumerate(sorted(models))}


def layout(title: str, y_title: str, x_title: str = "") -> dict[str, object]:
    """The layout every chart shares: title, axis titles with units, the legend on the right (a dozen
    models never cover the title), one hover box per x."""
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        "legend": {"orientation": "v", "yanchor": "top", "y": 1, "x": 1.01, "title": {"text": None}},
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "hovermode": "x unified",
    }


def style(fig: go.Figure, title: str, y_title: str, x_title: str = "") -> go.Figure:
    """`fig` with the shared `layout`."""
    fig.update_layout(layout(title, y_title, x_title))
    return fig


OTHER_COLOUR = "#9e9e9e"


def series_colours(names: list[str], colour_map: dict[str, str] | None) -> dict[str, str]:
    """Each name's colour in a chart: its own from `colour_map` (the model colours), "(other)" grey, else the
    next of PALETTE no name has yet, so a legend tells every two apart (while PALETTE lasts)."""
    spare = itertools.cycle(PALETTE)
    colours: dict[str, str] = {}
    for name in names:
        wanted = OTHER_COLOUR if name == queries.OTHER else (colour_map or {}).get(name)
        for _ in range(len(PALETTE)):
            if wanted is not None and wanted not in colours.values():
                break
            wanted = next(spare)
        colours[name] = wanted or next(spare)
    return colours


DIMENSION_WORDS = {
    "model": "Model",
    "project": "Project",
    "api_key": "API key",
    "endpoint": "Endpoint",
    "source": "Source",
    "priced_model": "Priced as",
    "status_class": "Status class",
    "status_code": "Status code",
    "error_type": "Error type",
}
MEASURE_WORDS = {
    "spend": "Spend",
    "requests": "Requests",
    "tokens": "Tokens",
    "prompt_tokens": "Input tokens",
    "completion_tokens": "Output tokens",
    "cached_tokens": "Cached input tokens",
    "errors": "Errors",
    "error_rate": "Error rate",
    "rate_429": "429 rate",
    "p95_latency_ms": "p95 latency (ms)",
    "avg_latency_ms": "Average latency (ms)",
}
"""A dimension's and a measure's name as a picker, a header or a chart says it (the URL keeps the name)."""


def words(name: str) -> str:
    """`api_key` → `API key`, `prompt_tokens` → `Input tokens`; any other name with its `_` as spaces."""
    return DIMENSION_WORDS.get(name) or MEASURE_WORDS.get(name) or name.replace("_", " ").capitalize()


def show(fig: go.Figure) -> None:
    st.plotly_chart(fig, width="stretch")


def empty_state() -> None:
    st.info(NO_ROWS, icon=":material/filter_alt_off:")


T = TypeVar("T")


def replaced(items: list[T], current: T | None, new: T) -> list[T]:
    """`items` with `current` replaced by `new` in place, or `new` appended when `current` is None."""
    return [*items, new] if current is None else [new if item is current else item for item in items]
