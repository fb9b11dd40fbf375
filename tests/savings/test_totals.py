"""The Savings page's tiles and its lost-money table, from the levers' frames, against sums worked out by hand."""

from __future__ import annotations

import pandas as pd

from ledger.queries.savings import LEVERS, lost, totals

CACHING = pd.DataFrame({"model": ["a", "b"], "saving": [1.25, 0.5]})
BATCH = pd.DataFrame({"saving": [1.0, 0.75, 0.25], "offline": [True, False, True]})
PREMIUMS = pd.DataFrame({"kind": ["priority tier", "regional endpoint (eu)"], "premium": [0.75, 0.1]})
FAILURES = pd.DataFrame({"kind": ["Billed failed requests", "Billed retries"], "requests": [3, 2], "spend": [0.6, 0.8]})
SIZING = pd.DataFrame({"model": ["a"], "saving": [2.5]})


def test_the_tiles_add_up_each_levers_frame() -> None:
    t = totals(CACHING, BATCH, PREMIUMS, FAILURES, (4, 1.2), SIZING)
    assert (t.caching, t.batch, t.batch_offline, t.premiums) == (1.75, 2.0, 1.25, 0.85)
    assert (t.failed, t.cancelled, t.right_sizing) == (1.4, 1.2, 2.5)


def test_caching_is_unknown_without_a_cacheable_model_and_the_rest_zero_without_rows() -> None:
    empty = {name: df.iloc[0:0] for name, df in (("c", CACHING), ("b", BATCH), ("p", PREMIUMS), ("s", SIZING))}
    t = totals(empty["c"], empty["b"], empty["p"], FAILURES.iloc[0:0], (0, 0.0), empty["s"])
    assert t.caching is None
    assert (t.batch, t.batch_offline, t.premiums, t.failed, t.cancelled, t.right_sizing) == (0, 0, 0, 0, 0, 0)


def test_the_lost_table_is_the_failures_and_one_row_of_cancelled_streams() -> None:
    out = lost(FAILURES, (4, 1.2))
    assert out.to_dict("records") == [
        {"kind": "Billed failed requests", "requests": 3, "spend": 0.6},
        {"kind": "Billed retries", "requests": 2, "spend": 0.8},
        {"kind": LEVERS["cancelled"].title, "requests": 4, "spend": 1.2},
    ]
