"""One budget's figures on the Budgets page: spend, % used, forecast, projected 100%, burn-down.

Why from `alerts.view_budget`: the page and the alert email compute the same figures with the
same functions, so they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from alerts import Budget, BudgetView

from . import _data as data
from ._budget_form import SCOPE_FIELDS
from ._text import md
from ._ui import tile_money


@dataclass(frozen=True)
class Where:
    """Where and how the page shows money: the ledger, the config's zone and currency."""

    data_dir: Path
    timezone: str
    currency: str


def unknown_names(where: Where, budget: Budget) -> list[str]:
    """Scope values with no request in the last 90 days (`project serach`): flagged, not refused."""
    out = []
    for dim, (attr, label) in SCOPE_FIELDS.items():
        seen = set(data.known_values(where.data_dir, where.timezone, dim))
        out += [f"{label[:-1].lower()} {v}" for v in getattr(budget, attr) if v not in seen]
    return out


def chart(view: BudgetView, where: Where, now: datetime, minute: datetime) -> go.Figure:
    """Remaining budget per day, the forecast line to the period's end, and the projected crossing.

    `minute`: the minute the view was read at (as `data.budget_view`'s), so reruns share the burn-down."""
    budget, fc, zone = view.budget, view.forecast, where.timezone
    burn = data.burn_down(where.data_dir, budget.filters(view.period, zone), minute, budget.amount)
    fig = go.Figure()
    x_now = pd.Timestamp(now).tz_convert(zone)
    fig.add_scatter(
        x=[*burn["day"], x_now],
        y=[budget.amount, *burn["remaining"]],
        mode="lines+markers",
        name="Remaining",
        line_shape="hv",
    )
    end = pd.Timestamp(view.period.end).tz_convert(zone)
    fig.add_scatter(
        x=[x_now, end],
        y=[budget.amount - fc.spent, budget.amount - fc.forecast],
        mode="lines",
        name="Forecast",
        line={"dash": "dash"},
    )
    fig.add_hline(y=0, line_color="red", annotation_text="100% used")
    crossing = fc.crossing(budget.amount)
    if crossing is not None:
        fig.add_vline(x=pd.Timestamp(crossing).tz_convert(zone), line_dash="dot", line_color="red")
    fig.update_layout(
        title=f"Burn-down ({where.currency})",
        yaxis_title=f"Budget left ({where.currency})",
        height=300,
        margin={"t": 40, "b": 10},
    )
    return fig


def show_budget(view: BudgetView, where: Where, now: datetime, minute: datetime) -> None:
    """Heading, scope line, four tiles, the unknown-name warning and the burn-down chart."""
    budget, fc, cur = view.budget, view.forecast, where.currency
    st.subheader(md(budget.name))
    who = md(", ".join(budget.recipients), 500) if budget.recipients else "nobody (add recipients)"
    st.caption(
        f"{md(budget.scope_label(), 500)} · {md(view.period.id)} ({md(view.period.label())}) · alerts at "
        f"{', '.join(f'{t:g}%' for t in budget.thresholds)} · to {who}"
    )
    crossing = fc.crossing(budget.amount)
    cols = st.columns(4)
    shown, exact = tile_money(fc.spent, cur)
    cols[0].metric("Spent so far", shown, help=exact)
    cols[1].metric("Used", f"{view.spent_pct:.1f}%")
    shown, exact = tile_money(fc.forecast, cur)
    cols[2].metric("Forecast", shown, help=exact)
    reached = "reached" if fc.spent >= budget.amount else "not this period"
    when = f"{crossing.astimezone(view.period.start.tzinfo):%d %b %H:%M}" if crossing else reached
    cols[3].metric("Projected 100%", when)
    missing = unknown_names(where, budget)
    if missing:
        st.warning(
            f"No requests in the last 90 days for {md(', '.join(missing), 500)}: check the spelling "
            "(the budget is kept; it counts from the first matching request)."
        )
    st.plotly_chart(chart(view, where, now, minute), key=f"chart-{budget.slug}")
