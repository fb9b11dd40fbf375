"""Reconciliation: what the provider billed against what the ledger measured, per month and model.

`reconcile` puts the two side by side for the Reconciliation page and the alerts engine
alike, with a status that says what is known: a model whose bill cannot be read is
`bill_unreadable`, never `matched`, and totals (`comparable_totals`) add up only the models
whose gap is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from foundation.periods import month_days, month_key
from ledger.pricing import fx
from ledger.queries import csv_bytes, measured_by_model

from ._table import read_billed

STATUSES = ("matched", "billed_not_seen", "seen_not_billed", "bill_unreadable")
STATUS_WORDS = {
    "matched": "Matched",
    "billed_not_seen": "Billed, never seen",
    "seen_not_billed": "Seen, not billed",
    "bill_unreadable": "Bill cannot be read",
}
"""Each status as people read it (the page's tables and warnings, the alert email); a download keeps
the machine value."""


@dataclass(frozen=True, kw_only=True)
class Reconciled:
    """Measured against billed for one (month, model); gap = billed - measured.

    `gap_pct` is the gap as a share of the bill (None when nothing was billed or a side is
    unknown); `measured` is None when the ledger saw the model but could not price it;
    `billed` is None when a line of its bill could not be read (`bill_unreadable`).
    `comparable` is True when the gap is known (a side the model is absent from counts 0).
    """

    month: str
    model: str
    measured: float | None
    billed: float | None
    gap: float | None
    gap_pct: float | None
    status: str  # one of STATUSES
    requests: int
    currency: str
    comparable: bool = False


@dataclass(frozen=True, kw_only=True)
class Totals:
    """Measured and billed added up over the comparable models; `left_out` are the others."""

    measured: float
    billed: float
    gap: float
    gap_pct: float | None
    compared: int
    left_out: tuple[Reconciled, ...]


def month_of(day: date) -> str:
    return month_key(day)


def billed_months(data_dir: Path, today: date) -> list[str]:
    """The months the billed table holds and `today`'s, newest first: what the Reconciliation page offers."""
    return sorted(set(read_billed(data_dir)["month"].to_pylist()) | {month_of(today)}, reverse=True)


def billed_amount(table: pa.Table) -> list[float | None]:
    """Each row's money: the amount when given, else quantity x unit price, else None.

    A line with a `problem` (its entry could not be read) has no money, whatever it holds.
    """
    out: list[float | None] = []
    for amount, quantity, price, problem in zip(
        table["amount"].to_pylist(),
        table["quantity"].to_pylist(),
        table["unit_price"].to_pylist(),
        table["problem"].to_pylist(),
        strict=True,
    ):
        if problem is not None:
            out.append(None)
        elif amount is not None:
            out.append(amount)
        elif quantity is not None and price is not None:
            out.append(quantity * price)
        else:
            out.append(None)
    return out


def billed_by_model(data_dir: Path, months: Sequence[str], currency: str) -> dict[tuple[str, str], float | None]:
    """(month, model) -> billed money in `currency` (None if a line had no usable number).

    A line billed in another currency is converted at the reference rate of its month's last
    day (ledger.pricing.fx); without one its money is unknown (None), never converted at 1.0.
    """
    table = read_billed(data_dir, months)
    rates = fx.load_rates(data_dir, fx.display().overrides)
    out: dict[tuple[str, str], float | None] = {}
    rows = zip(
        table["month"].to_pylist(),
        table["model"].to_pylist(),
        table["currency"].to_pylist(),
        billed_amount(table),
        strict=True,
    )
    for month, model, cur, money in rows:
        key = (month, model)
        previous = out.get(key, 0.0)
        converted = _in_currency(rates, money, cur or currency, currency, month)
        out[key] = None if previous is None or converted is None else previous + converted
    return out


def _in_currency(rates: fx.RateTable, money: float | None, source: str, target: str, month: str) -> float | None:
    if money is None:
        return None
    found = rates.factor(source, target, month_days(month)[1])
    return None if found is None else money * found[0]


def reconcile(data_dir: Path, months: Sequence[str], currency: str) -> list[Reconciled]:
    """Per (month, model): measured cost (ledger) against billed (Admin API), sorted by |gap|.

    Both sides are in `currency`: ledger rows and bill lines in another currency are converted
    (ledger.pricing.fx; rows at their day's rate, bill lines at their month's last day's), and a side
    whose rate is missing is unknown, so its model is left out of `comparable_totals`. A model
    only one side knows is `billed_not_seen` (traffic that bypassed the gateway) or
    `seen_not_billed`; one with an unreadable bill line (or one in a currency with no rate)
    is `bill_unreadable` (billed None, no gap), whether the ledger saw it or not.
    """
    billed = billed_by_model(data_dir, months, currency)
    measured = measured_by_model(data_dir, months, currency)
    rows = [_row(key, measured.get(key), billed, currency) for key in sorted(set(billed) | set(measured))]
    return sorted(rows, key=lambda r: (r.month, -abs(r.gap or 0.0), r.model))


def _row(
    key: tuple[str, str],
    seen: tuple[float | None, int] | None,
    billed: dict[tuple[str, str], float | None],
    currency: str,
) -> Reconciled:
    month, model = key
    cost, requests = seen if seen is not None else (None, 0)
    bill = billed.get(key)
    if key in billed and bill is None:
        status = "bill_unreadable"
    elif key not in billed:
        status = "seen_not_billed"
    elif seen is None:
        status = "billed_not_seen"
    else:
        status = "matched"
    mine = cost if seen is not None else 0.0
    theirs = bill if key in billed else 0.0
    gap = None if mine is None or theirs is None else theirs - mine
    pct = None if gap is None or not theirs else 100.0 * gap / theirs
    return Reconciled(
        month=month,
        model=model,
        measured=cost,
        billed=bill,
        gap=gap,
        gap_pct=pct,
        status=status,
        requests=requests,
        currency=currency.upper(),
        comparable=gap is not None,
    )


def comparable_totals(rows: Sequence[Reconciled]) -> Totals:
    """Measured, billed and gap over the rows whose gap is known; the rest listed apart.

    Why: adding an unreadable bill's model to Measured but nothing to Billed invents a gap
    (e.g. $0.97 shown where the readable models differ by $2.47).
    """
    compared = [r for r in rows if r.comparable]
    measured = sum(r.measured or 0.0 for r in compared)
    billed = sum(r.billed or 0.0 for r in compared)
    gap = billed - measured
    left_out = tuple(r for r in rows if not r.comparable)
    return Totals(
        measured=measured,
        billed=billed,
        gap=gap,
        gap_pct=100.0 * gap / billed if billed else None,
        compared=len(compared),
        left_out=left_out,
    )


def unmatched(rows: Sequence[Reconciled]) -> dict[str, list[str]]:
    """The models of each status but `matched`, sorted by name; the status with the most models first
    (on a tie, the one met first in `rows`)."""
    models: dict[str, list[str]] = {}
    for row in rows:
        if row.status != "matched":
            models.setdefault(row.status, []).append(row.model)
    ordered = sorted(models.items(), key=lambda item: len(item[1]), reverse=True)
    return {status: sorted(names) for status, names in ordered}


def has_bill(rows: Sequence[Reconciled]) -> bool:
    """Whether a bill is known for the month: some model is billed (not only `seen_not_billed`)."""
    return any(row.status != "seen_not_billed" for row in rows)


def unreadable_lines(data_dir: Path, months: Sequence[str], currency: str) -> pa.Table:
    """The bill lines whose money could not be read in `currency` (raw entry and reason).

    That is a line with a `problem`, or one billed in another currency with no rate for its
    month's last day (reason: the missing rate).
    """
    table = read_billed(data_dir, months)
    rates = fx.load_rates(data_dir, fx.display().overrides)
    problems: list[str | None] = []
    for problem, cur, month in zip(
        table["problem"].to_pylist(), table["currency"].to_pylist(), table["month"].to_pylist(), strict=True
    ):
        source = (cur or currency).upper()
        day = month_days(month)[1]
        if problem is None and rates.factor(source, currency, day) is None:
            problem = f"no {source} to {currency.upper()} rate on or within {fx.MAX_STALE_DAYS} days before {day}"
        problems.append(problem)
    wanted = pa.array([p is not None for p in problems], pa.bool_())
    table = table.set_column(table.schema.get_field_index("problem"), "problem", pa.array(problems, pa.string()))
    names = ["month", "model", "category", "metric", "quantity", "problem", "raw", "fetched_at", "source"]
    return table.filter(wanted).select(names)


def gap_breaches(rows: Sequence[Reconciled], threshold_pct: float, min_gap: float = 0.0) -> list[Reconciled]:
    """The rows an alert should name: |gap| >= min_gap and |gap_pct| >= threshold (or unmatched),
    and every model whose bill cannot be read.

    Example:
        >>> from ledger.billing import BilledRow, write_billed
        >>> line = BilledRow(category="ocr", model="mistral-ocr-2505", metric="pages", quantity=1000.0,
        ...                  unit_price=0.001, amount=1.0, currency="EUR")
        >>> _ = write_billed(Path("data"), "mistral_admin", "2026-05", None, [line])
        >>> [r.model for r in gap_breaches(reconcile(Path("data"), ["2026-05"], "EUR"), threshold_pct=5)]
        ['mistral-ocr-2505']
    """
    out = []
    for row in rows:
        if row.status == "bill_unreadable":
            out.append(row)
            continue
        if row.gap is None or abs(row.gap) < min_gap:
            continue
        if row.status != "matched" or (row.gap_pct is not None and abs(row.gap_pct) >= threshold_pct):
            out.append(row)
    return out


def reconciled_csv(rows: Sequence[Reconciled]) -> bytes:
    """The rows as CSV for a download: machine columns and values (`billed_not_seen`), full precision."""
    return csv_bytes(pd.DataFrame([asdict(r) for r in rows], columns=list(Reconciled.__dataclass_fields__)))
