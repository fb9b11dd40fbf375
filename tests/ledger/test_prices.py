"""Prices: dated rows, alias history, cached and batch rules, unpriced stays null."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from collector._records import parse_records
from ledger import Price, PriceBook, price_rows


def rows(*records):
    table, rejected = parse_records(list(records))
    assert not rejected
    return table


def rec(i, model, ts, prompt=1_000_000, completion=1_000_000, cached=0, **kw):
    return {
        "id": str(i),
        "timestamp": ts,
        "model": model,
        "status_code": 200,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": cached,
        **kw,
    }


def costs(book, *records, currency="USD"):
    priced = price_rows(rows(*records), "s", book, currency)
    return priced["priced_model"].to_pylist(), priced["cost"].to_pylist()


def test_alias_is_priced_by_the_model_it_pointed_to_then():
    book = PriceBook.load()
    models, cost = costs(
        book,
        rec(1, "mistral-small-latest", "2026-03-15T23:59:59Z"),
        rec(2, "mistral-small-latest", "2026-03-16T00:00:00Z"),
    )
    assert models == ["mistral-small-2506", "mistral-small-2603"]
    assert cost == pytest.approx([0.10 + 0.30, 0.15 + 0.60])


def test_resolved_model_from_the_response_wins_over_alias_history():
    _, cost = costs(
        PriceBook.load(), rec(1, "mistral-small-latest", "2026-04-01T00:00:00Z", resolved_model="mistral-small-2506")
    )
    assert cost == pytest.approx([0.40])


def test_cached_tokens_at_ten_percent_and_batch_at_half():
    _, cost = costs(
        PriceBook.load(),
        rec(1, "mistral-large-2512", "2026-06-01T00:00:00Z", prompt=1_000_000, cached=640_000, completion=0),
        rec(2, "mistral-large-2512", "2026-06-01T00:00:00Z", batch=True),
    )
    # mistral-large-2512: $0.5 in, $1.5 out; cached input 10% of $0.5
    assert cost == pytest.approx([0.36 * 0.5 + 0.64 * 0.05, (0.5 + 1.5) / 2])


def test_eur_prices_and_unknown_models_are_null_not_zero():
    models, cost = costs(
        PriceBook.load(),
        rec(1, "codestral-latest", "2026-06-01T00:00:00Z"),
        rec(2, "ft:mistral-small-2603:acme:1", "2026-06-01T00:00:00Z"),
        rec(3, "mistral-large-2411", "2026-06-01T00:00:00Z"),  # no EUR price published
        currency="EUR",
    )
    assert cost[0] == pytest.approx(0.26 + 0.79)
    assert cost[1] is None and cost[2] is None


def test_request_before_a_models_release_is_unpriced():
    _, cost = costs(PriceBook.load(), rec(1, "mistral-small-2603", "2026-03-01T00:00:00Z"))
    assert cost == [None]


def test_override_with_a_later_effective_date_does_not_reprice_the_past():
    override = Price(
        model="mistral-small-2603",
        effective_from=date(2026, 10, 1),
        currency="USD",
        input_per_1m=1.0,
        output_per_1m=2.0,
        cached_input_per_1m=0.1,
    )
    book = PriceBook.load([override])
    _, cost = costs(
        book, rec(1, "mistral-small-2603", "2026-09-30T12:00:00Z"), rec(2, "mistral-small-2603", "2026-10-01T00:00:00Z")
    )
    assert cost == pytest.approx([0.75, 3.0])
    assert book.version != PriceBook.load().version


def test_every_shipped_alias_target_has_a_price():
    book = PriceBook.load()
    for name in [
        "mistral-small-latest",
        "mistral-large-latest",
        "codestral-latest",
        "mistral-medium-latest",
        "magistral-medium-latest",
        "ministral-8b-latest",
        "devstral-latest",
        "pixtral-large-latest",
    ]:
        target = book.resolve(name, datetime(2026, 11, 1, tzinfo=UTC))
        assert target and book.price_at(target, datetime(2026, 11, 1, tzinfo=UTC), "USD"), name


def test_empty_table_prices_fine():
    table, _ = parse_records([])
    assert price_rows(table, "s", PriceBook.load(), "USD").num_rows == 0
    assert isinstance(table, pa.Table)


def test_all_null_resolved_models_and_empty_chunked_tables_price_fine():
    table, _ = parse_records([rec(1, "codestral-2508", "2026-06-01T00:00:00Z")])
    empty = table.slice(0, 0).combine_chunks()
    assert price_rows(empty, "s", PriceBook.load(), "USD").num_rows == 0
    assert price_rows(pa.concat_tables([table, table.slice(0, 0)]), "s", PriceBook.load(), "USD")["cost"][0].as_py() > 0
