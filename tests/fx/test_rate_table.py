"""ledger.pricing.fx: reading ECB documents and rate files, cross rates, and when a rate is missing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ledger.pricing import fx

SAMPLE = (Path(__file__).parent / "eurofxref-sample.xml").read_bytes()


def test_the_ecb_document_is_read_day_by_day():
    rates = fx.parse_ecb_xml(SAMPLE)
    assert (date(2026, 10, 2), "USD", 1.0512) in rates and (date(2026, 10, 1), "GBP", 0.8399) in rates
    assert len(rates) == 6


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b"not xml at all", b""])
def test_a_page_that_is_not_eurofxref_is_refused(body):
    with pytest.raises(fx.RateFileError, match="check fx.url"):
        fx.parse_ecb_xml(body)


def test_cross_rates_and_inverse():
    table = fx.RateTable.from_rows(fx.parse_ecb_xml(SAMPLE))
    day = date(2026, 10, 2)
    assert table.factor("EUR", "USD", day) == (1.0512, day)
    assert table.factor("USD", "EUR", day)[0] == pytest.approx(1 / 1.0512)
    assert table.factor("GBP", "USD", day)[0] == pytest.approx(1.0512 / 0.8401)
    assert table.factor("USD", "USD", day) == (1.0, day)


def test_a_rate_stands_seven_days_then_is_missing():
    table = fx.RateTable.from_rows([(date(2026, 10, 2), "USD", 1.05)])
    assert table.factor("EUR", "USD", date(2026, 10, 9)) == (1.05, date(2026, 10, 2))
    assert table.factor("EUR", "USD", date(2026, 10, 10)) is None
    assert table.factor("EUR", "USD", date(2026, 10, 1)) is None  # never a later rate for an earlier day
    assert table.factor("EUR", "CHF", date(2026, 10, 2)) is None  # unknown currency: missing, not 1.0


def test_a_bad_rate_file_line_is_named(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("date,currency,per_eur,source\n2026-10-01,USD,1.05,x\n2026-10-02,USD,-1,x\n")
    with pytest.raises(fx.RateFileError, match=r"rates.csv:3: per_eur must be > 0"):
        fx.read_rate_csv(path)


def test_the_seed_file_is_readable():
    assert fx.read_rate_csv(fx.SEED) == []  # shipped empty: no rate could be sourced offline (docs/dashboard.md)
