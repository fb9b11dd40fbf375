"""Reconciliation: what Mistral billed against what the ledger measured, and Mistral's limits.

Why a page of its own: the gap between the bill and the gateway's view is the product's
signature check. Billed rows come from the `mistral_admin` collector source; every figure
here comes from ledger.billing, the same functions the alerts engine uses: the headline adds
up the models whose gap is known (`comparable_totals`); the others are listed beside it, and a
bill line that cannot be read is shown as it came. Model names go in tables, and in the status
warnings as code spans (pages._text.code), never as markdown text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from foundation.money import amount, money, signed_percent
from ledger.billing import STATUS_WORDS, comparable_totals, has_bill, reconciled_csv, unmatched
from pages import _data as data
from pages._auth import export_button
from pages._frame import context
from pages._prices import prices_section
from pages._text import code, md, plot
from pages._ui import show

HINTS = {"billed_not_seen": " (bypasses the gateway?)"}
GAP_WARN_PCT = 5.0
# The tables' headers in words (the frames keep the machine names). A bare string here would be
# drawn on the page: Streamlit's magic writes a page script's bare expressions.
HEADERS = {
    "model": "Model",
    "status": "Status",
    "measured": "Measured",
    "billed": "Billed",
    "gap": "Gap",
    "gap_pct": "Gap %",
    "requests": "Requests",
    "why": "Why",
    "category": "Category",
    "metric": "Metric",
    "problem": "Problem",
    "raw": "As sent",
    "fetched_at": "Fetched at (UTC)",
}
HEADROOM_DAYS = 7

FORMATS: dict[str, Callable[[float], str]] = {
    "measured": amount,
    "billed": amount,
    "gap": partial(amount, signed=True),
    "gap_pct": partial(signed_percent, digits=1),
}
ctx = context()


def dashed(df: pd.DataFrame, formats: dict[str, Callable[[float], str]]) -> pd.DataFrame:
    """The money columns as text, `—` where unknown (st.dataframe would print None)."""
    present = {c: f for c, f in formats.items() if c in df.columns}
    words = {"status": df["status"].map(STATUS_WORDS)} if "status" in df.columns else {}
    return df.assign(
        **{c: df[c].map(lambda v, f=f: "—" if v is None or pd.isna(v) else f(v)) for c, f in present.items()},
        **words,
    )


def named(models: list[str], most: int = 5) -> str:
    """`models` as code spans (escaped: a name is data), the first `most` and how many more."""
    more = f" and {len(models) - most} more (in the table below)" if len(models) > most else ""
    return ", ".join(code(m) for m in models[:most]) + more


st.title("Reconciliation")
now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)  # reruns of a minute share it
month = st.selectbox(
    "Month", data.billed_months(ctx.data_dir, now.date()), help="Months the Admin API has billed, newest first"
)

records = data.reconcile(ctx.data_dir, month, ctx.currency)
rows = pd.DataFrame([asdict(r) for r in records])
no_bill = not has_bill(records)
if no_bill:
    hint = "Add a `mistral_admin` source to the collector config (docs/billing.md); it needs an Enterprise plan."
    st.info(f"No bill for this month yet. {hint}", icon=":material/receipt_long:")
if not rows.empty:
    totals = comparable_totals(records)
    left, mid, right = st.columns(3)
    left.metric("Measured (ledger)", money(totals.measured, ctx.currency))
    mid.metric("Billed (Admin API)", "no bill" if no_bill else money(totals.billed, ctx.currency))
    gap_pct = f"{totals.gap_pct:+.1f}%" if totals.gap_pct is not None and not no_bill else None
    right.metric("Gap", "—" if no_bill else money(totals.gap, ctx.currency), gap_pct, delta_color="inverse")
    st.caption(
        f"Totals over the {totals.compared} models whose gap is known; {len(totals.left_out)} left out "
        "(listed below: a bill that cannot be read, or traffic without a price)."
    )
    for status, models in unmatched(records).items():
        extra = " (left out of the totals; the raw lines are below)" if status == "bill_unreadable" else ""
        count = len(models)
        said = STATUS_WORDS[status].lower() + HINTS.get(status, "")
        st.warning(f"{count} model{'s' if count > 1 else ''}: {said}{extra}: {named(models)}")
    headers: dict[str, Any] = {
        **HEADERS,
        **{c: f"{HEADERS[c]} ({ctx.currency})" for c in ("measured", "billed", "gap")},
        "requests": st.column_config.NumberColumn("Requests", format="localized"),
    }
    labels = rows["model"].map(plot)
    fig = go.Figure(
        [
            go.Bar(name="Measured (ledger)", x=labels, y=rows["measured"]),
            go.Bar(name="Billed (Admin API)", x=labels, y=rows["billed"]),
        ]
    )
    fig.update_layout(barmode="group", title=f"Measured against billed, {plot(month)}", yaxis_title=ctx.currency)
    show(fig)
    view = dashed(rows[["model", "status", "measured", "billed", "gap", "gap_pct", "requests"]], FORMATS)
    st.dataframe(view, hide_index=True, width="stretch", column_config=headers)
    export_button(
        st,
        ctx.data_dir,
        "Download CSV",
        lambda: reconciled_csv(records),
        (f"reconciliation-{month}.csv", "text/csv"),
        key="reconciliation_csv",
        detail=f"reconciliation {month}",
    )
    st.caption(
        f"gap = billed - measured; gap % is of the bill; rows beyond ±{GAP_WARN_PCT:.0f}% deserve a look. "
        "A measured value of — means the ledger saw the model but has no price for it; a billed value "
        "of — means a line of its bill cannot be read."
    )
    if totals.left_out:
        st.markdown("**Left out of the totals** (no gap known)")
        apart = pd.DataFrame(
            [
                {
                    "model": r.model,
                    "status": r.status,
                    "measured": r.measured,
                    "billed": r.billed,
                    "why": "a line of its bill cannot be read"
                    if r.status == "bill_unreadable"
                    else "no price for the measured traffic",
                }
                for r in totals.left_out
            ]
        )
        st.dataframe(dashed(apart, FORMATS), hide_index=True, width="stretch", column_config=headers)
    lines = data.unreadable_lines(ctx.data_dir, month, ctx.currency)
    if not lines.empty:
        st.markdown("**Bill lines that cannot be read**, as the Admin API sent them (also in `data/snapshots/`)")
        st.dataframe(
            lines[["model", "category", "metric", "problem", "raw", "fetched_at"]],
            hide_index=True,
            width="stretch",
            column_config=HEADERS,
            placeholder="—",
        )

st.subheader("Spend limit")
gauges = data.spend_gauges(ctx.data_dir, now)
if not gauges:
    st.info("No spend-limit reading yet: it comes from the `mistral_admin` source.", icon=":material/savings:")
for gauge in gauges:
    if gauge.warning:
        st.error(md(gauge.warning, 500), icon=":material/block:")
    if gauge.no_limit or gauge.limit is None:
        used = md(money(gauge.used, gauge.currency or ctx.currency), 40)
        st.write(f"{md(gauge.source)}: no monthly limit; used {used}")
        continue
    unit = plot(gauge.currency or ctx.currency, 12)
    heading = f"{plot(gauge.source)}: used of {amount(gauge.limit, digits=0)} {unit}"
    dial = go.Indicator(
        mode="gauge+number",
        value=gauge.used or 0,
        number={"suffix": f" {unit}"},
        gauge={"axis": {"range": [0, gauge.limit]}, "threshold": {"value": gauge.limit}},
        title={"text": heading},
    )
    show(go.Figure(dial))
    days = "—" if gauge.days_to_cap is None else f"{gauge.days_to_cap:.1f} days"
    st.write(
        f"Burn {md(money(gauge.burn_per_day, gauge.currency or ctx.currency), 40)}/day; cap reached in {days} "
        f"at this rate. Monthly limit reached: **{'yes' if gauge.reached else 'no'}**."
    )

st.subheader(f"Rate-limit headroom (peak minute, last {HEADROOM_DAYS} days)")
headroom = data.rate_headroom(ctx.data_dir, now, HEADROOM_DAYS)
if not headroom:
    st.info("No rate-limit reading yet: it comes from the `mistral_admin` source.", icon=":material/speed:")
else:
    heads = pd.DataFrame([asdict(h) for h in headroom])
    st.dataframe(
        heads,
        hide_index=True,
        width="stretch",
        column_config={
            "model": "Model",
            "peak_tokens_minute": st.column_config.NumberColumn("Peak tokens in a minute", format="localized"),
            "peak_at": st.column_config.DatetimeColumn("Peak minute (UTC)", format="YYYY-MM-DD HH:mm"),
            "limit_tokens_minute": st.column_config.NumberColumn("Limit (tokens a minute)", format="localized"),
            "headroom_pct": st.column_config.NumberColumn("Headroom", format="%.1f%%"),
        },
        placeholder="—",
    )

prices_section(ctx.data_dir, month)
