"""What the provider billed, next to what we measured: reconciliation per month and model.

Why a table of its own: the Admin API reports money per month, category, model and metric,
with no request, day or key behind it, so its rows do not fit the request ledger (the billed
table lives in `_table`; reconciliation in `_reconcile`). `reconcile` puts the two side by side per (month, model)
for the Reconciliation page and the alerts engine alike, with a status that says what is
known: a model whose bill cannot be read is `bill_unreadable`, never `matched`, and totals
(`comparable_totals`) add up only the models whose gap is known.

Layout: the billed table, a Delta table at `<data_dir>/billed` partitioned by `month`
(`_table`), and the latest spend-limit and rate-limit readings as
`<data_dir>/billing/<source>/{spend-limit,rate-limit}.json`.

Example:
    >>> from pathlib import Path
    >>> line = BilledRow(category="ocr", model="mistral-ocr-2505", metric="pages", quantity=1000.0,
    ...                  unit_price=0.001, amount=1.0, currency="EUR")
    >>> _ = write_billed(Path("data"), "mistral_admin", "2026-05", None, [line])
    >>> reconcile(Path("data"), ["2026-05"], currency="EUR")[0].status     # billed, but no request seen
    'billed_not_seen'
"""

from __future__ import annotations

from ledger.queries import measured_by_model

from ._limits import (
    RATE_LIMIT,
    SPEND_LIMIT,
    Headroom,
    SpendGauge,
    billing_dir,
    rate_headroom,
    rate_limits,
    read_readings,
    safe_name,
    spend_gauges,
    write_reading,
)
from ._prices import (
    PRICE_SCHEMA,
    PriceComparison,
    PriceCounts,
    PriceEntry,
    compare_prices,
    price_counts,
    price_months,
    read_price_sheet,
    sheet_prices,
    write_price_sheet,
)
from ._reconcile import (
    STATUS_WORDS,
    STATUSES,
    Reconciled,
    Totals,
    billed_amount,
    billed_by_model,
    billed_months,
    comparable_totals,
    gap_breaches,
    has_bill,
    month_of,
    reconcile,
    reconciled_csv,
    unmatched,
    unreadable_lines,
)
from ._table import (
    BILLED_SCHEMA,
    BilledMigration,
    BilledRow,
    billed_dir,
    carry_over,
    check_month,
    migrate_billed,
    read_billed,
    read_billed_rows,
    update_billed,
    write_billed,
)

__all__ = [
    "BILLED_SCHEMA",
    "PRICE_SCHEMA",
    "RATE_LIMIT",
    "SPEND_LIMIT",
    "STATUSES",
    "STATUS_WORDS",
    "BilledMigration",
    "BilledRow",
    "Headroom",
    "PriceComparison",
    "PriceCounts",
    "PriceEntry",
    "Reconciled",
    "SpendGauge",
    "Totals",
    "billed_amount",
    "billed_by_model",
    "billed_dir",
    "billed_months",
    "billing_dir",
    "carry_over",
    "check_month",
    "comparable_totals",
    "compare_prices",
    "gap_breaches",
    "has_bill",
    "measured_by_model",
    "migrate_billed",
    "month_of",
    "price_counts",
    "price_months",
    "rate_headroom",
    "rate_limits",
    "read_billed",
    "read_billed_rows",
    "read_price_sheet",
    "read_readings",
    "reconcile",
    "reconciled_csv",
    "safe_name",
    "sheet_prices",
    "spend_gauges",
    "unmatched",
    "unreadable_lines",
    "update_billed",
    "write_billed",
    "write_price_sheet",
    "write_reading",
]
