"""Mistral's limits against the ledger: the spend-limit gauge and rate-limit headroom.

Why beside reconciliation: both read the Admin API's latest readings (written by the
collector's `mistral_admin` source) and hold them against what the ledger measured, e.g. 429s
that coincide with `monthly_limit_reached`, or the busiest minute of a model against its
tokens-per-minute limit.

Why the readings (and the price sheets, `_prices`) are objects beside an S3 ledger (issue 21): a
dashboard, or a `pricing = "billed"` collector, on another host than the one whose `mistral_admin`
source fetched them must see them. With an s3 data_dir each file, once written, is also put whole
as the object `<data_dir>/billing/<source>/...` (`keep_beside`: it has one writer, which replaces
it whole, so a plain put is right and a conditional one would buy nothing), and readers copy
`<data_dir>/billing/` into the working folder first (`billing_files`), at most once a minute per
process (`remote.mirror_every`): these readers run on every chart and on every build of the
price book, the writer every few minutes. The billed table is at `<data_dir>/billed`, not under
`billing/`, so no Delta file is copied. Locally nothing changes.

Example:
    >>> reading = {"used": 300.0, "limit": 1000.0, "currency": "EUR"}
    >>> _ = write_reading(Path("data"), "mistral_admin", SPEND_LIMIT, reading)
    >>> spend_gauges(Path("data"), datetime(2026, 11, 16, tzinfo=UTC))[0].days_to_cap   # 20 EUR a day, 700 left
    35.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from foundation.periods import period_start
from ledger.queries import count_429s, peak_minute_tokens
from ledger.storage import remote
from ledger.storage.atomic import atomic_write_bytes

SPEND_LIMIT = "spend-limit"
RATE_LIMIT = "rate-limit"
COINCIDENCE_WINDOW = timedelta(hours=24)
BILLING = "billing"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_name(text: str) -> str:
    """`text` usable as one file-name part: never a path's `.` or `..`, never empty."""
    name = _SAFE.sub("_", text)
    return "_" * max(1, len(name)) if name.strip(".") == "" else name


def billing_dir(data_dir: Path, source: str | None = None) -> Path:
    root = Path(data_dir) / BILLING
    return root if source is None else root / safe_name(source)


def keep_beside(data_dir: Path, path: Path) -> Path:
    """`path`, a file just written under `data_dir`'s billing folder; with an s3 data_dir also put
    whole as its object beside the ledger (the same relative key)."""
    url = remote.beside(data_dir, BILLING)
    if url is not None:
        remote.put(f"{url}/{path.relative_to(billing_dir(data_dir)).as_posix()}", path.read_bytes())
    return path


def billing_files(data_dir: Path, pattern: str) -> list[Path]:
    """The files under `<data_dir>/billing` matching the glob `pattern`, sorted; with an s3 data_dir
    every host's, copied from the bucket first (at most every `remote.MIRROR_SECONDS`)."""
    root = billing_dir(data_dir)
    url = remote.beside(data_dir, BILLING)
    if url is not None:
        remote.mirror_every(url, root)
    return sorted(root.glob(pattern))


def write_reading(data_dir: Path, source: str, name: str, reading: dict[str, Any]) -> Path:
    """Keep the latest parsed spend-limit or rate-limit reading (name: 'spend-limit' | 'rate-limit');
    with an s3 data_dir also as its object beside the ledger."""
    path = atomic_write_bytes(billing_dir(data_dir, source) / f"{name}.json", orjson.dumps(reading, default=str))
    return keep_beside(data_dir, path)


def read_readings(data_dir: Path, name: str) -> dict[str, dict[str, Any]]:
    """Source -> latest reading called `name`, for every admin source that has one (on S3 every host's)."""
    out: dict[str, dict[str, Any]] = {}
    for path in billing_files(data_dir, f"*/{name}.json"):
        try:
            value = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            out[path.parent.name] = value
    return out


@dataclass(frozen=True, kw_only=True)
class SpendGauge:
    """Month-to-date usage against the monthly limit, with the days left at the current burn."""

    source: str
    used: float | None
    limit: float | None
    no_limit: bool
    reached: bool
    currency: str | None
    fetched_at: datetime | None
    burn_per_day: float | None
    days_to_cap: float | None
    recent_429s: int
    warning: str | None


@dataclass(frozen=True, kw_only=True)
class Headroom:
    """A model's busiest minute (all keys together) against its tokens-per-minute limit."""

    model: str
    peak_tokens_minute: int
    peak_at: datetime | None
    limit_tokens_minute: int | None
    headroom_pct: float | None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def gauge(source: str, reading: dict[str, Any], now: datetime, recent_429s: int) -> SpendGauge:
    """One gauge from a stored reading (see collector.providers' spend-limit parser)."""
    used, limit = _number(reading.get("used")), _number(reading.get("limit"))
    no_limit, reached = reading.get("no_limit") is True, reading.get("reached") is True
    month_start = period_start("month", now, now.tzinfo or UTC)
    elapsed_days = max((now - month_start).total_seconds() / 86_400, 1 / 24)
    burn = None if used is None else used / elapsed_days
    left = None
    if burn and limit is not None and used is not None and not no_limit:
        left = max(0.0, (limit - used) / burn)
    warning = None
    if reached and recent_429s:
        warning = (
            f"{recent_429s} requests got HTTP 429 in the last 24 h while Mistral reports "
            f"monthly_limit_reached: they fail until an admin raises the spend limit"
        )
    return SpendGauge(
        source=source,
        used=used,
        limit=limit,
        no_limit=no_limit,
        reached=reached,
        currency=reading.get("currency"),
        fetched_at=_when(reading.get("fetched_at")),
        burn_per_day=burn,
        days_to_cap=left,
        recent_429s=recent_429s,
        warning=warning,
    )


def rate_headroom(data_dir: Path, start: datetime, end: datetime, limits: dict[str, Any]) -> list[Headroom]:
    """Per model: peak tokens in one minute over [start, end) against `limits[model]['tokens_per_minute']`."""
    peaks = peak_minute_tokens(data_dir, start, end)
    out = []
    for model in sorted(set(peaks) | set(limits)):
        peak, at = peaks.get(model, (0, None))
        entry = limits.get(model)
        limit = _number(entry.get("tokens_per_minute")) if isinstance(entry, dict) else None
        pct = None if not limit else 100.0 * (limit - peak) / limit
        out.append(
            Headroom(
                model=model,
                peak_tokens_minute=peak,
                peak_at=at,
                limit_tokens_minute=None if limit is None else int(limit),
                headroom_pct=pct,
            )
        )
    return sorted(out, key=lambda h: (h.headroom_pct is None, h.headroom_pct or 0.0, h.model))


def spend_gauges(data_dir: Path, now: datetime | None = None) -> list[SpendGauge]:
    """A gauge per admin source with a spend-limit reading; 429s counted over the last 24 h."""
    now = now or datetime.now(UTC)
    recent = count_429s(data_dir, now - COINCIDENCE_WINDOW, now)
    return [gauge(src, reading, now, recent) for src, reading in read_readings(data_dir, SPEND_LIMIT).items()]


def rate_limits(data_dir: Path) -> dict[str, Any]:
    """Model -> limits, merged over every admin source's latest rate-limit reading."""
    merged: dict[str, Any] = {}
    for reading in read_readings(data_dir, RATE_LIMIT).values():
        models = reading.get("models")
        if isinstance(models, dict):
            merged.update(models)
    return merged
