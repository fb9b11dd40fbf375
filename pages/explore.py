"""Explore: slice the ledger ad hoc (group-by, measure, grain), or ask it in read-only SQL."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from foundation.money import COLUMN_FORMAT
from ledger.queries import (
    DIMENSIONS,
    GRAINS,
    MEASURES,
    SQL_MAX_BYTES,
    SQL_MEMORY_MB,
    UNPRICED,
    SqlRefused,
    csv_bytes,
    parquet_bytes,
)
from pages import _data as data
from pages._auth import audited, export_button, may
from pages._bars import live_lines, show_bars, value_bars
from pages._frame import context
from pages._text import md
from pages._ui import TOP_N, empty_state, words

ctx = context()
st.title("Explore")
SQL_EXAMPLE = "SELECT model, count(*) AS requests, sum(cost) AS spend\nFROM ledger\nGROUP BY model\nORDER BY spend DESC"
FORMATS = {"spend": COLUMN_FORMAT, "error_rate": "percent", "rate_429": "percent"}
MAX_ROWS = 100_000
TABLE_ROWS = 100_000  # rows the table shows; the downloads hold every row (a bare string here would be drawn)


def downloads(df: pd.DataFrame, stem: str) -> None:
    """CSV (formula-safe) and parquet downloads of what is shown, built and audited only when clicked."""
    left, right, _ = st.columns([1, 1, 4])
    csv_file, pq_file = (f"{stem}.csv", "text/csv"), (f"{stem}.parquet", "application/vnd.apache.parquet")
    rows = f"{len(df)} rows"
    export_button(
        left,
        ctx.data_dir,
        "Download CSV",
        lambda: csv_bytes(df),
        csv_file,
        key=f"{stem}_csv",
        detail=f"{csv_file[0]}, {rows}",
    )
    export_button(
        right,
        ctx.data_dir,
        "Download parquet",
        lambda: parquet_bytes(df),
        pq_file,
        key=f"{stem}_pq",
        detail=f"{pq_file[0]}, {rows}",
    )


def unpriced_note(hidden: int, unpriced: set[str]) -> None:
    """`hidden`: the requests without a price, left out of the spend; `unpriced`: the values with no price."""
    if not hidden:
        return
    more = f" and {len(unpriced) - 5} more" if len(unpriced) > 5 else ""
    names = ", ".join(md(v) for v in sorted(unpriced)[:5]) + more
    verb = "has" if len(unpriced) == 1 else "have"
    which = f"{names} {verb} no price: shown as {UNPRICED}, never as 0. " if unpriced else ""
    st.caption(f"{which}{hidden:,} requests without a price are not in the spend (the table's Unpriced requests).")


def chart(df: pd.DataFrame, group_by: list[str], measure: str, grain: str | None) -> None:
    """`df`: the whole breakdown; a chart of 100,000 lines is none, so a time chart draws the TOP_N largest.
    Vega-Lite (pages/_bars.py): a sidebar filter changes the rows of the chart drawn, not the chart."""
    unit = f" ({ctx.currency})" if measure == "spend" else ""
    y_title = words(measure) + unit
    title = f"{words(measure)}{unit}" + (f" by {', '.join(words(g).lower() for g in group_by)}" if group_by else "")
    unpriced = data.breakdown_unpriced(ctx.data_dir, ctx.filters, group_by, measure, grain)
    colour = group_by[0] if group_by else "measure"
    detail = group_by[1] if len(group_by) > 1 else None
    colours = ctx.colours if colour == "model" else None
    if grain:
        drawn = data.breakdown_largest(ctx.data_dir, ctx.filters, group_by, measure, grain, TOP_N)
        if group_by and len(drawn) < len(df):
            values = data.breakdown_values(ctx.data_dir, ctx.filters, group_by, measure, grain)
            st.caption(f"The chart shows the {TOP_N} largest of {values:,} values; the table has them all.")
        drawn = drawn if group_by else drawn.assign(measure=words(measure))
        per = f"{title} per {grain}"
        show_bars(live_lines(drawn, measure, colour, per, y_title, grain, colours, detail=detail, unpriced=unpriced))
    elif group_by:
        show_bars(value_bars(df.head(50), colour, measure, title, y_title, colours, unpriced))
    unpriced_note(data.breakdown_unpriced_requests(ctx.data_dir, ctx.filters, group_by, measure, grain), unpriced)


def slicer() -> None:
    left, middle, right = st.columns([2, 1, 1])
    group_by = left.multiselect("Group by", list(DIMENSIONS), default=["model"], key="ex_group", format_func=words)
    measure = middle.selectbox("Measure", list(MEASURES), key="ex_measure", format_func=words)
    grain_choice = right.selectbox("Grain", ["none", *GRAINS], index=2, key="ex_grain")
    grain = None if grain_choice == "none" else grain_choice
    df = data.breakdown(ctx.data_dir, ctx.filters, group_by=group_by, measure=measure, grain=grain)
    if df.empty:
        empty_state()
        return
    chart(df, group_by, measure, grain)
    unit = f" ({ctx.currency})" if measure == "spend" else ""
    bucket = st.column_config.DatetimeColumn(f"{grain} from ({ctx.filters.timezone})", format="YYYY-MM-DD HH:mm")
    column_config = {
        "bucket": bucket,
        **{g: st.column_config.TextColumn(words(g)) for g in group_by},
        measure: st.column_config.NumberColumn(words(measure) + unit, format=FORMATS.get(measure, "localized")),
    }
    if len(df) > TABLE_ROWS:
        st.caption(f"The table shows the first {TABLE_ROWS:,} of {len(df):,} rows; the downloads have them all.")
    table = data.breakdown_table(ctx.data_dir, ctx.filters, group_by, measure, grain, TABLE_ROWS)
    if measure == "spend":
        column_config["price"] = st.column_config.TextColumn("Price", help="unpriced: no price for the date, not 0")
        column_config["unpriced_requests"] = st.column_config.NumberColumn("Unpriced requests (not in spend)")
    unknown = UNPRICED if measure == "spend" else "n/a"  # a missing spend has no price; another, no data
    st.dataframe(table, hide_index=True, width="stretch", column_config=column_config, placeholder=unknown)
    downloads(df, "explore")


def sql_box() -> None:
    """Admins only: the check is here, where the query runs, not just in what is drawn."""
    if not may("admin"):
        return
    st.subheader("SQL (read-only)")
    st.caption(
        "One SELECT over `ledger`: the rows in the sidebar's date range and filters, columns as in "
        "ledger/storage/schema.py. Other statements, file access and settings are refused; at most 10 s, "
        f"{SQL_MAX_BYTES // 2**20} MB of result and {SQL_MEMORY_MB:,} MB of memory."
    )
    sql = st.text_area("Query", SQL_EXAMPLE, height=140, key="ex_sql")
    limit = st.number_input("Row limit", 1, MAX_ROWS, 1_000, step=1_000, key="ex_limit")
    if not st.button("Run query", type="primary", key="ex_run") or not audited(ctx.data_dir, "sql", sql):
        return
    try:
        df = data.run_sql(ctx.data_dir, ctx.filters, sql, row_limit=int(limit))
    except SqlRefused as exc:
        st.error(md(exc, 500), icon=":material/block:")
        return
    cap = f" (cut at {SQL_MAX_BYTES // 2**20} MB: select fewer or smaller columns)"
    cut = {"rows": " (row limit reached)", "bytes": cap}
    st.caption(f"{len(df):,} rows" + cut.get(df.attrs.get("truncated", ""), ""))
    st.dataframe(df, hide_index=True, width="stretch", placeholder="NULL")
    downloads(df, "query")


slicer()
sql_box()
