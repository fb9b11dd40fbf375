"""pages/_tiles.py: a tile row as one HTML element reads as st.metric draws it, and a name in it stays text."""

from __future__ import annotations

import html

from pages._tiles import BAD, GOOD, Tile, tiles_html
from tests.support.dashboard import read_tiles


def test_a_rise_is_green_unless_a_rise_is_worse():
    markup = tiles_html(
        [
            Tile("Spend (USD)", "$1.00", "+2.1%"),
            Tile("Requests", "12", "-3.0%"),
            Tile("Error rate", "1.00%", "+0.50 pp", inverse=True),
            Tile("p95 latency", "900 ms", "-1.0%", inverse=True),
        ]
    )
    shown = read_tiles(markup)
    assert [t.colour for t in shown] == [GOOD, BAD, BAD, GOOD]
    assert [t.delta for t in shown] == ["▲ +2.1%", "▼ -3.0%", "▲ +0.50 pp", "▼ -1.0%"]


def test_a_hostile_label_value_and_tooltip_stay_text():
    hostile = '<img src=x onerror=alert(1)>"&'
    markup = tiles_html([Tile(hostile, hostile, None, help=hostile)], note=hostile)
    assert "<img" not in markup and html.escape(hostile) in markup
    (tile,) = read_tiles(markup)
    assert (tile.label, tile.value, tile.delta, tile.help) == (hostile, hostile, "", hostile)


def test_the_note_takes_the_rest_of_its_row():
    assert 'style="grid-column:span 1"' in tiles_html([Tile("a", "1"), Tile("b", "2")], widths=(1, 1, 2), note="n")
    assert 'style="grid-column:span 3"' in tiles_html([Tile("a", "1")] * 3, note="n")
    assert "grid-template-columns:1fr 1fr 2fr" in tiles_html([], widths=(1, 1, 2))
