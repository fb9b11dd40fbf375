"""Reliability: errors and 429s over time, spend cap vs throttling, retries, latency, headroom."""

from __future__ import annotations

import streamlit as st

from foundation.money import COLUMN_FORMAT
from pages import _data as data
from pages._bars import WHOLE_PERCENT, grouped_bars, live_bars, live_lines, show_bars
from pages._frame import context
from pages._keys import with_key_labels
from pages._text import md, short
from pages._ui import TOP_N, empty_state, millis, percent

ctx = context()
st.title("Reliability")
st.caption("Per-request traffic only: aggregated usage-API rows carry no status or latency.")


def headline(grain: str) -> None:
    s = data.spend_summary(ctx.data_dir, ctx.filters)
    rate, r429, capped, retries = st.columns(4)
    rate.metric("Error rate", percent(s.error_rate), help=f"{s.errors:,} of {s.measured_requests:,} requests")
    r429.metric("429 rate", percent(s.rate_429), help=f"{s.rate_limited:,} requests got HTTP 429")
    capped.metric(
        "429s from the spend cap",
        f"{s.spend_cap:,} of {s.rate_limited:,}",
        help="Monthly spend limit reached (raise the limit) vs throttling (slow down or raise rate limits)",
    )
    retries.metric("Retries", f"{s.retries:,}", help=f"attempt > 1: {percent(s.retry_rate)} of the traffic")


def rates_over_time(grain: str) -> None:
    df = data.reliability_over_time(ctx.data_dir, ctx.filters, grain=grain)
    long = df.melt(id_vars="bucket", value_vars=["error_rate", "rate_429"], var_name="rate", value_name="share")
    long["rate"] = long["rate"].map({"error_rate": "All errors (status >= 400)", "rate_429": "HTTP 429"})
    title = f"Error and 429 rate per {grain}"
    show_bars(live_lines(long, "share", "rate", title, "Share of requests", grain))
    split = data.limit_causes_over_time(ctx.data_dir, ctx.filters, grain=grain)
    title = f"429s per {grain}: throttling vs spend cap"
    show_bars(live_bars(split, "count", "cause", title, "Requests with HTTP 429", None, grain))


def errors_by(grain: str, by: str) -> None:
    df = data.reliability_over_time(ctx.data_dir, ctx.filters, grain=grain, by=by, top=TOP_N)
    label = "status class" if by == "status_class" else "error type"
    show_bars(live_bars(df, "count", by, f"Failed requests per {grain} by {label}", "Failed requests", None, grain))


def retries_and_errors() -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Retries")
        df = data.retry_impact(ctx.data_dir, ctx.filters)
        st.dataframe(
            df,
            hide_index=True,
            width="stretch",
            column_config={
                "attempt": "Attempt",
                "requests": st.column_config.NumberColumn("Requests", format="localized"),
                "tokens": st.column_config.NumberColumn("Tokens", format="compact"),
                "spend": st.column_config.NumberColumn(f"Spend ({ctx.currency})", format=COLUMN_FORMAT),
                "share": st.column_config.NumberColumn("Share of traffic", format="percent"),
            },
        )
    with right:
        st.subheader("Top error types")
        df = data.top_errors(ctx.data_dir, ctx.filters, n=10)
        shown = df.assign(error_type=df["error_type"].map(short))
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "status_code": st.column_config.NumberColumn("Status", format="%d"),
                "error_type": "Error type",
                "count": st.column_config.NumberColumn("Requests", format="localized"),
                "share": st.column_config.NumberColumn("Share of errors", format="percent"),
            },
        )


def latency() -> None:
    df = data.latency_percentiles(ctx.data_dir, ctx.filters, dim="model", top=TOP_N)
    ys = {"p50_ms": "p50", "p95_ms": "p95", "p99_ms": "p99"}
    show_bars(grouped_bars(df, "model", ys, "Latency percentiles by model", "Latency (ms)", "Percentile"))
    worst = data.slowest_p95(ctx.data_dir, ctx.filters, dim="model", top=TOP_N)
    if worst is not None:
        st.caption(f"Slowest p95: {md(worst.value)} at {millis(worst.p95_ms)} over {worst.requests:,} requests.")


def headroom(grain: str) -> None:
    df = with_key_labels(data.ratelimit_headroom(ctx.data_dir, ctx.filters, grain=grain), ctx.data_dir)
    st.subheader("Rate-limit headroom")
    if df.empty:
        st.caption("No x-ratelimit-* headers recorded in this range (the recording gateway captures them).")
        return
    title = f"Lowest remaining share of the tokens-per-minute limit, per {grain} and key"
    show_bars(live_lines(df, "min_tokens_headroom", "api_key", title, "Remaining", grain, y_axis=WHOLE_PERCENT))


summary = data.spend_summary(ctx.data_dir, ctx.filters)
if summary.measured_requests == 0:
    empty_state()
else:
    left, right = st.columns(2)
    grains = ["hour", "day", "week"]
    grain = left.radio(
        "Grain",
        grains,
        index=grains.index(ctx.filters.default_grain),
        horizontal=True,
        key="rel_grain",
        format_func=str.capitalize,
    )
    by = right.radio(
        "Split errors by",
        ["status_class", "error_type"],
        horizontal=True,
        key="rel_by",
        format_func=lambda v: v.replace("_", " ").capitalize(),
    )
    headline(grain)
    rates_over_time(grain)
    errors_by(grain, by)
    retries_and_errors()
    latency()
    headroom(grain)
