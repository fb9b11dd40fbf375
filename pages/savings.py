"""Savings: what each lever would have saved over the filter window (ledger.queries.savings).

The page only reads its widgets, calls the cached data functions and renders; each figure's
formula is in its tooltip and the rows behind it are one click away.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from foundation.money import COLUMN_FORMAT, UNIT_COLUMN_FORMAT, money
from ledger.queries.savings import BATCHABLE, DEFAULT_TARGET, LEVERS
from pages import _data as data
from pages._config import settings
from pages._frame import context
from pages._keys import with_key_labels
from pages._text import md, short
from pages._ui import conversion_note, empty_state

ctx = context()
offline = settings().offline_projects
st.title("Savings")
st.caption(
    f"What each lever would have saved over {md(ctx.range_label, 80)}, from the ledger's rows and the list price book "
    "(Mistral's published prices; your own price sheet may differ). Hover a figure's (?) for its formula; open "
    "**Rows behind it** under each section for the ledger rows it sums."
)


def cash(value: float | None) -> str:
    return money(value, ctx.currency)


def rows_behind(lever: str) -> None:
    with st.expander(f"Rows behind it: {LEVERS[lever].title}"):
        st.caption(f"Ledger rows where `{LEVERS[lever].where}` (newest 1,000), in the filter window.")
        df = data.savings_rows(ctx.data_dir, ctx.filters, lever)
        shown = with_key_labels(df, ctx.data_dir, "api_key_id")
        st.dataframe(shown, hide_index=True, width="stretch", placeholder="—")  # a missing cell, not "None"


def money_column(title: str) -> Any:
    return st.column_config.NumberColumn(f"{title} ({ctx.currency})", format=COLUMN_FORMAT)


if data.spend_summary(ctx.data_dir, ctx.filters).requests == 0:
    empty_state()
    st.stop()

target = st.slider("Cache hit rate to compare with (%)", 10, 95, int(DEFAULT_TARGET * 100), step=5) / 100
caching = data.savings_caching(ctx.data_dir, ctx.filters, target)
batch = data.savings_batch(ctx.data_dir, ctx.filters, offline)
premiums = data.savings_premiums(ctx.data_dir, ctx.filters)
sizing = data.savings_right_sizing(ctx.data_dir, ctx.filters)
total = data.savings_totals(ctx.data_dir, ctx.filters, target, offline)

tiles = [*st.columns(3), *st.columns(3)]  # two rows: six tiles in one cut "$9,999.99" on a laptop
figures = (
    (f"Caching at {target:.0%}", total.caching, "caching"),
    ("Batch API", total.batch, "batch"),
    ("Premiums", total.premiums, "priority"),
    ("Errors, retries", total.failed, "failed"),
    ("Cancelled", total.cancelled, "cancelled"),
    ("Right-sizing", total.right_sizing, "right_sizing"),
)
for tile, (label, value, lever) in zip(tiles, figures, strict=True):
    formula = LEVERS[lever].formula
    if lever == "priority":
        formula += "; plus " + LEVERS["regional"].formula
    if lever == "failed":
        formula += "; plus " + LEVERS["retries"].formula + " (a failed retry counts in both)"
    tile.metric(label, cash(value), border=True, help=formula)
conversion_note(ctx.data_dir, ctx.filters, ctx.currency)

st.subheader("Prompt caching")
st.caption(
    f"Cached share of prompt tokens per model, and what a {target:.0%} hit rate would have saved. "
    f"Formula: {LEVERS['caching'].formula}."
)
st.dataframe(
    caching.assign(model=caching["model"].map(short)),
    hide_index=True,
    width="stretch",
    column_config={
        "model": "Model (priced as)",
        "prompt_tokens": st.column_config.NumberColumn("Prompt tokens", format="localized"),
        "cached_tokens": st.column_config.NumberColumn("Cached tokens", format="localized"),
        "cached_share": st.column_config.ProgressColumn("Cached share", format="percent", min_value=0, max_value=1),
        "input_per_1m": st.column_config.NumberColumn(f"Input ({ctx.currency} /1M)", format=UNIT_COLUMN_FORMAT),
        "cached_per_1m": st.column_config.NumberColumn(f"Cached input ({ctx.currency} /1M)", format=UNIT_COLUMN_FORMAT),
        "saving": money_column("Would save"),
    },
)
rows_behind("caching")

st.subheader("Batch API (-50%)")
marked = ", ".join(md(p) for p in offline) if offline else "none yet"
st.caption(
    "Traffic that could wait, an upper bound per project and endpoint: calls not streamed, not already sent "
    f"through the Batch API, on an endpoint it serves ({', '.join(BATCHABLE)}). Projects you mark as offline "
    f"(`[savings] offline_projects` in the config: {marked}) are listed first. Formula: {LEVERS['batch'].formula}."
)
left, right = st.columns(2)
left.metric("Offline projects", cash(total.batch_offline), help=LEVERS["batch"].formula)
right.metric("All non-streaming calls (upper bound)", cash(total.batch), help=LEVERS["batch"].formula)
st.dataframe(
    batch.assign(project=batch["project"].map(short), endpoint=batch["endpoint"].map(short)),
    hide_index=True,
    width="stretch",
    column_config={
        "project": st.column_config.TextColumn("Project"),
        "endpoint": st.column_config.TextColumn("Endpoint"),
        "requests": st.column_config.NumberColumn("Requests", format="localized"),
        "spend": money_column("Spend"),
        "saving": money_column("Would save"),
        "offline": st.column_config.CheckboxColumn("Marked offline"),
    },
)
rows_behind("batch")

st.subheader("Premiums")
st.caption(f"Formulas: {LEVERS['priority'].formula}; {LEVERS['regional'].formula} (each computed alone).")
st.dataframe(
    premiums,
    hide_index=True,
    width="stretch",
    column_config={
        "kind": "Premium",
        "requests": st.column_config.NumberColumn("Requests", format="localized"),
        "spend": money_column("Spend"),
        "premium": money_column("Premium paid"),
    },
)
rows_behind("priority")
rows_behind("regional")

st.subheader("Errors, retries and cancelled streams")
st.caption(
    f"{LEVERS['failed'].formula.capitalize()}; {LEVERS['retries'].formula}; {LEVERS['cancelled'].formula}. "
    "A failed retry counts in both of the first two."
)
st.dataframe(
    data.savings_lost(ctx.data_dir, ctx.filters),
    hide_index=True,
    width="stretch",
    column_config={
        "kind": "What",
        "requests": st.column_config.NumberColumn("Requests", format="localized"),
        "spend": money_column("Spend"),
    },
)
for lever in ("failed", "retries", "cancelled"):
    rows_behind(lever)

st.subheader("Right-sizing, if quality allows")
st.caption(
    "The same tokens on the next cheaper model of the family, at list prices; only worth it where the smaller model "
    f"does the job. Formula: {LEVERS['right_sizing'].formula}."
)
st.dataframe(
    sizing.assign(model=sizing["model"].map(short), cheaper=sizing["cheaper"].map(short)),
    hide_index=True,
    width="stretch",
    column_config={
        "model": "Model (priced as)",
        "cheaper": "Next cheaper",
        "tokens": st.column_config.NumberColumn("Tokens", format="compact"),
        "list_cost": money_column("At its list price"),
        "cheaper_cost": money_column("On the cheaper model"),
        "saving": money_column("Would save"),
    },
)
rows_behind("right_sizing")
