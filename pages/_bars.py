"""Stacked bars a filter change redraws in place: the Overview's spend per bucket and model, as Vega-Lite.

Why not plotly, as the other charts: Streamlit gives a plotly chart an id hashed from its figure, so the
browser mounts it afresh whenever a filter changes its bars, and draws it with plotly.js: 0.1 s of a filter change
(bench/bench_browser.py). A Vega-Lite chart without selections has no such id, and Vega draws these bars in a
fraction of that. Its `spec` holds the titles, the grain and the legend (names and colours); the rows are data.

Names are data: a label is `short(name)` and nothing more, because Vega draws text as text (SVG `<text>`, and
a tooltip that escapes HTML); tests/dashboard/test_browser.py hovers hostile names to check it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ledger import queries

from ._text import short
from ._ui import FIGURES, OTHER_COLOUR, PALETTE, words

_STEP = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7)}
_WHEN = {"hour": "%a %d %b %Y %H:%M", "day": "%a %d %b %Y", "week": "week of %a %d %b %Y", "month": "%B %Y"}
"""How a tooltip names a bucket, in the view's time zone."""
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
    df: pd.DataFrame, y: str, color: str, title: str, y_title: str, colour_map: dict[str, str], grain: str
) -> Bars:
    """`df`'s `y` per `bucket`, stacked by `color` in order of first appearance ("(other)" last, grey), each
    model in its colour from `colour_map` (others take PALETTE in turn). Built once per distinct input."""
    return _live_bars(df, y, color, title, y_title, colour_map, grain)


@st.cache_resource(show_spinner=False, max_entries=FIGURES)
def _live_bars(
    df: pd.DataFrame, y: str, color: str, title: str, y_title: str, colour_map: dict[str, str], grain: str
) -> Bars:
    other = str(queries.OTHER)
    names = sorted(dict.fromkeys(df[color].astype(str)), key=lambda name: name == other)
    spare = itertools.cycle(PALETTE)
    colours: dict[str, str] = {}
    for name in names:  # one colour per name, so the legend tells every two apart
        wanted = OTHER_COLOUR if name == other else colour_map.get(name)
        while wanted is None or wanted in colours.values():
            wanted = next(spare)
        colours[name] = wanted
    rank = {name: i for i, name in enumerate(names)}
    rows = df.assign(name=df[color].astype(str))
    rows = rows.assign(rank=rows["name"].map(rank)).sort_values(["rank", "bucket"], kind="stable")
    start = rows["bucket"].dt.tz_localize(None) if rows["bucket"].dt.tz is not None else rows["bucket"]
    end = (start.dt.to_period("M") + 1).dt.to_timestamp() if grain == "month" else start + _STEP[grain]
    value = rows[y].astype("float64").fillna(0.0)
    high = value.groupby(start.to_numpy()).cumsum()  # in rank order within each bucket
    data = pd.DataFrame(
        {
            "start": start,
            "end": start + (end - start) * _WIDTH,
            "label": rows["name"].map(short),
            "colour": rows["name"].map(colours),
            "value": value,
            "low": high - value,
            "high": high,
            "when": start.dt.strftime(_WHEN[grain]),
        }
    ).reset_index(drop=True)
    number = ",.2f" if y == "spend" else ",.0f"
    spec: dict[str, object] = {
        "title": {"text": title, "anchor": "start"},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "start", "type": "temporal", "scale": {"type": "utc"}, "title": None},
            "x2": {"field": "end"},
            "y": {"field": "low", "type": "quantitative", "title": y_title},
            "y2": {"field": "high"},
            "color": {
                "field": "label",
                "type": "nominal",
                "title": None,
                "scale": {"domain": [short(n) for n in names], "range": list(colours.values())},
            },
            "tooltip": [
                {"field": "when", "type": "nominal", "title": "When"},
                {"field": "label", "type": "nominal", "title": words(color)},
                {"field": "value", "type": "quantitative", "format": number, "title": y_title},
            ],
        },
    }
    return Bars(data=data, spec=spec)


def show_bars(bars: Bars) -> None:
    st.vega_lite_chart(bars.data, bars.spec, width="stretch")
