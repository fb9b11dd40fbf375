"""The budget edit form: widgets in, a validated Budget out (through the budgets file's own parser).

Why the file's parser: a budget saved from the page and one written by hand pass the same
checks, so the engine never meets a budget the page let through and the file would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from alerts import PERIODS, Budget, BudgetFileError, parse_budget

SCOPE_FIELDS = {"project": ("projects", "Projects"), "model": ("models", "Models"), "api_key": ("api_keys", "API keys")}
"""Budget scope: file key -> (Budget field, label)."""


@dataclass(frozen=True, kw_only=True)
class BudgetForm:
    """What the form held on submit, before validation (thresholds still as typed)."""

    name: str
    period: str
    amount: float
    scopes: dict[str, list[str]]
    thresholds: str
    forecast: bool
    recipients: list[str]
    channels: list[str]

    def to_budget(self) -> Budget:
        """A Budget through the file's own validation (empty scopes dropped); BudgetFileError names the field."""
        try:
            thresholds = [float(t) for t in split(self.thresholds)]
        except ValueError:
            text = self.thresholds
            raise BudgetFileError(f"thresholds: {text!r} is not a list of numbers; write 50, 80, 100") from None
        values = {k: v for k, v in self.fields().items() if k not in SCOPE_FIELDS or v}
        return parse_budget({**values, "thresholds": thresholds})

    def fields(self) -> dict[str, object]:
        """The form as the budgets file's keys (what the audit log records)."""
        return {
            "name": self.name,
            "period": self.period,
            "amount": self.amount,
            **self.scopes,
            "thresholds": self.thresholds,
            "forecast": self.forecast,
            "recipients": self.recipients,
            "channels": self.channels,
        }


def split(text: str) -> list[str]:
    """`a, b; c` -> ['a', 'b', 'c'] (empty parts dropped)."""
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def budget_form(current: Budget | None) -> BudgetForm | None:
    """The edit form, filled from `current`; its values on submit, else None."""
    b = current or Budget(name="", amount=100.0)
    with st.form("budget_form"):
        name = st.text_input("Name", b.name)
        period = st.selectbox("Period", PERIODS, index=PERIODS.index(b.period))
        amount = st.number_input("Amount", value=float(b.amount), step=10.0)
        scopes = {
            dim: split(st.text_input(f"{label} (comma-separated; empty = all)", ", ".join(getattr(b, attr))))
            for dim, (attr, label) in SCOPE_FIELDS.items()
        }
        thresholds = st.text_input("Thresholds (%)", ", ".join(f"{t:g}" for t in b.thresholds))
        forecast = st.checkbox("Forecast alert", b.forecast)
        recipients = split(st.text_input("Recipients (emails, comma-separated)", ", ".join(b.recipients)))
        channels = split(
            st.text_input("Channels (names from [alerts.channels], comma-separated)", ", ".join(b.channels))
        )
        if not st.form_submit_button("Save budget", type="primary"):
            return None
    return BudgetForm(
        name=name,
        period=period,
        amount=float(amount),
        scopes=scopes,
        thresholds=thresholds,
        forecast=forecast,
        recipients=recipients,
        channels=channels,
    )
