"""Cost questions: unit costs by model, unpriced models, and the month-end forecast.

Why a weekday-aware forecast: API traffic (and so spend) drops at weekends; a straight line
through month-to-date spend over-forecasts a month that ends on weekends and under-forecasts
one that ends on weekdays. The forecast uses the mean spend of recent full weekdays and of
recent full weekend days, each applied to the days left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd

from foundation.periods import first_day, next_first_day
from ledger.pricing import fx

from ._core import spend_over_time
from ._engine import OTHER, query
from ._filters import Filters
from ._measures import aggregates

_BY_MODEL_COLUMNS = ("spend", "requests", "priced_requests", "priced_tokens", "unpriced_requests", "unpriced_tokens")
_BY_MODEL = f"""SELECT model, {aggregates(*_BY_MODEL_COLUMNS)}
    FROM rows GROUP BY model ORDER BY spend DESC, requests DESC, model"""


def _by_model(data_dir: Path, filters: Filters) -> pd.DataFrame:
    df = query(data_dir, filters, _BY_MODEL)
    columns = ["model", *_BY_MODEL_COLUMNS]
    return pd.DataFrame(columns=columns) if df is None else df


def unit_costs(data_dir: Path, filters: Filters, top: int | None = None) -> pd.DataFrame:
    """Per model: spend, requests, cost_per_1k_requests and cost_per_1m_tokens over priced rows.

    A model with no priced request has NaN spend and unit costs (unknown, not free). With
    `top`, the models beyond the `top` largest by spend are pooled as one OTHER row.
    """
    df = _by_model(data_dir, filters)
    if top is not None and len(df) > top:
        rest = df.iloc[top:].drop(columns="model").sum().to_frame().T.assign(model=OTHER)
        df = pd.concat([df.iloc[:top], rest[df.columns]], ignore_index=True)
    priced = df["priced_requests"].where(df["priced_requests"] > 0)
    df["spend"] = df["spend"].where(priced.notna())
    tokens = df["priced_tokens"].where(df["priced_tokens"] > 0)
    df["cost_per_1k_requests"] = df["spend"] / priced * 1000
    df["cost_per_1m_tokens"] = df["spend"] / tokens * 1e6
    return df[["model", "spend", "requests", "cost_per_1k_requests", "cost_per_1m_tokens"]]


def unpriced_models(data_dir: Path, filters: Filters) -> pd.DataFrame:
    """Models with rows that have no price: model, requests, tokens (the spend they hide)."""
    return unpriced_of(_by_model(data_dir, filters))


def unpriced_of(by_model: pd.DataFrame) -> pd.DataFrame:
    """`unpriced_models` from the per-model frame `_BY_MODEL` answers."""
    df = by_model[by_model["unpriced_requests"] > 0]
    out = df[["model", "unpriced_requests", "unpriced_tokens"]].rename(
        columns={"unpriced_requests": "requests", "unpriced_tokens": "tokens"}
    )
    return out.sort_values("requests", ascending=False).reset_index(drop=True)


@dataclass(frozen=True, kw_only=True)
class Forecast:
    """Month-to-date spend and where it will land at month end (local calendar)."""

    month_start: date
    month_end: date
    spend_to_date: float
    forecast: float
    weekday_rate: float
    weekend_rate: float
    basis_days: int


def _rates(daily: pd.Series, today: date) -> tuple[float, float, int]:
    """Mean spend of full weekdays and of full weekend days in `daily` (before today)."""
    full = daily[daily.index < today]
    if full.empty:
        return 0.0, 0.0, 0
    weekend = pd.Series([d.weekday() >= 5 for d in full.index], index=full.index)
    weekday_rate = float(full[~weekend].mean()) if (~weekend).any() else float(full.mean())
    weekend_rate = float(full[weekend].mean()) if weekend.any() else weekday_rate
    return weekday_rate, weekend_rate, len(full)


def month_forecast(data_dir: Path, filters: Filters, now: datetime | None = None, lookback_days: int = 28) -> Forecast:
    """Spend from the 1st of `now`'s month (filters' zone and dimensions; its dates are ignored).

    forecast = spend to date + the rest of today + each day left, at the recent mean of its
    kind (weekday or weekend), learned from up to `lookback_days` full days with data.
    """
    window = forecast_window(filters, now, lookback_days)
    return forecast_of(spend_over_time(data_dir, window, dim=None, grain="day"), window, lookback_days)


def forecast_window(filters: Filters, now: datetime | None = None, lookback_days: int = 28) -> Filters:
    """The rows `month_forecast` reads: from the 1st of the month (or `lookback_days` back, if earlier) to `now`."""
    tz = filters.tz
    now = (now or datetime.now(tz)).astimezone(tz)
    today = now.date()
    first = min(first_day("month", today), today - timedelta(days=lookback_days))
    return filters.with_window(datetime.combine(first, time(), tzinfo=tz), now)


def forecast_of(frame: pd.DataFrame, window: Filters, lookback_days: int = 28) -> Forecast:
    """`month_forecast` from the daily `spend_over_time` of its `forecast_window`."""
    tz = window.tz
    now = window.end_at.astimezone(tz)
    today = now.date()
    month_start, month_end = first_day("month", today), next_first_day("month", today) - timedelta(days=1)
    spent = pd.Series(frame["spend"].to_numpy(), index=[b.date() for b in frame["bucket"]], dtype=float)
    daily = _fill_days(spent, today - timedelta(days=lookback_days), today)
    weekday_rate, weekend_rate, basis = _rates(daily, today)
    to_date = float(spent[[d >= month_start for d in spent.index]].sum()) if len(spent) else 0.0
    rate = {True: weekend_rate, False: weekday_rate}
    elapsed = (now - datetime.combine(today, time(), tzinfo=tz)).total_seconds() / 86_400
    rest = rate[today.weekday() >= 5] * max(0.0, 1 - elapsed)
    rest += sum(rate[(today + timedelta(days=i)).weekday() >= 5] for i in range(1, (month_end - today).days + 1))
    return Forecast(
        month_start=month_start,
        month_end=month_end,
        spend_to_date=to_date,
        forecast=to_date + rest,
        weekday_rate=weekday_rate,
        weekend_rate=weekend_rate,
        basis_days=basis,
    )


def _fill_days(spent: pd.Series, first: date, today: date) -> pd.Series:
    """Daily spend from the first day with data (or `first`) to today, missing days as 0."""
    if spent.empty:
        return spent
    start = max(first, min(spent.index))
    days = [start + timedelta(days=i) for i in range((today - start).days + 1)]
    return spent.reindex(days, fill_value=0.0)


@dataclass(frozen=True, kw_only=True)
class RateUsed:
    """How one foreign currency was converted over a window (for the caption beside the figures).

    `rate`/`rate_date`: the rate of the latest day with traffic and the date it was published;
    `low`/`high`: the range of the day rates used; `missing_days`: UTC days whose rows had no
    rate (their `missing_requests` and `missing_cost`, in the row's own currency, are left out).
    """

    currency: str
    target: str
    rate: float | None
    rate_date: date | None
    low: float | None
    high: float | None
    days: int
    missing_days: tuple[date, ...]
    missing_requests: int
    missing_cost: float


_BY_CURRENCY_DAY = f"""SELECT currency, epoch_us(timestamp) // 86400000000 AS day,
    {aggregates(requests="requests", missing_requests="unconverted_requests", missing_cost="unconverted_cost")}
    FROM rows WHERE currency <> ? GROUP BY ALL ORDER BY currency, day"""


def conversion(data_dir: Path, filters: Filters, currency: str | None = None) -> list[RateUsed]:
    """Per foreign currency in the window: the rates used to show it in `currency` (default: display)."""
    shown = fx.display()
    target = (currency or shown.currency).upper()
    return rates_used(data_dir, query(data_dir, filters, _BY_CURRENCY_DAY, [target], currency=target), target)


def rates_used(data_dir: Path, df: pd.DataFrame | None, target: str) -> list[RateUsed]:
    """`conversion` from the per-currency-day frame `_BY_CURRENCY_DAY` answers (currencies other than `target`)."""
    if df is None or df.empty:
        return []
    table = fx.load_rates(data_dir, fx.display().overrides)
    return [_rate_used(table, str(cur), target, part) for cur, part in df.groupby("currency", sort=True)]


def _rate_used(table: fx.RateTable, currency: str, target: str, part: pd.DataFrame) -> RateUsed:
    days = [fx.day_of(d) for d in part["day"]]
    found = [table.factor(currency, target, d) for d in days]
    known = [f for f in found if f is not None]
    missing = part[part["missing_requests"] > 0]
    last = known[-1] if known else None
    return RateUsed(
        currency=currency,
        target=target,
        rate=last[0] if last else None,
        rate_date=last[1] if last else None,
        low=min(f[0] for f in known) if known else None,
        high=max(f[0] for f in known) if known else None,
        days=len(days),
        missing_days=tuple(fx.day_of(d) for d in missing["day"]),
        missing_requests=int(missing["missing_requests"].sum()),
        missing_cost=float(missing["missing_cost"].sum()),
    )
