"""The monthly statement: per project (or API key), spend by model, requests, errors, and the change from last month.

Why a module of its own: the Statement page, its CSV download and the email each project's
owner gets on the 1st (alerts/_statement.py) must show the very same figures, so they all
come from `statement()`. Months are calendar months in the configured time zone, like budget
periods. Conventions are the dashboard's (ledger.queries): spend sums priced rows only
(unpriced requests are counted apart, never as 0), requests include aggregated usage-API
rows, errors are per-request rows with status >= 400.

Money is in the statement's currency: a row priced in another currency is converted at its
UTC day's reference rate (ledger.pricing.fx), as on the dashboard, so the statement of a month equals
the dashboard's figure for it. `rate` is the latest rate used (when one other currency was
converted) and `rate_note` names every rate, its date, and any day without one: such rows are
left out of spend and counted as `unconverted_requests`, never converted at 1.0.

Example:
    >>> from datetime import UTC, datetime
    >>> from tests.builders import build_ledger
    >>> _ = build_ledger(Path("data"), n_records=800, days=2, seed=7, end=datetime(2026, 10, 2, 23, tzinfo=UTC))
    >>> s = statement(Path("data"), "2026-10", "Europe/Paris", "USD")
    >>> s.totals.loc[s.totals["project"] == "search", "requests"].item()
    277
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from foundation import periods
from foundation.money import money, signed_percent
from foundation.periods import month_days
from ledger.storage.store import list_days

from ._costs import RateUsed, conversion
from ._engine import query
from ._export import csv_bytes
from ._filters import DIMENSIONS, Filters, check_choice
from ._measures import aggregates

SCOPES = ("project", "api_key")
"""What a statement is per: a project, or an API key label (`api_key_id`)."""
LINE_COLUMNS = (
    "model",
    "currency",
    "spend",
    "previous_spend",
    "change",
    "change_pct",
    "requests",
    "errors",
    "error_rate",
    "unpriced_requests",
    "unconverted_requests",
    "previous_requests",
)
COVERAGE_COLUMNS = ("covered_from", "covered_to", "previous_covered_from", "previous_covered_to")
"""The CSV's last columns: the first and last day of each month the ledger covers (empty: none)."""
TOTAL_COLUMNS = (
    "currency",
    "spend",
    "previous_spend",
    "change",
    "change_pct",
    "requests",
    "previous_requests",
    "errors",
    "error_rate",
    "unpriced_requests",
    "unconverted_requests",
)
_SUMS = ("spend", "requests", "errors", "measured", "unpriced_requests", "unconverted_requests")


@dataclass(frozen=True, kw_only=True)
class Headline:
    """The statement's figures at the top of its page: the sum over every scope (0 without any).

    `change`: the change from the month before as `+12.5%`, None when it is no percentage
    (`new`, `no data`, `partial`, no spend before) or the month itself is not covered.
    """

    spend: float
    previous_spend: float
    requests: int
    errors: int
    change: str | None


@dataclass(frozen=True, kw_only=True)
class Statement:
    """One month's statement for every project (or API key) that had traffic in it or the month before.

    `lines`: one row per (scope, model, currency): LINE_COLUMNS. `totals`: one row per
    (scope, currency): TOTAL_COLUMNS. The scope column is named after `by` ("project" or
    "api_key"). change = spend - previous_spend; change_pct is None when last month had no spend.
    `total`: the sum of every scope (TOTAL_COLUMNS without the scope; after `only`, that one's).
    `days` / `previous_days`: the first and last local day of the month / of the month before
    that the ledger covers (from its first day to its last), None when it holds no day of it:
    such a month reads "no data", never 0; a month covered in part (the ledger starts on the
    25th) is `partial`, and a change against it reads "partial", never a percentage.
    `empty_days`: the days of the month inside the ledger's span that hold no request at all (`empty_days`).
    """

    month: str
    previous: str
    by: str
    timezone: str
    currency: str
    rate: float | None
    rate_note: str
    lines: pd.DataFrame
    totals: pd.DataFrame
    total: pd.DataFrame
    days: tuple[date, date] | None
    previous_days: tuple[date, date] | None
    empty_days: tuple[date, ...] = ()

    @property
    def covered(self) -> bool:
        return self.days is not None

    @property
    def previous_covered(self) -> bool:
        return self.previous_days is not None

    @property
    def partial(self) -> bool:
        return self.days is not None and self.days != month_days(self.month)

    @property
    def previous_partial(self) -> bool:
        return self.previous_days is not None and self.previous_days != month_days(self.previous)

    def scopes(self) -> list[str]:
        return sorted(self.totals[self.by].unique().tolist())

    @property
    def headline(self) -> Headline:
        if self.total.empty:
            return Headline(spend=0.0, previous_spend=0.0, requests=0, errors=0, change=None)
        total = self.total.iloc[0]
        text = change_text(total, self) if self.covered else None
        return Headline(
            spend=float(total["spend"]),
            previous_spend=float(total["previous_spend"]),
            requests=int(total["requests"]),
            errors=int(total["errors"]),
            change=text if text is not None and text.endswith("%") else None,
        )

    def only(self, name: str) -> Statement:
        """The statement of one project (or key)."""

        def pick(df: pd.DataFrame) -> pd.DataFrame:
            return df[df[self.by] == name].reset_index(drop=True)

        totals = pick(self.totals)
        return replace(self, lines=pick(self.lines), totals=totals, total=totals.drop(columns=[self.by]))


def month_window(month: str, timezone: str) -> Filters:
    """The whole calendar month `YYYY-MM` in `timezone`."""
    first, last = month_days(month)
    return Filters(start=first, end=last, timezone=timezone)


def previous_month(month: str) -> str:
    return periods.previous_month(month)


def rate_note(currency: str, used: list[RateUsed] | None = None) -> str:
    """What was converted, at which rates (with their dates), and which days had no rate."""
    if not used:
        return f"no conversion applied: every amount was priced in {currency.upper()}"
    return "; ".join(_one_note(u) for u in used)


def _one_note(used: RateUsed) -> str:
    pair = f"{used.currency} to {used.target}"
    if used.rate is None or used.rate_date is None:
        text = f"{pair}: no rate on any day"
    else:
        text = f"{pair} at each day's reference rate, {used.rate:.4f} on {used.rate_date.isoformat()}"
        if used.low is not None and used.high is not None and used.high != used.low:
            text += f" (from {used.low:.4f} to {used.high:.4f} over {used.days} days)"
    if used.missing_days:
        days = ", ".join(d.isoformat() for d in used.missing_days[:5]) + (" ..." if len(used.missing_days) > 5 else "")
        text += (
            f"; missing rate on {days}: {used.missing_requests} requests "
            f"({money(used.missing_cost, used.currency, style='unit')}) left out"
        )
    return text


def _select(by: str, currency: str) -> str:
    sums = aggregates(
        spend="spend",
        requests="requests",
        errors="errors",
        measured="measured_requests",
        unpriced_requests="unpriced_requests",
        unconverted_requests="unconverted_requests",
    )
    return f"""SELECT {DIMENSIONS[by]} AS scope, model, '{currency}' AS currency, timestamp >= ? AS this_month,
        {sums} FROM rows GROUP BY ALL"""


def _sums(data_dir: Path, month: str, timezone: str, by: str, currency: str) -> pd.DataFrame:
    """Per (scope, model) in `currency`: this month's sums and last month's spend and requests."""
    this, last = month_window(month, timezone), month_window(previous_month(month), timezone)
    window = this.with_window(last.start_at, this.end_at)
    df = query(data_dir, window, _select(by, currency), [this.start_at], currency=currency)
    keys = ["scope", "model", "currency"]
    if df is None or df.empty:
        return pd.DataFrame(columns=[*keys, *_SUMS, "previous_spend", "previous_requests"])
    now = df[df["this_month"]].groupby(keys, as_index=False)[list(_SUMS)].sum()
    before = df[~df["this_month"]].groupby(keys, as_index=False)[["spend", "requests"]].sum()
    before = before.rename(columns={"spend": "previous_spend", "requests": "previous_requests"})
    out = now.merge(before, on=keys, how="outer")
    fill = {c: 0 for c in [*_SUMS, "previous_spend", "previous_requests"]}
    out = out.fillna(fill).infer_objects()
    return out.astype(
        {
            c: "int64"
            for c in (
                "requests",
                "errors",
                "measured",
                "unpriced_requests",
                "unconverted_requests",
                "previous_requests",
            )
        }
    )


def _derive(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["change"] = df["spend"] - df["previous_spend"]
    df["change_pct"] = (100.0 * df["change"] / df["previous_spend"]).where(df["previous_spend"] > 0)
    df["error_rate"] = (df["errors"] / df["measured"]).where(df["measured"] > 0)
    return df


def statement(data_dir: Path, month: str, timezone: str, currency: str, by: str = "project") -> Statement:
    """The statement of `month` (YYYY-MM, in `timezone`) per `by` ("project" or "api_key")."""
    check_choice("statement scope", by, SCOPES)
    currency = check_currency(currency)
    sums = _sums(Path(data_dir), month, timezone, by, currency)
    lines = _derive(sums).rename(columns={"scope": by})
    lines = lines.sort_values([by, "spend", "model"], ascending=[True, False, True], ignore_index=True)
    grouped = sums.groupby(["scope", "currency"], as_index=False)
    totals = _derive(grouped[[*_SUMS, "previous_spend", "previous_requests"]].sum()).rename(columns={"scope": by})
    totals = totals.sort_values([by, "currency"], ignore_index=True)
    total = _derive(sums.groupby(["currency"], as_index=False)[[*_SUMS, "previous_spend", "previous_requests"]].sum())
    used = conversion(Path(data_dir), month_window(month, timezone), currency)
    rate = used[0].rate if len(used) == 1 else None
    days = list_days(Path(data_dir))
    return Statement(
        month=month,
        previous=previous_month(month),
        by=by,
        timezone=timezone,
        currency=currency,
        rate=rate,
        rate_note=rate_note(currency, used),
        lines=lines[[by, *LINE_COLUMNS]],
        totals=totals[[by, *TOTAL_COLUMNS]],
        total=total[list(TOTAL_COLUMNS)],
        days=covered_days(days, month, timezone),
        previous_days=covered_days(days, previous_month(month), timezone),
        empty_days=empty_days(days, month),
    )


def statement_months(data_dir: Path, current: str) -> list[str]:
    """The months (YYYY-MM) holding a ledger day, newest first, always with `current` (this month)."""
    found = {f"{day:%Y-%m}" for day in list_days(Path(data_dir))}
    return sorted(found | {current}, reverse=True)


def covers(days: list[date], month: str, timezone: str) -> bool:
    """Whether the ledger holds a UTC day partition that overlaps `month` in `timezone`."""
    window = month_window(month, timezone)
    first = window.start_at.astimezone(UTC).date()
    last = (window.end_at - timedelta(microseconds=1)).astimezone(UTC).date()
    return any(first <= day <= last for day in days)


def covered_days(days: list[date], month: str, timezone: str) -> tuple[date, date] | None:
    """The first and last local day of `month` the ledger covers, from its first UTC day to its last
    (None when no day of the ledger overlaps the month: `covers`).

    Why the ledger's ends and not each day: a quiet day holds no request, and is still covered.

    Example:
        >>> covered_days([date(2026, 9, 25), date(2026, 10, 3)], "2026-09", "UTC")
        (datetime.date(2026, 9, 25), datetime.date(2026, 9, 30))
    """
    if not days or not covers(days, month, timezone):
        return None
    zone = ZoneInfo(timezone)
    first, last = month_days(month)
    start = datetime.combine(min(days), time(), UTC).astimezone(zone).date()
    end = (datetime.combine(max(days) + timedelta(days=1), time(), UTC) - timedelta(microseconds=1)).astimezone(zone)
    return max(first, start), min(last, end.date())


def empty_days(days: list[date], month: str) -> tuple[date, ...]:
    """The days of `month` between the ledger's first day and its last (its UTC day partitions) that hold no
    request: a quiet day, or one the collector did not collect (down, or its source failing). The statement
    names them, since its spend is only what the ledger holds; a month's days are taken as UTC days.

    Example:
        >>> empty_days([date(2026, 9, 28), date(2026, 10, 1), date(2026, 10, 4)], "2026-10")
        (datetime.date(2026, 10, 2), datetime.date(2026, 10, 3))
    """
    if not days:
        return ()
    first, last = month_days(month)
    held = set(days)
    span = range((max(first, min(days)) - first).days, (min(last, max(days)) - first).days + 1)
    return tuple(d for d in (first + timedelta(days=i) for i in span) if d not in held)


def empty_days_text(days: tuple[date, ...], shown: int = 5) -> str:
    """`2026-10-02, 2026-10-03` (the first `shown`, then `and 4 more`)."""
    more = f" and {len(days) - shown} more" if len(days) > shown else ""
    return ", ".join(d.isoformat() for d in days[:shown]) + more


def coverage_text(days: tuple[date, date] | None) -> str:
    """`2026-09-25 to 2026-09-30`: the days a month is covered (`Statement.days`; `no day` when none)."""
    return "no day" if days is None else f"{days[0].isoformat()} to {days[1].isoformat()}"


NO_DATA = "no data"
"""A month the ledger does not cover: its figures are unknown, not 0."""
NEW = "new"
"""A project, key or model with no request in the month before."""
PARTIAL = "partial"
"""A change against a month the ledger covers only in part: no percentage of a few days' spend."""
UNPRICED = "unpriced"
"""A line whose every request had no price: its spend is unknown, not $0.00."""


def change_text(row: pd.Series, stmt: Statement, digits: int = 1) -> str:
    """The change from last month in words: `+12.5%`, `new`, `no data`, `partial` (last month is
    covered in part: `Statement.previous_days`), or `no spend in 2026-09`."""
    if not stmt.previous_covered:
        return NO_DATA
    if not row["previous_requests"] > 0:
        return NEW
    if stmt.previous_partial:
        return PARTIAL
    if not row["previous_spend"] > 0:
        return f"no spend in {stmt.previous}"
    return signed_percent(float(row["change_pct"]), digits)


def _change_money(row: pd.Series, stmt: Statement) -> str:
    """The change in money (`-$19.95`), `partial` against a month covered in part (as its percentage)."""
    return PARTIAL if change_text(row, stmt) == PARTIAL else money(float(row["change"]), stmt.currency, cents=True)


def _count(value: object) -> str:
    return f"{int(value):,}"  # type: ignore[call-overload]


def readable(stmt: Statement, frame: pd.DataFrame, total_label: str = "Total") -> pd.DataFrame:
    """A statement table for people: headers in words, money in the statement's currency with 2
    decimals (`unpriced` where no request had a price), `new` / `no data` for the change, and a
    last row adding up the table.

    `frame` is `stmt.totals` or `stmt.lines` (a scope column may hold labels instead of ids);
    the total row is `stmt.total`. The CSV keeps the machine columns (`statement_csv`).
    """
    cur, by = stmt.currency, stmt.by
    keys = [c for c in (by, "model") if c in frame.columns]
    total = stmt.total.assign(**{keys[0]: total_label}, **{k: "" for k in keys[1:]})
    rows = pd.concat([frame, total], ignore_index=True) if not frame.empty else total
    spend = lambda v: money(float(v), cur, cents=True) if stmt.covered else NO_DATA  # noqa: E731
    before = lambda v: money(float(v), cur, cents=True) if stmt.previous_covered else NO_DATA  # noqa: E731
    change = lambda r: _change_money(r, stmt) if stmt.previous_covered and stmt.covered else NO_DATA  # noqa: E731
    out = pd.DataFrame({HEADERS.get(k, k): rows[k].astype(str) for k in keys})
    out[f"Spend {stmt.month}"] = (
        rows["spend"]
        .map(spend)
        .mask((rows["requests"] > 0) & (rows["unpriced_requests"] >= rows["requests"]), UNPRICED)
    )
    out[f"Spend {stmt.previous}"] = rows["previous_spend"].map(before)
    out["Change"] = rows.apply(change, axis=1) if not rows.empty else []
    out["Change %"] = rows.apply(lambda r: change_text(r, stmt) if stmt.covered else NO_DATA, axis=1)
    out["Requests"] = rows["requests"].map(_count)
    out["Errors"] = rows["errors"].map(_count)
    out["Error rate"] = rows["error_rate"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.2%}")
    out["Requests without a price"] = rows["unpriced_requests"].map(_count)
    out["Requests without a rate"] = rows["unconverted_requests"].map(_count)
    return out


HEADERS = {"project": "Project", "api_key": "API key", "model": "Model"}


def check_currency(currency: str) -> str:
    """An ISO 4217 code, upper case; ValueError naming the fix (it goes into SQL as a literal)."""
    code = currency.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"currency {currency!r} is not a 3-letter code; use e.g. USD or EUR")
    return code


def statement_frame(stmt: Statement) -> pd.DataFrame:
    """The statement's lines as one table for a download: month, scope, model, figures, rate, and
    the days each month covers (COVERAGE_COLUMNS, ISO dates, empty when none).

    `change_pct` is empty against a month covered in part, as against one with no spend: a
    percentage of a few days' spend is no change (`change` and both spends stay, in full)."""
    frame = stmt.lines.copy()
    frame.insert(0, "month", stmt.month)
    frame["previous_month"] = stmt.previous
    frame["rate"] = "none" if stmt.rate is None else stmt.rate
    frame["rate_note"] = stmt.rate_note
    if stmt.previous_partial:
        frame["change_pct"] = float("nan")
    ends = (*(stmt.days or ("", "")), *(stmt.previous_days or ("", "")))
    for column, day in zip(COVERAGE_COLUMNS, ends, strict=True):
        frame[column] = day.isoformat() if isinstance(day, date) else ""
    return frame


def statement_csv(stmt: Statement) -> bytes:
    """The statement's lines as CSV, text cells neutralised against formula injection."""
    return csv_bytes(statement_frame(stmt))
