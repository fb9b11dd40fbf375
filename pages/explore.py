"""Explore: slice the ledger ad hoc (group-by, measure, grain), or ask it in read-only SQL."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from ledger.queries import (
    DIMENSIONS,
    GRAINS,
    MEASURES,
    SQL_MAX_BYTES,
    SQL_MEMORY_MB,
    SqlRefused,
    csv_bytes,
    parquet_bytes,
    run_sql,
)
from pages import _data as data
from pages._auth import audited, export_button, may
from pages._frame import context
from pages._text import md
from pages._ui import TOP_N, empty_state, label_colours, labelled, show, style

ctx = context()
st.title("Explore")
SQL_EXAMPLE = "SELECT model, count(*) AS requests, sum(cost) AS spend\nFROM ledger\nGROUP BY model\nORDER BY spend DESC"
MAX_ROWS = 100_000
TABLE_ROWS = 100_000
"""Rows the table shows; the downloads hold every row."""


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


def largest(df: pd.DataFrame, colour: str | None, measure: str) -> pd.DataFrame:
    """The rows of the TOP_N `colour` values with the largest total `measure` (a chart of 100,000 lines is none)."""
    if colour is None or df[colour].nunique() <= TOP_N:
        return df
    keep = df.groupby(colour)[measure].sum().nlargest(TOP_N).index
    st.caption(f"The chart shows the {TOP_N} largest of {df[colour].nunique():,} values; the table has them all.")
    return df[df[colour].isin(keep)]


def chart(df: pd.DataFrame, group_by: list[str], measure: str, grain: str | None) -> None:
    unit = f" ({ctx.currency})" if measure == "spend" else ""
    colour = group_by[0] if group_by else None
    title = f"{measure.replace('_', ' ').capitalize()}{unit}" + (f" by {', '.join(group_by)}" if group_by else "")
    if grain:
        drawn = largest(df, colour, measure)
        colour_map = label_colours(ctx.colours, drawn[colour]) if colour == "model" else {}
        fig = px.line(
            labelled(drawn, colour), x="bucket", y=measure, color=colour, color_discrete_map=colour_map, markers=True
        )
        show(style(fig, f"{title} per {grain}", measure.replace("_", " ") + unit))
    elif group_by:
        drawn = df.head(50)
        colour_map = label_colours(ctx.colours, drawn[colour]) if colour == "model" else {}
        fig = px.bar(
            labelled(drawn, *group_by[:1]), x=group_by[0], y=measure, color=colour, color_discrete_map=colour_map
        )
        show(style(fig, title, measure.replace("_", " ") + unit, group_by[0]))


def slicer() -> None:
    left, middle, right = st.columns([2, 1, 1])
    group_by = left.multiselect("Group by", list(DIMENSIONS), default=["model"], key="ex_group")
    measure = middle.selectbox("Measure", list(MEASURES), key="ex_measure")
    grain_choice = right.selectbox("Grain", ["none", *GRAINS], index=2, key="ex_grain")
    grain = None if grain_choice == "none" else grain_choice
    df = data.breakdown(ctx.data_dir, ctx.filters, group_by=group_by, measure=measure, grain=grain)
    if df.empty:
        empty_state()
        return
    chart(df, group_by, measure, grain)
    unit = f" ({ctx.currency})" if measure == "spend" else ""
    bucket = st.column_config.DatetimeColumn(f"{grain} from ({ctx.filters.timezone})", format="YYYY-MM-DD HH:mm")
    label = measure.replace("_", " ").capitalize() + unit
    column_config = {"bucket": bucket, measure: st.column_config.NumberColumn(label)}
    if len(df) > TABLE_ROWS:
        st.caption(f"The table shows the first {TABLE_ROWS:,} of {len(df):,} rows; the downloads have them all.")
    st.dataframe(df.head(TABLE_ROWS), hide_index=True, width="stretch", column_config=column_config)
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
        df = run_sql(ctx.data_dir, ctx.filters, sql, row_limit=int(limit))
    except SqlRefused as exc:
        st.error(md(exc, 500), icon=":material/block:")
        return
    cap = f" (cut at {SQL_MAX_BYTES // 2**20} MB: select fewer or smaller columns)"
    cut = {"rows": " (row limit reached)", "bytes": cap}
    st.caption(f"{len(df):,} rows" + cut.get(df.attrs.get("truncated", ""), ""))
    st.dataframe(df, hide_index=True, width="stretch")
    downloads(df, "query")


slicer()
sql_box()
