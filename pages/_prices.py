"""The Reconciliation page's "Prices" section: your own unit prices against the list-price table.

Why a section of its own: the Admin API's `prices` list is the organisation's real price
sheet (negotiated discounts included), stored per month by the `mistral_admin` source; this
shows, per model and token kind, the list price, your price and the difference, both per 1M
tokens. Model names and the sheet's labels go in the table only, never into text.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from foundation.money import amount

from . import _data as data

COLUMNS = [
    "model",
    "kind",
    "api_zone",
    "service_tier",
    "currency",
    "list_price",
    "your_price",
    "difference",
    "difference_pct",
    "unit",
    "note",
    "event_type",
    "billing_metric",
    "source",
]


HEADERS = {
    "model": "Model",
    "kind": "Kind",
    "api_zone": "Zone",
    "service_tier": "Tier",
    "currency": "Currency",
    "list_price": "List price",
    "your_price": "Your price",
    "difference": "Difference",
    "difference_pct": "Difference %",
    "unit": "Unit",
    "note": "Note",
    "event_type": "Event type",
    "billing_metric": "Billing metric",
    "source": "Source",
}
"""The table's headers in words (the frame keeps the machine names)."""


def prices_frame(data_dir: Path, month: str) -> pd.DataFrame:
    """The comparison of `month`'s stored price sheet as a table (empty when there is none)."""
    rows = data.compare_prices(data_dir, month)
    return pd.DataFrame([asdict(r) for r in rows], columns=["month", *COLUMNS])[COLUMNS]


def prices_section(data_dir: Path, month: str) -> None:
    st.subheader("Prices")
    frame = prices_frame(data_dir, month)
    if frame.empty:
        st.info(
            "No price sheet for this month: the `mistral_admin` source stores the Admin API's `prices` list "
            "when the bill carries one (docs/billing.md).",
            icon=":material/sell:",
        )
        return
    counts = data.price_counts(data_dir, month)
    st.caption(
        f"Your price sheet against the list prices: {counts.below} prices below list, {counts.above} above, "
        f"{counts.unknown} without a list price to compare. Token prices per 1M "
        "tokens; difference = your price - list price; regional zones (us, eu) list at 1.1x."
    )
    formats = {
        "list_price": partial(amount, digits=4),
        "your_price": partial(amount, digits=4),
        "difference": partial(amount, digits=4, signed=True),
        "difference_pct": "{:+.1f}%",
    }
    st.dataframe(
        frame.style.format(formats, na_rep="—"),
        hide_index=True,
        width="stretch",
        column_config=HEADERS,
        placeholder="—",
    )
