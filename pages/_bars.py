"""Charts a filter change redraws in place, as Vega-Lite: stacked bars per bucket (spend, tokens or requests by
model, project, API key, endpoint, token kind, status or cause: the Overview's, Spend's and Reliability's), lines
(Reliability's rates and headroom, Explore's measures), grouped bars (Reliability's latency percentiles by model)
and bars per name (Explore without a grain).

Why not plotly, as Reconciliation's charts: Streamlit gives a plotly chart an id hashed from its figure, so the
browser mounts it afresh whenever a filter changes its bars, and draws it with plotly.js: 0.1 s of a filter change
(bench/bench_browser.py). A Vega-Lite chart without selections has no such id, and Vega draws these bars in a
fraction of that. Its `spec` holds the titles and the grain; the rows are data, the legend's names and colours
included (see `_legend`).

Names are data: a label is `short(name)` and nothing more, because Vega draws text as text (SVG `<text>`, and
a tooltip that escapes HTML); tests/dashboard/test_browser.py hovers hostile names to check it.
"""

from __future__ import annotations

from collections.abc import Collection
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
_SHARES = {"share", "min_tokens_headroom", "min_requests_headroom", "error_rate", "rate_429"}
"""The measures that are shares of 1: drawn and written in percent."""
_PERCENT: dict[str, object] = {"axis": {"format": ".1%"}}
WHOLE_PERCENT: dict[str, object] = {"axis": {"format": ".0%"}, "scale": {"domain": [0, 1]}}
"""A share's y axis from 0 to 100% (`live_lines`' `y_axis`)."""
_COUNTS: dict[str, object] = {"axis": {"format": "~s", "tickMinStep": 1}}
"""A count's y axis: compact units (30M tokens, not 30,000,000) and whole ticks (no "500m" requests)."""
_NAMES_AXIS = {"labelLimit": 160, "labelAngle": -40}
"""Names along x: slanted, cut at 160 px (a tooltip has them whole)."""


@dataclass(frozen=True)
class Bars:
    """One row per mark (`data`: a bar segment, a line's point, a grouped bar) and the Vega-Lite `spec` drawing
    them (st.vega_lite_chart)."""

    data: pd.DataFrame
    """Each row's series: `label` (as drawn), `colour`; its `value`. Over time, `start` (the bucket's wall-clock
    time in the view's zone, naive: drawn as UTC so it reads as the zone's) and `when` (the bucket in words); a
    stacked segment's `end` and `low`, `high` (where it sits in its bucket's stack). Grouped: `x`."""
    spec: dict[str, object]


@dataclass(frozen=True)
class _Series:
    """The series of a chart, one per name of its `color` column: in order of first appearance, "(other)" last."""

    names: list[str]
    labels: list[str]
    """`short(name)`, as drawn; then " (unpriced)" for a name with no price (the mark is never cut off)."""
    colours: dict[str, str]
    rank: np.ndarray
    """Each row's series, as its index in `names`."""

    @classmethod
    def of(cls, column: pd.Series, colour_map: dict[str, str] | None, unpriced: Collection[str] = ()) -> _Series:
        other = str(queries.OTHER)
        name = column.astype(str).to_numpy()
        names = sorted(pd.unique(name), key=lambda n: n == other)
        rank = pd.Categorical(name, categories=names).codes
        labels = [f"{short(n)} ({queries.UNPRICED})" if n in unpriced else short(n) for n in names]
        return cls(names, labels, series_colours(names, colour_map), rank)

    def label(self, rank: np.ndarray) -> np.ndarray:
        labels: np.ndarray = np.array(self.labels, dtype=object)[rank]
        return labels

    def colour(self, rank: np.ndarray) -> np.ndarray:
        colours: np.ndarray = np.array([self.colours[n] for n in self.names], dtype=object)[rank]
        return colours

    def encoding(self) -> dict[str, object]:
        return {
            "field": "label",
            "type": "nominal",
            "title": None,
            "scale": _legend(self.labels, self.colours),
            "legend": {"labelLimit": LABEL_PIXELS},
        }


def _local(bucket: pd.Series) -> pd.Series:
    """The buckets' wall-clock times in the view's zone, naive (drawn as UTC, they read as the zone's)."""
    return bucket.dt.tz_localize(None) if bucket.dt.tz is not None else bucket


def _number(y: str) -> str:
    """How a tooltip writes a `y` value: money with cents, a share in percent, else a whole number."""
    return ",.2f" if y == "spend" else ".2%" if y in _SHARES else ",.0f"


def _axis(y: str) -> dict[str, object]:
    """How the y axis writes a `y` value: a share in percent from 0, money and milliseconds as Vega writes numbers,
    a count compact (`_COUNTS`)."""
    if y in _SHARES:
        return _PERCENT
    return {} if y == "spend" or y.endswith("_ms") else _COUNTS


def live_bars(
    df: pd.DataFrame, y: str, color: str, title: str, y_title: str, colour_map: dict[str, str] | None, grain: str
) -> Bars:
    """`df`'s `y` per `bucket`, stacked by `color` in order of first appearance ("(other)" last, grey), each
    name in its colour (`series_colours`). Not cached: built from a few hundred rows
    in less time than hashing them for a cache would take."""
    series = _Series.of(df[color], colour_map)
    rank, local = series.rank, _local(df["bucket"])
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
            "label": series.label(rank),
            "colour": series.colour(rank),
            "value": value,
            "low": high - value,
            "high": high,
            "when": np.array(bucket_starts.strftime(_WHEN[grain]), dtype=object)[which],
        }
    )
    axis = _axis(y)
    spec: dict[str, object] = {
        "title": {"text": title, "anchor": "start"},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "start", "type": "temporal", "scale": {"type": "utc"}, "title": None},
            "x2": {"field": "end"},
            "y": {"field": "low", "type": "quantitative", "title": y_title, **axis},
            "y2": {"field": "high"},
            "color": series.encoding(),
            "tooltip": _tooltip(color, y, y_title),
        },
    }
    return Bars(data=data, spec=spec)


def live_lines(
    df: pd.DataFrame,
    y: str,
    color: str,
    title: str,
    y_title: str,
    grain: str,
    colour_map: dict[str, str] | None = None,
    y_axis: dict[str, object] | None = None,
    detail: str | None = None,
    unpriced: Collection[str] = (),
) -> Bars:
    """`df`'s `y` per `bucket`, a line for each name of `color` (named and coloured as `live_bars`' series),
    with points; a missing value is no point (never 0). `y_axis`: the y encoding's axis and scale, when not
    `y`'s own (`_axis`: WHOLE_PERCENT, say); `detail`: a column whose values split a name's line further (each
    its own line, in the name's colour, named in the tooltip); `unpriced`: the names marked so (their missing
    values: no point)."""
    series = _Series.of(df[color], colour_map, unpriced)
    local = _local(df["bucket"])
    data = pd.DataFrame(
        {
            "start": local.to_numpy(),
            "label": series.label(series.rank),
            "colour": series.colour(series.rank),
            "value": df[y].astype("float64").to_numpy(),
            "when": np.array(local.dt.strftime(_WHEN[grain]), dtype=object),
        }
    )
    tooltip = _tooltip(color, y, y_title)
    encoding: dict[str, object] = {
        "x": {"field": "start", "type": "temporal", "scale": {"type": "utc"}, "title": None},
        "y": {"field": "value", "type": "quantitative", "title": y_title, **(_axis(y) if y_axis is None else y_axis)},
        "color": series.encoding(),
        "tooltip": tooltip,
    }
    if detail:
        data["detail"] = df[detail].map(short).to_numpy(dtype=object)
        encoding["detail"] = {"field": "detail", "type": "nominal"}
        tooltip.insert(2, {"field": "detail", "type": "nominal", "title": "Split by"})
    spec: dict[str, object] = {
        "title": {"text": title, "anchor": "start"},
        "mark": {"type": "line", "point": {"size": 12}},
        "encoding": encoding,
    }
    return Bars(data=data, spec=spec)


def value_bars(
    df: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    y_title: str,
    colour_map: dict[str, str] | None = None,
    unpriced: Collection[str] = (),
) -> Bars:
    """A bar per row of `df` (in its order) at its `x` name, coloured by it; rows of one name stack. `unpriced`:
    the names marked so, with the word written up the slot of a missing value (no bar: never drawn as 0)."""
    series = _Series.of(df[x], colour_map, unpriced)
    data = pd.DataFrame(
        {
            "x": series.label(series.rank),
            "label": series.label(series.rank),
            "colour": series.colour(series.rank),
            "value": df[y].astype("float64").to_numpy(),
        }
    )
    bars: dict[str, object] = {
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "x", "type": "nominal", "title": words(x), "sort": None, "axis": _NAMES_AXIS},
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": series.encoding(),
            "tooltip": [
                {"field": "label", "type": "nominal", "title": words(x)},
                {"field": "value", "type": "quantitative", "format": _number(y), "title": y_title},
            ],
        },
    }
    layers = [bars]
    if unpriced:
        layers.append(
            {
                "transform": [{"filter": "!isValid(datum.value)"}],
                "mark": {"type": "text", "angle": 270, "align": "left", "dx": 4},
                "encoding": {
                    "x": {"field": "x", "type": "nominal", "sort": None},
                    "y": {"datum": 0},
                    "text": {"value": queries.UNPRICED},
                },
            }
        )
    return Bars(data=data, spec={"title": {"text": title, "anchor": "start"}, "layer": layers})


def grouped_bars(df: pd.DataFrame, x: str, ys: dict[str, str], title: str, y_title: str, ys_title: str) -> Bars:
    """For each `x` value (in `df`'s order), a bar per column of `ys` (column: its name in the legend, which
    `ys_title` heads in the tooltip), side by side, each column in its colour."""
    labels = [short(v) for v in df[x].astype(str)]
    names = list(ys.values())
    colours = series_colours(names, None)
    data = pd.DataFrame(
        {
            "x": np.repeat(np.array(labels, dtype=object), len(ys)),
            "label": np.tile(np.array(names, dtype=object), len(df)),
            "colour": np.tile(np.array([colours[n] for n in names], dtype=object), len(df)),
            "value": df[list(ys)].astype("float64").to_numpy().ravel(),
        }
    )
    spec: dict[str, object] = {
        "title": {"text": title, "anchor": "start"},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {
                "field": "x",
                "type": "nominal",
                "title": words(x),
                "sort": None,
                "axis": _NAMES_AXIS,
            },
            "xOffset": {"field": "label", "sort": names},
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": {
                "field": "label",
                "type": "nominal",
                "title": None,
                "scale": {"domain": names, "range": [colours[n] for n in names]},
            },
            "tooltip": [
                {"field": "x", "type": "nominal", "title": words(x)},
                {"field": "label", "type": "nominal", "title": ys_title},
                {"field": "value", "type": "quantitative", "format": ",.0f", "title": y_title},
            ],
        },
    }
    return Bars(data=data, spec=spec)


def _tooltip(color: str, y: str, y_title: str) -> list[dict[str, object]]:
    return [
        {"field": "when", "type": "nominal", "title": "When"},
        {"field": "label", "type": "nominal", "title": words(color)},
        {"field": "value", "type": "quantitative", "format": _number(y), "title": y_title},
    ]


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
