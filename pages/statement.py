"""Statement: one month per project (or API key): spend by model, requests, errors, the rate, the change.

Why a page of its own: it is what a project owner gets by email on the 1st (alerts/_statement.py),
and finance wants the same figures as a CSV; all three come from `ledger.queries.statement`. Months are
calendar months in the configured time zone; the sidebar's date range does not apply here.
Project, key and model names go in tables and widgets only, never into markdown text.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from foundation.money import money
from ledger.queries.statement import (
    HEADERS,
    NO_DATA,
    PARTIAL,
    SCOPES,
    Statement,
    coverage_text,
    empty_days_text,
    readable,
    statement_csv,
)
from pages import _data as data
from pages._auth import export_button
from pages._frame import context
from pages._keys import labels, with_key_labels
from pages._text import md
from pages._ui import count

SCOPE_LABELS = {"project": "Project", "api_key": "API key"}


def headline(stmt: Statement, currency: str) -> None:
    """Spend of the month and of the one before (`no data` where the ledger does not cover it)."""
    top = stmt.headline

    def shown(value: float, covered: bool) -> str:
        return money(value, currency, cents=True) if covered else NO_DATA

    change = f"{top.change} vs {stmt.previous}" if top.change is not None else None
    left, mid, right, last = st.columns(4)
    left.metric(f"Spend {stmt.month}", shown(top.spend, stmt.covered), change, delta_color="inverse")
    days = f"{PARTIAL}: {coverage_text(stmt.previous_days)} only" if stmt.previous_partial else None
    mid.metric(f"Spend {stmt.previous}", shown(top.previous_spend, stmt.previous_covered), help=days)
    right.metric("Requests", count(top.requests) if stmt.covered else NO_DATA, help=f"{top.requests:,}")
    last.metric("Errors", count(top.errors) if stmt.covered else NO_DATA, help=f"{top.errors:,}")


def table_with_csv(data_dir: Path, stmt: Statement, table: pd.DataFrame, names: tuple[str, str, str, str]) -> None:
    """A statement table for people (words, 2-decimal money, a total row; key ids shown with their
    labels) and its CSV download (machine columns, full precision), audited.

    `names`: what the button says is in the file, the file name's suffix, the audit log's note,
    the button's widget key."""
    what, suffix, note, key = names
    shown = readable(stmt, with_key_labels(table, data_dir))
    figures = [c for c in shown.columns if c not in (HEADERS.get(stmt.by), HEADERS["model"])]
    right = {c: st.column_config.TextColumn(alignment="right") for c in figures}  # figures are text: line them up
    st.dataframe(shown, hide_index=True, width="stretch", column_config=right)
    export_button(
        st,
        data_dir,
        f"Download CSV ({what})",
        lambda: statement_csv(stmt),
        (f"statement-{stmt.month}-{suffix}.csv", "text/csv"),
        key=key,
        detail=note,
    )


ctx = context()
st.title("Statement")
zone = ctx.filters.timezone
choices = data.statement_months(ctx.data_dir, f"{datetime.now(ZoneInfo(zone)):%Y-%m}")
pick, per = st.columns(2)
month = pick.selectbox(
    "Month",
    choices,
    index=min(1, len(choices) - 1),
    key="statement_month",
    help="Calendar months in the sidebar's time zone; the sidebar's dates do not apply here",
)
by = per.radio("Per", SCOPES, format_func=SCOPE_LABELS.__getitem__, horizontal=True, key="statement_by")
stmt = data.statement(ctx.data_dir, month, zone, ctx.currency, by)
rate = "none" if stmt.rate is None else f"{stmt.rate:.4f}"
note = md(stmt.rate_note[0].upper() + stmt.rate_note[1:], 500)
st.caption(
    f"Rate: {rate}. {note}. Spend counts priced requests only; "
    f"errors are per-request rows with status >= 400; change is against {stmt.previous}."
)
if stmt.totals.empty:
    st.info(f"No requests in {month} or {stmt.previous}. Pick another month.", icon=":material/receipt:")
    st.stop()
headline(stmt, ctx.currency)
if not stmt.previous_covered:
    st.caption(f"The ledger holds no day of {stmt.previous}: its figures read “no data”, not 0.")
elif stmt.previous_partial:
    st.caption(
        f"The ledger covers {coverage_text(stmt.previous_days)} of {stmt.previous} only: "
        f"its spend is those days', and the change against it reads “{PARTIAL}”, not a percentage."
    )
if stmt.partial:
    st.caption(f"The ledger covers {coverage_text(stmt.days)} of {stmt.month} only.")
if stmt.empty_days:
    st.caption(
        f"No request at all on {len(stmt.empty_days)} day(s) of {stmt.month} (UTC): "
        f"{empty_days_text(stmt.empty_days)}. A quiet day, or one the collector did not collect (its log, "
        "data/logs/collector.log, says which): whatever it cost is not in this statement."
    )
st.markdown(f"**Every {SCOPE_LABELS[by].lower()}**")
table_with_csv(ctx.data_dir, stmt, stmt.totals, ("every line", by, f"statement {month} {by}", "statement_all_csv"))

names = labels(ctx.data_dir) if by == "api_key" else {}
scope = st.selectbox(
    SCOPE_LABELS[by],
    stmt.scopes(),
    key="statement_scope",
    format_func=lambda v: names.get(v, v),
    help="The statement of one, as its owner gets it by email",
)
mine = stmt.only(scope)
st.markdown(f"**By model** ({SCOPE_LABELS[by].lower()} picked above)")
table_with_csv(ctx.data_dir, mine, mine.lines, ("this one", f"{by}-one", f"statement {month} one", "statement_one_csv"))
