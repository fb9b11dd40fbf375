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
_SELECT = (
    "SELECT epoch_us(timestamp) // 3600000000 AS slot, "
    + ", ".join(f"{DIMENSIONS[d]} AS {d}" for d in SCOPE_DIMS)
    + f", {aggregates('spend', 'requests')} FROM rows"
)


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


def _weights(ends: list[datetime], hours: int) -> pd.DataFrame:
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
    return pd.DataFrame(rows, columns=["week", "slot", "weight"])


def _read(data_dir: Path, start: datetime, end: datetime, slots: list[int], raw: bool) -> pd.DataFrame | None:
    if end <= start:
        return None
    where = f" WHERE epoch_us(timestamp) // 3600000000 IN ({', '.join(str(s) for s in slots)})" if slots else ""
    return query(data_dir, Filters(start=start, end=end), _SELECT + where + " GROUP BY ALL", raw=raw)


def first_row_at(data_dir: Path) -> datetime | None:
    """The ledger's earliest row: read from its first day partition only, None when it is empty."""
    days = list_days(Path(data_dir))
    if not days:
        return None
    first = datetime.combine(days[0], time(), UTC)
    df = query(
        data_dir, Filters(start=first, end=first + timedelta(days=1)), "SELECT min(first_at) AS first_at FROM rows"
    )
    if df is None or not len(df) or pd.isna(df["first_at"].iloc[0]):
        return None
    return pd.Timestamp(df["first_at"].iloc[0]).to_pydatetime().astimezone(UTC)


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
    current_hour = datetime.fromtimestamp((int(now.timestamp() * 1_000_000) // _HOUR_US) * 3600, UTC)
    history_start = datetime.fromtimestamp(int(weights["slot"].min()) * 3600, UTC)
    past = sorted(int(s) for s in weights["slot"] if s < int(current_hour.timestamp()) // 3600)
    frames = [
        _read(data_dir, history_start, current_hour, past, raw=False),
        _read(data_dir, current_hour, now, [], raw=True),
    ]
    found = [f for f in frames if f is not None and len(f)]
    if not found:
        return []
    df = pd.concat(found, ignore_index=True).merge(weights, on="slot")
    df["spend"] = df["spend"].astype(float) * df["weight"]
    df["requests"] = df["requests"].astype(float) * df["weight"]
    first = first_row_at(data_dir)
    valid = [k for k in range(weeks, 0, -1) if first is not None and first <= ends[k] - timedelta(hours=hours)]
    owner = _key_projects(df[df["week"] == 0])
    df["org"] = ""
    measures = ["spend", "requests"]
    columns = pd.MultiIndex.from_product([measures, range(weeks + 1)])
    out: list[ScopeUsage] = []
    for dim in ("org", *SCOPE_DIMS):
        sums = df.groupby([dim, "week"])[measures].sum().unstack("week", fill_value=0.0)
        table = sums.reindex(columns=columns, fill_value=0.0)
        spend, requests = table["spend"].to_numpy(), table["requests"].to_numpy()
        for i, value in enumerate(table.index):
            out.append(
                ScopeUsage(
                    dim=None if dim == "org" else dim,
                    value=str(value),
                    spend=float(spend[i, 0]),
                    requests=float(requests[i, 0]),
                    past_spend=tuple(float(spend[i, k]) for k in valid),
                    past_requests=tuple(float(requests[i, k]) for k in valid),
                    project=owner.get(str(value)) if dim == "api_key" else None,
                )
            )
    return out


def _key_projects(current: pd.DataFrame) -> dict[str, str]:
    """API key -> the project holding most of its current spend (then requests)."""
    if not len(current):
        return {}
    sums = current.groupby(["api_key", "project"], as_index=False)[["spend", "requests"]].sum()
    ordered = sums.sort_values(["api_key", "spend", "requests", "project"], ascending=[True, False, False, True])
    pairs = ordered.drop_duplicates("api_key")[["api_key", "project"]].itertuples(index=False)
    return {str(k): str(p) for k, p in pairs}


def scope_filters(dim: str | None, value: str, start: datetime, end: datetime, timezone: str) -> Filters:
    """The Filters showing one scope over [start, end) (what an alert links to)."""
    picked = {"project": "projects", "api_key": "api_keys", "model": "models"}
    dims = {picked[dim]: (value,)} if dim else {}
    return Filters(start=start, end=end, timezone=timezone, **dims)


def onset(data_dir: Path, filters: Filters, usual_per_hour: float, minutes: int = 5) -> datetime | None:
    """When the current run above twice the usual rate began: the first of the trailing
    `minutes` buckets of the window that all spend above it (None when the last bucket is not).
    """
    select = f"SELECT epoch_us(timestamp) // {minutes * 60_000_000} AS b, {aggregates('spend')} FROM rows GROUP BY ALL"
    df = query(data_dir, filters, select, raw=True)
    if df is None or not len(df):
        return None
    spend = dict(zip(df["b"].astype(int), df["spend"].astype(float), strict=True))
    limit = 2 * usual_per_hour * minutes / 60
    bucket = (int(filters.end_at.timestamp()) - 1) // (minutes * 60)
    first = int(filters.start_at.timestamp()) // (minutes * 60)
    start = None
    while bucket >= first and spend.get(bucket, 0.0) > limit:
        start, bucket = bucket, bucket - 1
    return None if start is None else datetime.fromtimestamp(max(start * minutes * 60, first * minutes * 60), UTC)
