"""The numpy JSON row builder against orjson, and the cursor codec."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from simulator import CursorError, Position, decode, encode
from simulator._rows import Rows


def test_rows_render_like_orjson() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([[0, 9, 10, 99, 100, 10**12], rng.integers(0, 10**7, 500)])
    flags = rng.random(len(values)) < 0.5
    names = [b'"alpha"', b"null", b'"be-ta/2"']
    pick = rng.integers(0, 3, len(values))
    rows = Rows(len(values))
    rows.text(b'{"v":')
    rows.number(values)
    rows.text(b',"opt":', flags)
    rows.number(values % 7, flags)
    rows.text(b',"name":')
    rows.table(names, pick)
    rows.text(b"},")
    blob, starts = rows.build()
    expected = [
        {"v": int(v)} | ({"opt": int(v) % 7} if f else {}) | {"name": orjson.loads(names[p])}
        for v, f, p in zip(values, flags, pick, strict=True)
    ]
    assert orjson.loads(b"[" + blob[:-1] + b"]") == expected
    assert [orjson.loads(blob[a : b - 1]) for a, b in zip(starts[:-1], starts[1:], strict=True)] == expected


def test_padded_numbers_keep_their_zeros() -> None:
    rows = Rows(4)
    rows.number(np.array([0, 7, 42, 123]), pad=3)
    rows.text(b",")
    assert rows.build()[0] == b"000,007,042,123,"


def test_no_rows_build_to_nothing() -> None:
    rows = Rows(0)
    rows.text(b"{}")
    blob, starts = rows.build()
    assert blob == b"" and starts.tolist() == [0]


@pytest.mark.parametrize("cursor", ["", "abc", encode(Position(5, 1))[::-1], "djE6LTE6MA"])
def test_foreign_cursors_are_refused_with_the_fix(cursor: str) -> None:
    with pytest.raises(CursorError, match="^after: "):
        decode(cursor)


def test_cursors_sort_like_positions() -> None:
    assert decode(encode(Position(10, 2))) < decode(encode(Position(10, 3))) < decode(encode(Position(11, 0)))
