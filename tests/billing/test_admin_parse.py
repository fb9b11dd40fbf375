"""The usage parser's entry rule, shape by shape: read what has a known field, keep the rest raw."""

from __future__ import annotations

import json

import pytest

from collector.providers._admin_parse import parse_usage


def parse(payload: object) -> tuple[list[tuple], list[str]]:
    rows, problems = parse_usage({"currency": "EUR", "completion": {"models": {"m": payload}}})
    return [(r.metric, r.quantity, r.amount, r.raw is not None) for r in rows], problems


@pytest.mark.parametrize(
    "payload, lines",
    [
        ({"input_tokens": 1000}, [("input_tokens", 1000.0, None, True)]),  # a number under a metric name
        ({"input": {"standard": [{"value": 10, "amount": "0.1"}]}}, [("input.standard", 10.0, 0.1, False)]),
        ({"input": [{"value": 10, "amount": "0.1", "extra": {"x": 1}}]}, [("input", 10.0, 0.1, False)]),
        ({"input": [], "tier": "standard", "note": None}, []),  # nothing billed, nothing lost
    ],
)
def test_readable_shapes(payload, lines):
    assert parse(payload) == (lines, [])


@pytest.mark.parametrize(
    "payload, where",
    [
        ({"input": {"charge": {"value_micros": 1_204_401}}}, "numbers at input.charge.value_micros"),
        ({"input": [{"value": 1, "amount": "0.1"}, {"charge": {"eur": "0.2"}}]}, "numbers at input[1].charge.eur"),
        ({"input": [{"sku": "x"}]}, "no number in it"),
        ({"input": {"a": {"b": {"c": {"d": {"e": {"value": 1}}}}}}}, "numbers at input.a.b.c.d"),
    ],
)
def test_an_entry_with_a_number_outside_a_known_field_is_one_raw_line(payload, where):
    rows, problems = parse_usage({"currency": "EUR", "completion": {"models": {"m": payload}}})
    (row,) = rows  # the whole entry, even the part that could be read: no partial money
    assert (row.metric, row.quantity, row.unit_price, row.amount) == ("input", None, None, None)
    assert json.loads(row.raw) == payload["input"] and where in row.problem
    assert problems == [row.problem] and row.problem.startswith("completion/m entry 'input'")
