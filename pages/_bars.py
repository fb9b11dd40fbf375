"""Stacked bars a filter change redraws in place, as Vega-Lite: spend or tokens per bucket, by model, project,
API key or endpoint (the Overview's and Spend's).

Why not plotly, as the other charts: Streamlit gives a plotly chart an id hashed from its figure, so the
browser mounts it afresh whenever a filter changes its bars, and draws it with plotly.js: 0.1 s of a filter change
(bench/bench_browser.py). A Vega-Lite chart without selections has no such id, and Vega draws these bars in a
fraction of that. Its `spec` holds the titles and the grain; the rows are data, the legend's names and colours
included (see `_legend`).

Names are data: a label is `short(name)` and nothing more, because Vega draws text as text (SVG `<text>`, and
a tooltip that escapes HTML); tests/dashboard/test_browser.py hovers hostile names to check it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from ledger import queries

from ._text import short
from ._ui import series_colours, words

_STEP = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7)}
_WHEN = {"hour": "%a %d %b %Y %H:%M", "day": "%a %d %b %Y", "week": "week of %a %d %b %Y", "month": "%B %Y"}
"""How a tooltip names a bucket, in the view's time zone."""
LABEL_PIXELS = 400
"""The legend's widest label: a name `short` keeps whole (48 characters) fits, where Vega's 160 px cut it, and a
cut name's hash with it."""
_WIDTH = 0.85
"""A bar's share of its bucket (the rest is the gap to the next)."""


@dataclass(frozen=True)
class Bars:
    """One row per bar segment (`data`) and the Vega-Lite `spec` drawing them (st.vega_lite_chart)."""

    data: pd.DataFrame
    """`start`, `end`: the segment's span (the bucket's wall-clock time in the view's zone, naive: drawn as UTC so
    it reads as the zone's); `label`, `colour`, `value`; `low`, `high`: where it sits in its bucket's stack;
    `when`: the bucket in words."""
    spec: dict[str, object]


def live_bars(
    df: pd.DataFrame, y: str, color: str, title: str, y_title: str, colour_map: dict[str, str] | None, grain: str
) -> Bars:
    """`df`'s `y` per `bucket`, stacked by `color` in order of first appearance ("(other)" last, grey), each
    name in its colour (`series_colours`). Not cached: built from a few hundred rows
    in less time than hashing them for a cache would take."""
    other = str(queries.OTHER)
    name = df[color].astype(str).to_numpy()
    names = sorted(pd.unique(name), key=lambda n: n == other)
    colours = series_colours(names, colour_map)
    labels = [short(n) for n in names]
    rank = pd.Categorical(name, categories=names).codes
    local = df["bucket"].dt.tz_localize(None) if df["bucket"].dt.tz is not None else df["bucket"]
    order = np.lexsort((local.to_numpy(), rank))  # by rank, then time: a bucket's stack grows in rank order
    rank, start = rank[order], pd.DatetimeIndex(local.to_numpy()[order])
    buckets, which = np.unique(start, return_inverse=True)
    bucket_starts = pd.DatetimeIndex(buckets)
    ends = (bucket_starts.to_period("M") + 1).to_timestamp() if grain == "month" else bucket_starts + _STEP[grain]
    value = df[y].astype("float64").fillna(0.0).to_numpy()[order]
    high = pd.Series(value).groupby(which).cumsum().to_numpy()
    data = pd.DataFrame(
        {
            "start": start,
            "end": (bucket_starts + (ends - bucket_starts) * _WIDTH)[which],
            "label": np.array(labels, dtype=object)[rank],
            "colour": np.array([colours[n] for n in names], dtype=object)[rank],
            "value": value,
            "low": high - value,
            "high": high,
            "when": np.array(bucket_starts.strftime(_WHEN[grain]), dtype=object)[which],
        }
    )
    number = ",.2f" if y == "spend" else ",.0f"
    axis = {} if y == "spend" else {"axis": {"format": "~s"}}  # 30M tokens, not 30,000,000
    spec: dict[str, object] = {
        "title": {"text": title, "anchor": "start"},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "start", "type": "temporal", "scale": {"type": "utc"}, "title": None},
            "x2": {"field": "end"},
            "y": {"field": "low", "type": "quantitative", "title": y_title, **axis},
            "y2": {"field": "high"},
            "color": {
                "field": "label",
                "type": "nominal",
                "title": None,
                "scale": _legend(labels, colours),
                "legend": {"labelLimit": LABEL_PIXELS},
            },
            "tooltip": [
                {"field": "when", "type": "nominal", "title": "When"},
                {"field": "label", "type": "nominal", "title": words(color)},
                {"field": "value", "type": "quantitative", "format": number, "title": y_title},
            ],
        },
    }
    return Bars(data=data, spec=spec)


def _legend(labels: list[str], colours: dict[str, str]) -> dict[str, object]:
    """The colour scale. While each name has its own label and colour, the rows carry the pairs: Vega-Lite
    takes the range from the `colour` field, sorted by label as the legend is, so the spec stays the same when a
    filter changes the names, and the browser updates the chart it drew instead of drawing a new one (0.05 s of
    a filter change). Else (more names than PALETTE, or two names cut to one label) the pairs are in the spec."""
    if len(set(labels)) == len(set(colours.values())) == len(labels):
        return {"range": {"field": "colour"}}
    return {"domain": labels, "range": list(colours.values())}


def show_bars(bars: Bars) -> None:
    st.vega_lite_chart(bars.data, bars.spec, width="stretch")
