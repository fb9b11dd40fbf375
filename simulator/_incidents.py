"""When things go wrong in an hour: throttling bursts, spend-cap hits, 5xx outages, a runaway key.

Why windows drawn per hour: an incident is a stretch of minutes during which many requests
fail together, which is what the throttling and error-rate views must show. Windows never
leave their hour, so an hour's records stay a pure function of (seed, hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ._catalog import KEY_IDS, KEYS, MODELS
from ._profile import spend_cap_window

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
THROTTLE_PER_KEY_HOUR = 0.04  # at mean load; scaled by the hour's load
THROTTLE_FAIL_SHARE = 0.75
SPEND_CAP_PER_HOUR = 1 / 200
OUTAGE_PER_MODEL_HOUR = 0.01
OUTAGE_FAIL_SHARE = 0.6
OUTAGE_STATUSES = np.array([500, 502, 503])
BACKGROUND = ((400, 0.003), (401, 0.0005), (422, 0.003))


@dataclass(frozen=True, kw_only=True)
class Incidents:
    """Per-key throttling, per-model outage and org-wide spend-cap windows, in epoch ms."""

    throttle: np.ndarray  # (len(KEYS), 2) start, end; end == start means none
    outage: np.ndarray  # (len(MODELS), 2)
    outage_status: np.ndarray  # (len(MODELS),)
    spend_cap: tuple[int, int]  # start == end means none


def _windows(rng: np.random.Generator, count: int, chance: float, hour_ms: int) -> np.ndarray:
    """`count` windows of 1-8 minutes inside the hour, each present with `chance`."""
    start = hour_ms + rng.integers(0, 55, count) * MINUTE_MS
    length = rng.integers(1, 9, count) * MINUTE_MS
    present = rng.random(count) < chance
    end = np.minimum(start + length * present, hour_ms + HOUR_MS)
    return np.stack([start, end], axis=1)


def _spend_cap(rng: np.random.Generator, seed: int, hour: int) -> tuple[int, int]:
    hour_ms = hour * HOUR_MS
    fixed = spend_cap_window(seed, hour)
    drawn = rng.random() < SPEND_CAP_PER_HOUR
    first, length = int(rng.integers(0, 45)), int(rng.integers(5, 16))
    if fixed is not None:
        first, length = fixed[0], fixed[1] - fixed[0]
    elif not drawn:
        length = 0
    return hour_ms + first * MINUTE_MS, hour_ms + (first + length) * MINUTE_MS


def draw_incidents(rng: np.random.Generator, seed: int, hour: int, load: float) -> Incidents:
    """This hour's incident windows; a busier hour gets throttled more often."""
    hour_ms = hour * HOUR_MS
    throttle = _windows(rng, len(KEYS), min(0.6, THROTTLE_PER_KEY_HOUR * load), hour_ms)
    outage = _windows(rng, len(MODELS), OUTAGE_PER_MODEL_HOUR, hour_ms)
    statuses = rng.choice(OUTAGE_STATUSES, len(MODELS), p=[0.3, 0.3, 0.4])
    return Incidents(throttle=throttle, outage=outage, outage_status=statuses, spend_cap=_spend_cap(rng, seed, hour))


def _inside(ts: np.ndarray, windows: np.ndarray) -> np.ndarray:
    return (ts >= windows[:, 0]) & (ts < windows[:, 1])


def assign_status(
    rng: np.random.Generator, inc: Incidents, ts: np.ndarray, key: np.ndarray, model: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """HTTP status and spend-cap flag of each request; later causes override earlier ones."""
    n = len(ts)
    status = np.full(n, 200, dtype=np.int64)
    draw = rng.random(n)
    floor = 0.0
    for code, share in BACKGROUND:
        status[(draw >= floor) & (draw < floor + share)] = code
        floor += share
    down = _inside(ts, inc.outage[model]) & (rng.random(n) < OUTAGE_FAIL_SHARE)
    status[down] = inc.outage_status[model][down]
    throttled = _inside(ts, inc.throttle[key]) & (rng.random(n) < THROTTLE_FAIL_SHARE)
    status[throttled] = 429
    capped = (ts >= inc.spend_cap[0]) & (ts < inc.spend_cap[1])
    status[capped] = 429
    return status, capped


RUNAWAY_FACTOR = 20.0
RUNAWAY_MINUTES = 60


@dataclass(frozen=True, kw_only=True)
class Runaway:
    """One key sending `factor` times its usual requests for `minutes` from `start_ms` (epoch ms):
    a retry loop or a leaked key. Only the hours it touches change; every other hour is the same.

    Example:
        >>> Runaway.parse("key_9e0f4c88@2026-11-20T10:00:00+00:00").key
        4
    """

    key: int
    start_ms: int
    factor: float = RUNAWAY_FACTOR
    minutes: int = RUNAWAY_MINUTES

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.minutes * MINUTE_MS

    @classmethod
    def parse(cls, text: str) -> Runaway:
        """`KEY@WHEN`: a key fingerprint of the simulator and an ISO 8601 instant with its offset."""
        key, _, when = text.partition("@")
        if key not in KEY_IDS:
            raise ValueError(f"runaway: key {key!r} is not a simulator key; use one of {', '.join(KEY_IDS)}")
        try:
            start = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            start = None
        if start is None or start.tzinfo is None:
            raise ValueError(
                f"runaway: {when!r} is not an ISO instant with an offset; write e.g. {key}@2026-11-20T10:00Z"
            )
        return cls(key=KEY_IDS.index(key), start_ms=int(start.timestamp() * 1000))

    def overlap(self, hour: int) -> tuple[int, int] | None:
        """The [start, end) epoch ms of the runaway inside absolute hour `hour`, if any."""
        low, high = max(self.start_ms, hour * HOUR_MS), min(self.end_ms, (hour + 1) * HOUR_MS)
        return (low, high) if high > low else None
