"""Usage per scope (organisation, project, API key, model) for the anomaly rule: the last hour
(or day) against the same window of the week in each of the last 4 weeks.

Why windows ending at `now` and "the same hour of the week": a runaway is caught only if the
window holds its first minutes (a clock hour that started 55 minutes ago dilutes them), and
traffic has a weekly rhythm (Monday 10:00 is not Sunday 10:00). The window of week k ends at
the same local wall-clock time k weeks before.

Why cheap at 10M rows: past windows are read from the hourly rollups (whole UTC hours only,
`ledger.queries._engine.use_rollups`), weighted by how much of each hour the window covers
(traffic is taken as even within an hour, alike for every week, so the comparison stays
fair); only the current, unfinished hour is read from raw rows. One query per source, whatever
the number of keys.

Example:
    >>> from datetime import UTC, datetime
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> now = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
    >>> _ = build_ledger(Path("data"), n_records=20_000, days=30, seed=7, end=now)
    >>> org = scope_usage(Path("data"), now, "hour")[0]
    >>> org.dim, len(org.past_spend)
    (None, 4)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pandas as pd

from ledger.storage.store import list_days

from ._engine import query
from ._filters import DIMENSIONS, Filters, check_choice, zone
from ._measures import aggregates

GRAIN_HOURS = {"hour": 1, "day": 24}
WEEKS = 4
SCOPE_DIMS = ("project", "api_key", "model")
"""The dimensions watched one value at a time (the organisation is the scope with dim None)."""
_HOUR_US = 3_600_000_000


@dataclass(frozen=True, kw_only=True)
class ScopeUsage:
    """One scope's spend and requests in the current window and in each earlier week's window.

    `past_*` hold one value per earlier week whose window the ledger covers (oldest first); a
    week before the ledger's first row is no sample. `project` is, for an API key, the project
    of most of its current spend (the baseline a new key is judged against).
    """

    dim: str | None
    value: str
    spend: float
    requests: float
    past_spend: tuple[float, ...]
    past_requests: tuple[float, ...]
    project: str | None = None

    @property
    def has_history(self) -> bool:
        """Traffic in at least one earlier window: a key without any is new (judged by its project)."""
        return any(v > 0 for v in self.past_requests) or any(v > 0 for v in self.past_spend)


def window_ends(now: datetime, timezone: str, weeks: int = WEEKS) -> list[datetime]:
    """`now`, then the same local wall-clock instant 1..weeks weeks earlier (UTC)."""
    tz = zone(timezone)
    local = now.astimezone(tz).replace(tzinfo=None)
    ends = [now.astimezone(UTC)]
    for k in range(1, weeks + 1):
        ends.append((local - timedelta(days=7 * k)).replace(tzinfo=tz).astimezone(UTC))
    return ends


def _weights(ends: list[datetime], hours: int) -> list[tuple[int, int, float]]:
    """(week, slot, weight): the share of each UTC hour slot inside each week's window.

    Week 0's last slot is the unfinished hour: all of its rows so far count (weight 1).
    """
    rows = []
    for k, end in enumerate(ends):
        end_us = int(end.timestamp() * 1_000_000)
        start_us = end_us - hours * _HOUR_US
        for slot in range(start_us // _HOUR_US, (end_us - 1) // _HOUR_US + 1):
            overlap = min(end_us, (slot + 1) * _HOUR_US) - max(start_us, slot * _HOUR_US)
            weight = 1.0 if k == 0 and slot == (end_us - 1) // _HOUR_US else overlap / _HOUR_US
            rows.append((k, slot, weight))
    return rows


_SETS = {7: None, 3: "project", 5: "api_key", 6: "model", 1: "owner"}
"""grouping(project, api_key, model) of each grouping set -> what it sums (owner: key and project)."""


def _read(
    data_dir: Path, start: datetime, end: datetime, weights: list[tuple[int, int, float]], raw: bool
) -> pd.DataFrame | None:
    """Weighted spend and requests per week and scope, from the rows of [start, end) in `weights`' slots."""
    if end <= start or not weights:
        return None
    values = ", ".join(f"({slot}, {week}, {weight!r})" for week, slot, weight in weights)
    dims = ", ".join(f"{DIMENSIONS[d]} AS {d}" for d in SCOPE_DIMS)
    select = f"""SELECT w.week, grouping(project, api_key, model) AS g, project, api_key, model,
        coalesce(sum(cost * w.weight), 0) AS spend, coalesce(sum(request_count * w.weight), 0) AS requests
        FROM (SELECT {dims}, cost, request_count, epoch_us(timestamp) // {_HOUR_US} AS slot FROM rows) AS r
        JOIN (VALUES {values}) AS w(slot, week, weight) ON r.slot = w.slot
        GROUP BY GROUPING SETS ((w.week), (w.week, project), (w.week, api_key), (w.week, model),
            (w.week, api_key, project))"""
    return query(data_dir, Filters(start=start, end=end), select, raw=raw)


def first_row_at(data_dir: Path, before: datetime | None = None) -> datetime | None:
    """The ledger's earliest row, read from its first day partition only; None when it is empty.

    With `before`: when the first day ends by then, that day's start is answer enough (no query).
    """
    days = list_days(Path(data_dir))
    if not days:
        return None
    first = datetime.combine(days[0], time(), UTC)
    if before is not None and first + timedelta(days=1) <= before:
        return first
    df = query(
        data_dir, Filters(start=first, end=first + timedelta(days=1)), "SELECT min(first_at) AS first_at FROM rows"
    )
    if df is None or not len(df) or pd.isna(df["first_at"].iloc[0]):
        return None
    found: datetime = pd.Timestamp(df["first_at"].iloc[0]).to_pydatetime().astimezone(UTC)
    return found


def scope_usage(
    data_dir: Path, now: datetime, grain: str, timezone: str = "UTC", weeks: int = WEEKS
) -> list[ScopeUsage]:
    """The organisation first, then every project, API key and model seen in any window.

    `grain` "hour": the 60 minutes before `now`; "day": the 24 hours before `now`.
    """
    hours = GRAIN_HOURS[check_choice("grain", grain, list(GRAIN_HOURS))]
    now = now.astimezone(UTC)
    ends = window_ends(now, timezone, weeks)
    weights = _weights(ends, hours)
    current_slot = int(now.timestamp() * 1_000_000 - 1) // _HOUR_US
    current_hour = datetime.fromtimestamp(current_slot * 3600, UTC)
    history_start = datetime.fromtimestamp(min(slot for _, slot, _ in weights) * 3600, UTC)
    frames = [
        _read(data_dir, history_start, current_hour, [w for w in weights if w[1] < current_slot], raw=False),
        _read(data_dir, current_hour, now, [w for w in weights if w[1] == current_slot], raw=True),
    ]
    found = [f for f in frames if f is not None and len(f)]
    if not found:
        return []
    oldest = min(ends[k] for k in range(1, weeks + 1)) - timedelta(hours=hours) if weeks else now
    first = first_row_at(data_dir, before=oldest)
    valid = [k for k in range(weeks, 0, -1) if first is not None and first <= ends[k] - timedelta(hours=hours)]
    sums: dict[tuple[str | None, str], list[list[float]]] = {}
    owners: dict[str, tuple[float, float, str]] = {}
    for row in pd.concat(found, ignore_index=True).itertuples(index=False):
        kind = _SETS[int(row.g)]
        week, spend, requests = int(row.week), float(row.spend), float(row.requests)
        if kind == "owner":
            if week == 0:
                key, project = str(row.api_key), str(row.project)
                best = owners.get(key)
                if best is None or (spend, requests, project) > best:
                    owners[key] = (spend, requests, project)
            continue
        value = "" if kind is None else str(getattr(row, kind))
        cell = sums.setdefault((kind, value), [[0.0] * (weeks + 1), [0.0] * (weeks + 1)])
        cell[0][week] += spend
        cell[1][week] += requests
    order: dict[str | None, int] = {None: 0, **{d: i + 1 for i, d in enumerate(SCOPE_DIMS)}}
    return [
        ScopeUsage(
            dim=dim,
            value=value,
            spend=spend[0],
            requests=requests[0],
            past_spend=tuple(spend[k] for k in valid),
            past_requests=tuple(requests[k] for k in valid),
            project=owners[value][2] if dim == "api_key" and value in owners else None,
        )
        for (dim, value), (spend, requests) in sorted(sums.items(), key=lambda item: (order[item[0][0]], item[0][1]))
    ]


def scope_filters(dim: str | None, value: str, start: datetime, end: datetime, timezone: str) -> Filters:
    """The Filters showing one scope over [start, end) (what an alert links to)."""
    picked = {"project": "projects", "api_key": "api_keys", "model": "models"}
    dims = {picked[dim]: (value,)} if dim else {}
    return Filters(start=start, end=end, timezone=timezone, **dims)


def onset(data_dir: Path, filters: Filters, usual_per_hour: float, minutes: int = 5) -> datetime | None:
    """When the latest run above twice the usual rate began: the first of the consecutive
    `minutes` buckets, ending with the last bucket above that rate, that all spend above it
    (None when no bucket of the window does)."""
    select = f"SELECT epoch_us(timestamp) // {minutes * 60_000_000} AS b, {aggregates('spend')} FROM rows GROUP BY ALL"
    df = query(data_dir, filters, select, raw=True)
    if df is None or not len(df):
        return None
    limit = 2 * usual_per_hour * minutes / 60
    above = sorted(int(b) for b, s in zip(df["b"], df["spend"], strict=True) if float(s) > limit)
    if not above:
        return None
    start = above[-1]
    while start - 1 in above:
        start -= 1
    return datetime.fromtimestamp(start * minutes * 60, UTC)
