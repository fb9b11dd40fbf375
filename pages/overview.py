"""Overview: what it costs, where the money goes, whether traffic is healthy, at a glance."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from foundation.money import COLUMN_FORMAT, money, percent_change
from ledger.queries import EMPTY_SUMMARY, Forecast, OverviewFigures, RateUsed, Summary
from pages import _data as data
from pages._auth import signed_fragment
from pages._bars import live_bars, show_bars
from pages._frame import context
from pages._keys import with_key_labels
from pages._text import md, short
from pages._tiles import Tile, tile_row
from pages._ui import (
    TOP_N,
    conversion_note,
    empty_state,
    millis,
    percent,
    tile_count,
    tile_money,
)

ctx = context()
st.title("Overview")
SHARE_PIXELS = 110  # the top tables' share bars, narrower than the grid draws them: "Tokens" whole beside a long name
TOP_ROWS = 10  # rows of each top table (projects, API keys), before the "(other)" row
# How often the tiles ask again: a refresh whose ledger did not move is served from the cache (the figures
# are keyed on the ledger's mark), one after a commit shows it; the collector commits about once a minute.
LIVE_SECONDS = 30


def figures() -> OverviewFigures:
    """This view's figures, from one query. Each call unpickles the cached answer (~4 ms at 10M records), so a
    run asks once and passes them on; the live tiles, a fragment that also runs alone, ask once more."""
    return data.overview_figures(ctx.data_dir, ctx.filters, ctx.filters.default_grain, TOP_N, TOP_ROWS)


def _points(now: float | None, before: float | None) -> str | None:
    """Change of a rate in percentage points."""
    if now is None or before is None:
        return None
    return f"{(now - before) * 100:+.2f} pp"


def tiles(cur: Summary, prev: Summary, conversion: list[RateUsed]) -> None:
    """Six tiles, each with its change against the previous period of equal length: what it costs, then whether
    it is healthy (two rows of three, so a tile holds "$9,999.99" on a laptop; six in a row cut it)."""
    currency = ctx.currency
    spend, spend_exact = tile_money(cur.spend, currency)
    requests, requests_exact = tile_count(cur.requests)
    tokens, tokens_exact = tile_count(cur.tokens)
    tile_row(
        [
            Tile(f"Spend ({currency})", spend, percent_change(cur.spend, prev.spend), help=spend_exact),
            Tile("Requests", requests, percent_change(cur.requests, prev.requests), help=requests_exact),
            Tile("Tokens", tokens, percent_change(cur.tokens, prev.tokens), help=tokens_exact),
            Tile("Error rate", percent(cur.error_rate), _points(cur.error_rate, prev.error_rate), inverse=True),
            Tile("429 rate", percent(cur.rate_429), _points(cur.rate_429, prev.rate_429), inverse=True),
            Tile("p95 latency", millis(cur.p95_ms), percent_change(cur.p95_ms, prev.p95_ms), inverse=True),
        ]
    )
    conversion_note(ctx.data_dir, ctx.filters, currency, conversion)


@signed_fragment(run_every=LIVE_SECONDS)
def live_tiles() -> None:
    """Refreshes on its own every LIVE_SECONDS without rerunning the page, asking again who is here first."""
    before = ctx.filters.previous()
    shown = figures()
    comparable = shown.previous.covers(before.start_at, before.end_at)
    tiles(shown.current, shown.previous if comparable else EMPTY_SUMMARY, shown.conversion)
    days = ctx.filters.days
    updated = datetime.now(ctx.filters.tz)
    versus = f"changes vs the {days} days before" if comparable else "no changes: no data for the days before"
    st.caption(f"{ctx.range_label}, {versus} · updated {updated:%H:%M:%S}")


def month_to_date(forecast: Forecast) -> None:
    to_date, to_date_exact = tile_money(forecast.spend_to_date, ctx.currency)
    ahead, ahead_exact = tile_money(forecast.forecast, ctx.currency)
    tile_row(
        [
            Tile(f"Month to date ({forecast.month_start:%B})", to_date, help=to_date_exact),
            Tile("Forecast to month end", ahead, help=ahead_exact),
        ],
        widths=(1, 1, 2),
        note=f"Forecast: spend so far plus the days left to {forecast.month_end:%d %b}, each at the recent mean of "
        f"its kind: weekdays {money(forecast.weekday_rate, ctx.currency)}/day, weekends "
        f"{money(forecast.weekend_rate, ctx.currency)}/day (from {forecast.basis_days} full days).",
    )


def spend_by_model(view: OverviewFigures) -> None:
    grain = ctx.filters.default_grain
    df = data.overview_spend_by_model(view)
    title = f"Spend per {grain} by model ({ctx.currency})"
    show_bars(live_bars(df, "spend", "model", title, f"Spend ({ctx.currency})", ctx.colours, grain))


def top_table(view: OverviewFigures, dim: str, label: str) -> None:
    df = data.overview_top(view, dim)
    df = with_key_labels(df, ctx.data_dir) if dim == "api_key" else df
    st.subheader(f"Top {label}")
    st.dataframe(
        df[[dim, "spend", "share", "requests", "tokens"]].assign(**{dim: df[dim].map(short)}),
        hide_index=True,
        width="stretch",
        column_config={
            dim: st.column_config.TextColumn(label.rstrip("s").capitalize() if dim != "api_key" else "API key"),
            "spend": st.column_config.NumberColumn(f"Spend ({ctx.currency})", format=COLUMN_FORMAT),
            "share": st.column_config.ProgressColumn(
                "Share of spend", format="percent", min_value=0, max_value=1, width=SHARE_PIXELS
            ),
            "requests": st.column_config.NumberColumn("Requests", format="localized"),
            "tokens": st.column_config.NumberColumn("Tokens", format="compact"),
        },
    )


def unpriced_banner(view: OverviewFigures) -> None:
    """The one unpriced count of the page: the requests of this view (its dates and filters) whose model
    had no price on their date, and which models; none of them is in any spend figure below."""
    found = view.unpriced
    if found.empty:
        return
    names = ", ".join(md(m) for m in found["model"].head(5))
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    models = "1 model" if len(found) == 1 else f"{len(found)} models"
    hidden = view.current.unpriced_requests
    st.warning(
        f"{hidden:,} requests in {ctx.range_label} (this view's dates and filters) went to "
        f"{models} with no price for their date: {names}{more}. They are in no spend figure on this page. Add a row "
        "to ledger/pricing/prices.csv or a [[prices]] override, then run python -m collector reprice.",
        icon=":material/price_change:",
    )


def anomalies_panel() -> None:
    """Spend anomalies the alert engine found (docs/alerts.md, rule `anomaly`): open episodes first,
    then the last 30 days, each linking to its pre-filtered view. Names other projects, so shown
    only to people who see every project."""
    if ctx.filters.scope is not None:
        return
    episodes = data.anomalies(ctx.data_dir)
    st.subheader("Anomalies")
    if not episodes:
        st.caption("No spend anomaly in the last 30 days (per project, API key and model; see docs/alerts.md).")
        return
    opened = sum(e.open for e in episodes)
    st.caption(f"{opened} open, {len(episodes) - opened} resolved in the last 30 days.")
    tz = ctx.filters.tz
    table = pd.DataFrame(
        {
            "state": ["open" if e.open else "resolved" for e in episodes],
            "scope": [short(e.scope, 80) for e in episodes],
            "window": ["last hour" if e.rule == "anomaly_hour" else "last 24 hours" for e in episodes],
            "since": [e.started.astimezone(tz).strftime("%Y-%m-%d %H:%M") for e in episodes],
            "resolved": [e.resolved.astimezone(tz).strftime("%Y-%m-%d %H:%M") if e.resolved else "" for e in episodes],
            "view": [e.link for e in episodes],
            "alert": [short(e.subject, 160) for e in episodes],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "state": "State",
            "scope": "Scope",
            "window": "Window",
            "since": "Since",
            "resolved": "Resolved",
            "view": st.column_config.LinkColumn("View", display_text="Open the view"),
            "alert": "Alert",
        },
    )


view = figures()
with st.empty():  # the banner's slot, kept when empty: the chart below keeps its place, so it is not drawn anew
    unpriced_banner(view)
live_tiles()
if view.current.requests == 0:
    empty_state()
else:
    month_to_date(view.forecast)
    spend_by_model(view)
    projects, keys = st.columns(2)
    with projects:
        top_table(view, "project", "projects")
    with keys:
        top_table(view, "api_key", "API keys")
anomalies_panel()
