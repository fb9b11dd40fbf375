"""The ledger's parts load on demand: a writer (the gateway, the collector's append path) that
imports `ledger.storage` and `ledger.pricing` never loads DuckDB or the query stack.

Checked in a fresh interpreter, since this test process has long imported everything."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.paths import REPO

PROBE = """
import sys
import gateway, gateway._limit_ledger, gateway._limit_prices
gateway._limit_prices.book_pricer("USD")
import ledger, ledger.storage, ledger.pricing
ledger.SCHEMA, ledger.PriceBook, ledger.Appender
print(sorted(m for m in ("duckdb", "ledger.queries", "ledger.billing") if m in sys.modules))
import ledger
ledger.spend_summary
print(sorted(m for m in ("duckdb", "ledger.queries") if m in sys.modules))
"""


@pytest.mark.slow
def test_writers_never_load_the_query_stack_and_a_reader_loads_it_on_first_use():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    writer, reader = out.stdout.splitlines()
    assert writer == "[]"
    assert reader == "['duckdb', 'ledger.queries']"


def test_an_unknown_name_is_an_attribute_error_naming_it():
    import ledger

    try:
        ledger.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("ledger.no_such_name did not raise")
