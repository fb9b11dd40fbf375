"""Budget figures on top of `ledger.queries`: spend so far, burn-down, forecast, usual spend.

Why a separate module: the Budgets page and the alerts engine need a forecast for any
month, week or day (the dashboard's `month_forecast` covers the calendar month) and an "is
this hour unusual" baseline. Everything here is built from the dashboard's own functions:
spend is `spend_summary`'s, the run rates are `month_forecast`'s weekday and weekend rates,
and a monthly budget's forecast *is* `month_forecast(...).forecast`, so the page, the email
and the dashboard never show two numbers for one thing.

Durations are computed on UTC instants: subtracting two datetimes that share a tzinfo
ignores DST in Python, and a month containing the spring change has 743 hours, not 744.

Example:
    >>> from datetime import UTC, date, datetime
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=2000, days=3, seed=7, end=datetime(2026, 11, 25, 12, tzinfo=UTC))
    >>> month = Filters(start=date(2026, 11, 1), end=date(2026, 11, 30), timezone="Europe/Paris", projects=("search",))
    >>> f = period_forecast(Path("data"), month, now=datetime(2026, 11, 25, 12, tzinfo=UTC), monthly=True)
    >>> round(f.spent, 2), round(f.forecast, 2)
    (0.18, 0.57)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from foundation.periods import hours_between, local_midnight
from ledger.queries import month_forecast, spend_over_time, spend_summary

from ._filters import Filters


def clip_to_now(filters: Filters, now: datetime) -> Filters | None:
    """The part of the window before `now` (None if the window has not started)."""
    end = min(filters.end_at.astimezone(UTC), now.astimezone(UTC))
    if end <= filters.start_at.astimezone(UTC):
        return None
    return filters.with_window(filters.start_at, end.astimezone(filters.tz))


@dataclass(frozen=True, kw_only=True)
class PeriodForecast:
    """Spend of a period so far and where it lands at the period's end.

    `steps` are the rest of the period as (start, end, expected spend) spans: the rest of
    today, then each whole local day at its weekday or weekend rate. `basis_days` is how many
    full days of history the rates come from: a forecast from none is not one to alert on.
    """

    spent: float
    forecast: float
    elapsed_share: float
    basis_days: int
    steps: tuple[tuple[datetime, datetime, float], ...] = ()

    def crossing(self, amount: float) -> datetime | None:
        """When spend is projected to reach `amount`; None if already reached or not in the period."""
        if self.spent >= amount:
            return None
        total = self.spent
        for start, end, expected in self.steps:
            if expected > 0 and total + expected >= amount:
                share = (amount - total) / expected
                return start + timedelta(hours=hours_between(start, end) * share)
            total += expected
        return None


def _day_start(day: date, filters: Filters) -> datetime:
    return local_midnight(day, filters.tz)


def _steps(filters: Filters, now: datetime, weekday: float, weekend: float) -> list[tuple[datetime, datetime, float]]:
    """Expected spend for the rest of today and each later day of the window."""
    local = now.astimezone(filters.tz)
    end = filters.end_at.astimezone(filters.tz)
    steps = []
    day = local.date()
    start = local
    while start < end:
        day_end = min(_day_start(day + timedelta(days=1), filters), end)
        full = hours_between(_day_start(day, filters), _day_start(day + timedelta(days=1), filters))
        rate = weekend if day.weekday() >= 5 else weekday
        steps.append((start.astimezone(UTC), day_end.astimezone(UTC), rate * hours_between(start, day_end) / full))
        day += timedelta(days=1)
        start = day_end
    return steps


def period_forecast(data_dir: Path, filters: Filters, now: datetime, monthly: bool = False) -> PeriodForecast:
    """Spend of `filters`' window before `now`, and its forecast at the window's end.

    With `monthly` (a calendar-month window in the filters' zone) the forecast is the
    dashboard's `month_forecast` figure itself.
    """
    period_hours = hours_between(filters.start_at, filters.end_at)
    so_far = clip_to_now(filters, now)
    if so_far is None:
        return PeriodForecast(spent=0.0, forecast=0.0, elapsed_share=0.0, basis_days=0)
    spent = spend_summary(data_dir, so_far).spend
    share = hours_between(so_far.start_at, so_far.end_at) / period_hours
    if so_far.end_at >= filters.end_at:
        return PeriodForecast(spent=spent, forecast=spent, elapsed_share=1.0, basis_days=0)
    rates = month_forecast(data_dir, filters, now=now)
    steps = _steps(filters, now, rates.weekday_rate, rates.weekend_rate)
    forecast = rates.forecast if monthly else spent + sum(s[2] for s in steps)
    return PeriodForecast(
        spent=spent, forecast=forecast, elapsed_share=share, basis_days=rates.basis_days, steps=tuple(steps)
    )


def burn_down(data_dir: Path, filters: Filters, now: datetime, amount: float) -> pd.DataFrame:
    """Per local day of the window up to `now`: spend, cumulative spend and budget remaining.

    Columns: day (tz-aware local midnight), spend, cumulative, remaining. Days without spend
    are present with 0, so the chart has no gaps.
    """
    so_far = clip_to_now(filters, now)
    columns = ["day", "spend", "cumulative", "remaining"]
    if so_far is None:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    df = spend_over_time(data_dir, so_far, dim=None, grain="day")
    spend = {pd.Timestamp(b).date(): float(s) for b, s in zip(df["bucket"], df["spend"], strict=True)}
    first, last = so_far.start_at.astimezone(filters.tz).date(), so_far.end_at.astimezone(filters.tz).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    days = [d for d in days if _day_start(d, filters) < so_far.end_at]
    out = pd.DataFrame(
        {"day": [pd.Timestamp(_day_start(d, filters)) for d in days], "spend": [spend.get(d, 0.0) for d in days]}
    )
    out["cumulative"] = out["spend"].cumsum()
    out["remaining"] = amount - out["cumulative"]
    return out[columns]


@dataclass(frozen=True, kw_only=True)
class Usual:
    """Spend of the current hour (or day) so far against the median of the same slot before."""

    current: float
    baseline: float
    samples: int
    slot_start: datetime


def usual_spend(data_dir: Path, filters: Filters, now: datetime, grain: str) -> Usual:
    """The current local hour vs the same hour of the last 7 days, or today vs the same weekday
    of the last 4 weeks. Slots before the first data in that range are not samples.

    `filters` gives the time zone and dimension filters; its window is ignored.
    """
    local = now.astimezone(filters.tz)
    if grain == "hour":
        slot = local.replace(minute=0, second=0, microsecond=0)
        step, count = timedelta(days=1), 7
    else:
        slot = local.replace(hour=0, minute=0, second=0, microsecond=0)
        step, count = timedelta(days=7), 4
    starts = [s for i in range(count, -1, -1) if (s := _local_shift(slot, step * i, filters)) is not None]
    window = filters.with_window(starts[0], max(now, starts[0] + timedelta(seconds=1)))
    frame = spend_over_time(data_dir, window, dim=None, grain=grain)
    pairs = zip(frame["bucket"], frame["spend"], strict=True)
    by_slot = {pd.Timestamp(b).tz_convert("UTC"): float(s) for b, s in pairs}
    values = [by_slot.get(pd.Timestamp(s).tz_convert("UTC"), 0.0) for s in starts]
    first = min(by_slot) if by_slot else None
    past = [v for s, v in zip(starts[:-1], values[:-1], strict=True) if first is not None and pd.Timestamp(s) >= first]
    baseline = float(pd.Series(past).median()) if past else 0.0
    return Usual(current=values[-1], baseline=baseline, samples=len(past), slot_start=slot)


def _local_shift(slot: datetime, back: timedelta, filters: Filters) -> datetime | None:
    """The same local wall-clock slot `back` earlier; None if that wall time did not exist (DST gap)."""
    naive = slot.replace(tzinfo=None) - back
    shifted = naive.replace(tzinfo=filters.tz)
    exists = shifted.astimezone(UTC).astimezone(filters.tz).replace(tzinfo=None) == naive
    return shifted if exists else None
