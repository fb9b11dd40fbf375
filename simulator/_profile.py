"""How busy an hour is: the Paris working day, the quiet weekend, and the one spike day a month.

Why a function of the absolute hour: a chunk of records must come out the same whichever
run of the simulator generates it, so nothing here may depend on "now" or on a start date.

Example:
    >>> from datetime import UTC
    >>> round(load(int(datetime(2026, 11, 25, 9, tzinfo=UTC).timestamp()) // 3600), 2)
    2.59
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

PARIS = ZoneInfo("Europe/Paris")
SPIKE_PERIOD_DAYS = 30
SPIKE_FACTOR = 5.0
SPEND_CAP_UTC_HOUR = 14

_WEEKDAY = np.array(
    [
        0.12,
        0.10,
        0.08,
        0.08,
        0.08,
        0.10,
        0.18,
        0.35,
        0.75,
        1.15,
        1.30,
        1.30,
        0.95,
        1.05,
        1.30,
        1.35,
        1.30,
        1.10,
        0.75,
        0.50,
        0.38,
        0.30,
        0.22,
        0.16,
    ]
)
_WEEKEND = 0.22 * _WEEKDAY + 0.06
_WEEK_MEAN = (5 * _WEEKDAY.sum() + 2 * _WEEKEND.sum()) / 168


def local_time(hour: int) -> datetime:
    """The start of absolute hour `hour` (hours since the epoch) on a Paris wall clock."""
    return datetime.fromtimestamp(hour * 3600, PARIS)


def load(hour: int) -> float:
    """Traffic in `hour` relative to the weekly mean (mean 1.0 over a week, spike aside)."""
    local = local_time(hour)
    profile = _WEEKEND if local.weekday() >= 5 else _WEEKDAY
    return float(profile[local.hour] / _WEEK_MEAN)


def is_spike_day(seed: int, hour: int) -> bool:
    """True on the one day in every 30 when a batch job sends 5x its usual traffic."""
    return (hour // 24) % SPIKE_PERIOD_DAYS == (seed * 7 + 11) % SPIKE_PERIOD_DAYS


def spend_cap_window(seed: int, hour: int) -> tuple[int, int] | None:
    """The minutes [start, end) of the hour when the spend cap blocks everything, if any.

    The spike day's overspend trips the organisation's monthly cap mid-afternoon until an
    admin raises it; rarer random hits are drawn with the other incidents.
    """
    if is_spike_day(seed, hour) and hour % 24 == SPEND_CAP_UTC_HOUR:
        return 20, 44
    return None
