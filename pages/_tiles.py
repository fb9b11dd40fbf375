"""A row of metric tiles drawn as one HTML element: the Overview's, which a filter change redraws.

Why not `st.metric`, as the other pages: the browser renders each Streamlit element of a rerun on its own (React,
styled components, a tooltip per help icon), and the Overview's eight metrics and their column blocks were
~0.06 s of a 0.39 s filter change at 10M records (bench/bench_browser.py); one element draws them in a fraction
of that. A tile reads as `st.metric` draws it: its label, its value whole (no tile is narrower than the widest
value, tests/dashboard/test_browser.py), its change with an arrow in green or red, and its exact figure as
its tooltip.

Names are data: every text is HTML-escaped here, and Streamlit sanitizes the element (DOMPurify) besides.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

GOOD, BAD = "#09ab3b", "#ff2b2b"
"""A change's colour, as st.metric's: green for better, red for worse."""
_STYLE = """<style>
.mm-tiles{display:grid;gap:1rem;margin:0}
.mm-tile{border:1px solid rgba(128,128,128,.3);border-radius:.5rem;padding:calc(1rem - 1px);min-width:0}
.mm-label{font-size:.875rem;line-height:1.6}
.mm-value{font-size:2.25rem;line-height:1.25;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.mm-value[title]{cursor:help}
.mm-delta{font-size:.875rem;line-height:1.6;white-space:nowrap}
.mm-note{font-size:.875rem;line-height:1.5;opacity:.6}
@media (max-width:640px){.mm-tiles{grid-template-columns:1fr !important}}
</style>"""
"""Class names under `mm-` (the page's CSS is global: a Streamlit class is never restyled)."""


@dataclass(frozen=True)
class Tile:
    """One tile: what st.metric(label, value, delta, delta_color, help=...) shows."""

    label: str
    value: str
    delta: str | None = None
    """The change, signed (`+2.1%`, `-0.01 pp`): a leading `-` is a fall."""
    inverse: bool = False
    """A rise is worse (errors, latency): red, where a rise of spend is green as st.metric's default."""
    help: str | None = None
    """The exact figure, shown on hovering the value."""


def tiles_html(tiles: Sequence[Tile], widths: Sequence[int] = (1, 1, 1), note: str | None = None) -> str:
    """The tiles on a grid of `widths` (fractions of the row; more tiles wrap to the next row), then `note`
    (plain text, a caption) in the next cell, spanning the rest of its row."""
    grid = " ".join(f"{w}fr" for w in widths)
    cells = [_tile(t) for t in tiles]
    if note is not None:
        span = len(widths) - len(tiles) % len(widths)
        cells.append(f'<p class="mm-note" style="grid-column:span {span}">{html.escape(note)}</p>')
    return f'{_STYLE}<div class="mm-tiles" style="grid-template-columns:{grid}">{"".join(cells)}</div>'


def tile_row(tiles: Sequence[Tile], widths: Sequence[int] = (1, 1, 1), note: str | None = None) -> None:
    st.html(tiles_html(tiles, widths, note))


def _tile(tile: Tile) -> str:
    label = html.escape(tile.label)
    tip = f' title="{html.escape(tile.help)}"' if tile.help else ""
    delta = ""
    if tile.delta:
        fall = tile.delta.lstrip().startswith("-")
        colour = GOOD if fall == tile.inverse else BAD
        arrow = "▼" if fall else "▲"
        delta = f'<div class="mm-delta" style="color:{colour}">{arrow} {html.escape(tile.delta)}</div>'
    return (
        f'<div class="mm-tile" role="group" aria-label="{label}"><div class="mm-label">{label}</div>'
        f'<div class="mm-value"{tip}>{html.escape(tile.value)}</div>{delta}</div>'
    )
