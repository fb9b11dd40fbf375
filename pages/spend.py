"""Spend: where the money goes over time, token mix, unit costs, and what is not priced."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from foundation.money import money
from pages import _data as data
from pages._bars import live_bars, show_bars
from pages._frame import context
from pages._keys import with_key_labels
from pages._text import md, short
from pages._ui import TOP_N, conversion_note, empty_state

ctx = context()
st.title("Spend")
DIMS = {"model": "Model", "project": "Project", "api_key": "API key", "endpoint": "Endpoint"}
GRAINS = {"hour": "Hour", "day": "Day", "week": "Week"}


def unpriced_warning() -> None:
    df = data.unpriced_models(ctx.data_dir, ctx.filters)
    if df.empty:
        return
    rows = df.head(TOP_N).itertuples()
    listed = ", ".join(f"{md(r.model)} ({r.requests:,} requests, {r.tokens:,} tokens)" for r in rows)
    more = f" and {len(df) - TOP_N:,} more (all in Explore, grouped by priced model)" if len(df) > TOP_N else ""
    st.warning(
        f"Unpriced models: {listed}{more}. Their cost is unknown, so it is not in any spend figure. "
        "Add a price for them under [[prices]] in the config, then run `python -m collector reprice`.",
        icon=":material/money_off:",
    )


def over_time(dim: str, grain: str) -> None:
    priced = data.priced_spend_over_time(ctx.data_dir, ctx.filters, dim=dim, grain=grain, top=TOP_N)
    tokens = data.tokens_over_time(ctx.data_dir, ctx.filters, dim=dim, grain=grain, top=TOP_N)
    if dim == "api_key":
        priced, tokens = with_key_labels(priced, ctx.data_dir), with_key_labels(tokens, ctx.data_dir)
    colour_map = ctx.colours if dim == "model" else None
    label = DIMS[dim].lower()
    title = f"Spend per {grain} by {label} ({ctx.currency})"
    show_bars(live_bars(priced, "spend", dim, title, f"Spend ({ctx.currency})", colour_map, grain))
    title = f"Tokens per {grain} by {label}"
    show_bars(live_bars(tokens, "tokens", dim, title, "Tokens (input + output)", colour_map, grain))


def token_mix(grain: str) -> None:
    mix = data.token_mix_over_time(ctx.data_dir, ctx.filters, grain=grain)
    show_bars(live_bars(mix, "tokens", "kind", f"Input vs cached vs output tokens per {grain}", "Tokens", None, grain))


def unit_costs() -> None:
    df = data.unit_costs(ctx.data_dir, ctx.filters, top=TOP_N)
    st.subheader("Unit costs by model")
    st.caption("Over priced requests only; an unpriced model's cost is unknown, not free.")
    shown = df.assign(
        model=df["model"].map(short),
        spend=[money(v, ctx.currency) if pd.notna(v) else "unpriced" for v in df["spend"]],
        cost_per_1k_requests=[_unit(v, s) for v, s in zip(df["cost_per_1k_requests"], df["spend"], strict=True)],
        cost_per_1m_tokens=[_unit(v, s) for v, s in zip(df["cost_per_1m_tokens"], df["spend"], strict=True)],
    )
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            "model": "Model",
            "spend": st.column_config.TextColumn(f"Spend ({ctx.currency})", alignment="right"),
            "requests": st.column_config.NumberColumn("Requests", format="localized"),
            "cost_per_1k_requests": st.column_config.TextColumn("Per 1k requests", alignment="right"),
            "cost_per_1m_tokens": st.column_config.TextColumn("Per 1M tokens", alignment="right"),
        },
    )


def _unit(value: float, spend: float) -> str:
    """A unit cost; unknown: `unpriced` when the model has no price, else `n/a` (no tokens: OCR is per page)."""
    if pd.isna(value):
        return "unpriced" if pd.isna(spend) else "n/a"
    return money(value, ctx.currency, style="unit")


with st.empty():  # the warning's slot, kept when it is empty: the charts below keep their places (as the Overview's)
    unpriced_warning()
summary = data.spend_summary(ctx.data_dir, ctx.filters)
if summary.requests == 0:
    empty_state()
else:
    st.metric(f"Spend in {ctx.range_label}", money(summary.spend, ctx.currency))
    conversion_note(ctx.data_dir, ctx.filters, ctx.currency)
    left, right = st.columns(2)
    dim = left.selectbox("Break down by", list(DIMS), format_func=DIMS.__getitem__, key="spend_dim")
    grain = right.radio(
        "Grain",
        list(GRAINS),
        index=list(GRAINS).index(ctx.filters.default_grain),
        format_func=GRAINS.__getitem__,
        horizontal=True,
    )
    over_time(dim, grain)
    token_mix(grain)
    unit_costs()
