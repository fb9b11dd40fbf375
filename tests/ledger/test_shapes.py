"""The page shapes of ledger.queries (the "(other)" row, priced-only, tokens, token mix, 429 causes, the
unpriced total, the slowest p95),
each checked against figures worked out by hand, and the "(other)" row against the raw rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ledger.queries import (
    EMPTY_SUMMARY,
    OTHER,
    UNPRICED,
    Filters,
    Slowest,
    largest,
    limit_causes,
    priced_only,
    slowest,
    spend_summary,
    token_mix,
    top_contributors,
    unpriced_total,
    unpriced_values,
    value_count,
    with_other,
    with_price_note,
    with_tokens,
)
from tests.builders import build_ledger

TOP = pd.DataFrame(
    {
        "project": ["search", "support"],
        "spend": [6.0, 2.0],
        "requests": [30, 10],
        "tokens": [3000, 1000],
        "unpriced_requests": [0, 0],
        "share": [0.6, 0.2],
    }
)


def test_the_other_row_holds_the_rest_of_the_slice() -> None:
    total = replace(EMPTY_SUMMARY, spend=10.0, requests=45, prompt_tokens=4000, completion_tokens=500)
    out = with_other(TOP, "project", total)
    assert out["project"].tolist() == ["search", "support", OTHER]
    other = out.iloc[-1]
    assert (other["spend"], other["requests"], other["tokens"], other["share"]) == (2.0, 5, 500, 0.2)


def test_no_other_row_when_the_top_is_everything() -> None:
    total = replace(EMPTY_SUMMARY, spend=8.0, requests=40, prompt_tokens=4000)
    assert with_other(TOP, "project", total).equals(TOP)


def test_the_other_rows_share_is_none_without_spend() -> None:
    free = TOP.assign(spend=0.0, share=None)
    out = with_other(free, "project", replace(EMPTY_SUMMARY, requests=41, prompt_tokens=4000))
    assert out.iloc[-1]["requests"] == 1 and out.iloc[-1]["share"] is None


@pytest.mark.slow
def test_the_top_rows_and_the_other_row_add_up_to_the_raw_rows(tmp_path) -> None:
    build_ledger(tmp_path, n_records=600, days=2, seed=3, end=datetime(2026, 11, 3, 12, tzinfo=UTC))
    f = Filters.for_dates(date(2026, 11, 1), date(2026, 11, 3), "UTC")
    out = with_other(top_contributors(tmp_path, f, "project", 2), "project", spend_summary(tmp_path, f))
    raw = pq.read_table(tmp_path / "requests").to_pandas()
    assert out["project"].iloc[-1] == OTHER and len(out) == 3
    assert out["requests"].sum() == raw["request_count"].sum()
    assert out["tokens"].sum() == (raw["prompt_tokens"] + raw["completion_tokens"]).sum()
    assert out["spend"].sum() == pytest.approx(raw["cost"].sum())
    assert out["share"].sum() == pytest.approx(1.0)


def test_priced_only_drops_the_values_with_no_priced_request() -> None:
    df = pd.DataFrame({"model": ["a", "b", "c"], "requests": [5, 3, 2], "unpriced_requests": [0, 3, 1]})
    assert priced_only(df)["model"].tolist() == ["a", "c"]


SPEND = pd.DataFrame(
    {
        "bucket": [1, 2],
        "prompt_tokens": [100, 40],
        "cached_tokens": [30, 0],
        "completion_tokens": [7, 9],
    }
)


def test_tokens_are_input_plus_output() -> None:
    assert with_tokens(SPEND)["tokens"].tolist() == [107, 49]


def test_the_token_mix_splits_input_into_cached_and_not() -> None:
    mix = token_mix(SPEND).set_index(["bucket", "kind"])["tokens"].to_dict()
    assert mix == {
        (1, "Input (not cached)"): 70,
        (2, "Input (not cached)"): 40,
        (1, "Input (cached)"): 30,
        (2, "Input (cached)"): 0,
        (1, "Output"): 7,
        (2, "Output"): 9,
    }


def test_a_429_is_throttling_or_the_spend_cap() -> None:
    df = pd.DataFrame({"bucket": [1, 2], "rate_limited": [5, 2], "spend_cap": [1, 2], "errors": [9, 9]})
    split = limit_causes(df).set_index(["bucket", "cause"])["count"].to_dict()
    assert split == {
        (1, "Rate limited (throttling)"): 4,
        (2, "Rate limited (throttling)"): 0,
        (1, "Spend cap reached"): 1,
        (2, "Spend cap reached"): 2,
    }


def test_the_retry_rate_is_retries_over_per_request_rows() -> None:
    assert replace(EMPTY_SUMMARY, retries=3, measured_requests=12).retry_rate == 0.25
    assert EMPTY_SUMMARY.retry_rate is None


SERIES = pd.DataFrame(
    {
        "bucket": [1, 1, 1, 2, 2],
        "model": ["a", "b", "c", "a", "c"],
        "spend": [1.0, 5.0, 2.0, 4.0, 0.5],
    }
)


def test_largest_keeps_the_rows_of_the_values_with_the_largest_totals() -> None:
    assert sorted(largest(SERIES, "model", "spend", 2)["model"]) == ["a", "a", "b"]  # a 5.0, b 5.0, c 2.5
    assert largest(SERIES, "model", "spend", 3).equals(SERIES)
    assert largest(SERIES, None, "spend", 1).equals(SERIES)


def test_a_value_is_unpriced_when_no_row_of_it_has_a_spend() -> None:
    df = SERIES.assign(spend=[1.0, None, None, None, 0.5])
    assert unpriced_values(df, "model", "spend") == {"b"}
    assert unpriced_values(df, "model", "requests") == set()


def test_the_price_note_says_unpriced_or_partly_and_moves_the_count_last() -> None:
    df = pd.DataFrame({"model": ["a", "b", "c"], "spend": [1.0, None, 2.0], "unpriced_requests": [0, 4, 1]})
    out = with_price_note(df)
    assert out.columns.tolist() == ["model", "spend", "price", "unpriced_requests"]
    assert out["price"].tolist() == ["", UNPRICED, "partly unpriced"]


def test_the_unpriced_total_adds_up_a_spend_breakdowns_unpriced_requests() -> None:
    df = SERIES.assign(unpriced_requests=[0, 4, 1, 0, 2])
    assert unpriced_total(df, "spend") == 7
    assert unpriced_total(df, "requests") == 0
    assert unpriced_total(SERIES, "spend") == 0  # no such column: nothing left out


def test_the_value_count_is_the_distinct_values_of_the_colour() -> None:
    assert value_count(SERIES, "model") == 3
    assert value_count(SERIES, None) == 0


def test_the_slowest_is_the_value_with_the_highest_p95() -> None:
    df = pd.DataFrame({"model": ["a", "b", "c"], "requests": [9, 4, 2], "p95_ms": [120.0, 480.5, 310.0]})
    assert slowest(df, "model") == Slowest(value="b", p95_ms=480.5, requests=4)
    assert slowest(df.head(0), "model") is None
