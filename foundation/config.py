"""The product's config: one TOML file read into small frozen value objects.

Why strict: a typo in a key silently falling back to a default is how a monitor ends up
watching nothing. Every table is declared once as `Setting`s (foundation.settings) and every
problem raises one ConfigError naming the key path and the fix; the CLIs turn it into one
line and exit code 2. Secrets never live here: a source names the *environment variable*
holding its token (`token_env`). `[alerts]`, `[smtp]` and `[gateway]` belong to their
components, which validate them with the same `Setting`s (they are passed through in
`Config.sections`).

Example:
    >>> source = {"name": "simulator", "kind": "usage_endpoint", "url": "http://127.0.0.1:8765/"}
    >>> parse_config({"sources": [source]}, base=Path(".")).sources[0].url
    'http://127.0.0.1:8765'
    >>> parse_config({"sources": [{**source, "page_limit": True}]}, base=Path("."))
    Traceback (most recent call last):
    foundation.errors.ConfigError: sources[0].page_limit: expected an integer, got true; write e.g. page_limit = 10000
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .settings import Setting, load_toml, validate

__all__ = [
    "CURRENCIES",
    "PRICINGS",
    "SOURCE_KINDS",
    "Config",
    "FxConfig",
    "PriceOverride",
    "SourceConfig",
    "default_config",
    "load_config",
    "parse_config",
    "simulator_port",
]

DEFAULT_PORT = 8765
CURRENCIES = ("USD", "EUR")
PRICINGS = ("list", "billed")
MIB = 1024 * 1024
# Each source kind and the extra keys it accepts (kept in SourceConfig.options, checked by its provider).
SOURCE_KINDS: dict[str, frozenset[str]] = {
    "usage_endpoint": frozenset(),
    "mistral_admin": frozenset({"auth", "workspace_id", "api_zone", "previous_month_days", "usage_every_seconds"}),
    "openai_usage": frozenset({"bucket_width", "trailing_days"}),
    "anthropic_usage": frozenset({"bucket_width", "trailing_days", "anthropic_version"}),
}
PASSTHROUGH = ("alerts", "smtp", "budgets", "gateway", "reconcile")
"""Sections owned by other components; kept unparsed in `Config.sections`."""


def http_url(url: str) -> str:
    """An http(s) URL without credentials or query, else ValueError saying how to write it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL; write e.g. 'http://127.0.0.1:8765'")
    if parts.username or parts.password or parts.query:
        raise ValueError("no credentials or query in the URL; put the token in the env var of token_env")
    return url


def time_zone(name: str) -> str:
    """An IANA time zone name, else ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name like 'Europe/Paris'") from None
    return name


def _day(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _source_kind(value: str) -> str:
    if value not in SOURCE_KINDS:
        raise ValueError(f"unknown kind {value!r}; use one of {', '.join(sorted(SOURCE_KINDS))}")
    return value


def _pricing(value: str) -> str:
    if value not in PRICINGS:
        raise ValueError(f"{value!r} is not known; use 'list' (published prices) or 'billed' (your sheet)")
    return value


def _currency_code(value: str) -> str:
    if len(value) != 3 or not value.isalpha():
        raise ValueError(f"{value!r} is not a currency code; use 3 letters like USD")
    return value.upper()


TOP: tuple[Setting, ...] = (
    Setting(
        name="data_dir",
        kind=str,
        default="data",
        help="The ledger's directory (parquet files, cursors, state); relative to the config file.",
    ),
    Setting(
        name="timezone",
        kind=str,
        default="UTC",
        check=time_zone,
        help="IANA time zone of budgets, statements and the dashboard's days, e.g. 'Europe/Paris'.",
    ),
    Setting(
        name="currency",
        kind=str,
        default="USD",
        check=str.upper,
        choices=CURRENCIES,
        help="The currency Mistral bills your Organisation in (USD or EUR); costs are priced in it.",
    ),
    Setting(name="dashboard_url", kind=str, help="The dashboard's address, for links in alert emails and posts."),
    Setting(
        name="pricing",
        kind=str,
        default="list",
        check=_pricing,
        help="'list' (published prices) or 'billed' (your Admin API price sheet, month by month).",
    ),
    Setting(
        name="derive_eur_from_usd",
        kind=bool,
        default=False,
        help="Price EUR rows the docs lack as USD times the dated reference rate (marked as derived).",
    ),
    Setting(name="sources", kind=list, default=[], help="[[sources]]: the usage sources the collector polls."),
    Setting(name="prices", kind=list, default=[], help="[[prices]]: your own prices, winning over list prices."),
    Setting(name="compaction", kind=dict, default={}, help="[compaction]: when closed days are compacted."),
    Setting(name="collector", kind=dict, default={}, help="[collector]: the timestamp window records must fit."),
    Setting(name="fx", kind=dict, default={}, help="[fx]: where reference rates come from, and rate overrides."),
)
SOURCE: tuple[Setting, ...] = (
    Setting(name="name", kind=str, required=True, help="The source's unique name; it keys the ledger's rows."),
    Setting(
        name="kind",
        kind=str,
        required=True,
        check=_source_kind,
        help="usage_endpoint, mistral_admin, openai_usage or anthropic_usage.",
    ),
    Setting(
        name="url",
        kind=str,
        required=True,
        check=lambda url: http_url(url.rstrip("/")),
        help="The source's base URL, e.g. 'http://127.0.0.1:8765'; no credentials in it.",
    ),
    Setting(name="poll_seconds", kind=int, default=60, low=5, high=86_400, help="Seconds between two polls."),
    Setting(name="token_env", kind=str, help="Name of the environment variable holding the source's token."),
    Setting(name="page_limit", kind=int, default=10_000, low=1, high=10_000, help="Records asked per request."),
    Setting(name="timeout_seconds", kind=float, default=30.0, help="Timeout of one HTTP request, in seconds."),
    Setting(
        name="max_requests_per_second",
        kind=float,
        default=20.0,
        help="Client-side rate limit of requests to this source.",
    ),
    Setting(
        name="max_retries",
        kind=int,
        default=5,
        low=0,
        high=20,
        help="Retries on connect errors, timeouts, 429 and 5xx (full jitter, honours Retry-After).",
    ),
    Setting(name="enabled", kind=bool, default=True, help="false: the source is configured but not polled."),
    Setting(
        name="max_pages_per_poll",
        kind=int,
        default=1000,
        low=1,
        high=10_000_000,
        help="A poll stops after this many pages (logs poll_capped); the next poll goes on.",
    ),
    Setting(
        name="max_page_bytes",
        kind=int,
        default=64 * MIB,
        low=1024,
        high=4096 * MIB,
        help="A bigger page body (after decompression) fails the poll and nothing of it is stored.",
    ),
)
COMPACTION = (Setting(name="hour_utc", kind=int, default=2, low=0, high=23, help="UTC hour of the daily compaction."),)
COLLECTOR: tuple[Setting, ...] = (
    Setting(
        name="max_record_age_days",
        kind=int,
        default=400,
        low=1,
        high=36_500,
        help="Records older than this many days are quarantined, not stored.",
    ),
    Setting(
        name="max_future_skew_seconds",
        kind=int,
        default=300,
        low=0,
        high=31_536_000,
        help="Records timestamped further in the future than this are quarantined.",
    ),
)
FX: tuple[Setting, ...] = (
    Setting(name="url", kind=str, check=http_url, help="Where reference rates are fetched (ECB CSV); none = never."),
    Setting(name="every_hours", kind=int, default=6, low=1, high=168, help="Hours between two rate fetches."),
    Setting(name="max_retries", kind=int, default=3, low=0, high=20, help="Retries of one rate fetch."),
    Setting(
        name="timeout_seconds",
        kind=float,
        default=30.0,
        above=0,
        high=600,
        help="Timeout of one rate fetch, in seconds.",
    ),
    Setting(name="rates", kind=list, default=[], help="[[fx.rates]]: rate overrides, winning over fetched rates."),
)
FX_RATE: tuple[Setting, ...] = (
    Setting(name="date", kind=object, required=True, check=_day, help="The day the rate is for (YYYY-MM-DD)."),
    Setting(name="currency", kind=str, required=True, check=_currency_code, help="3-letter currency code, e.g. USD."),
    Setting(name="per_eur", kind=float, required=True, above=0, help="Units of the currency per 1 EUR."),
)
PRICE: tuple[Setting, ...] = (
    Setting(name="model", kind=str, required=True, help="The model id the price is for."),
    Setting(
        name="effective_from",
        kind=object,
        default=date(2000, 1, 1),
        check=_day,
        help="The first day the price applies (YYYY-MM-DD).",
    ),
    Setting(name="input_per_1m", kind=float, required=True, low=0, help="Price of 1M input tokens."),
    Setting(name="output_per_1m", kind=float, default=0.0, low=0, help="Price of 1M output tokens."),
    Setting(
        name="cached_input_per_1m",
        kind=float,
        low=0,
        help="Price of 1M cached input tokens (default: the ledger's share of the input price).",
    ),
)
SETTINGS: dict[str, tuple[Setting, ...]] = {
    "": TOP,
    "sources[]": SOURCE,
    "prices[]": PRICE,
    "compaction": COMPACTION,
    "collector": COLLECTOR,
    "fx": FX,
    "fx.rates[]": FX_RATE,
}
"""Every table of this module, by where it sits in the file (for docs and tests)."""


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """One polled source. `options` carries kind-specific keys (e.g. the admin API's)."""

    name: str
    kind: str
    url: str
    poll_seconds: int = 60
    token_env: str | None = None
    page_limit: int = 10_000
    timeout_seconds: float = 30.0
    max_requests_per_second: float = 20.0
    max_retries: int = 5
    enabled: bool = True
    max_pages_per_poll: int = 1000
    max_page_bytes: int = 64 * MIB
    options: dict[str, Any] = field(default_factory=dict)

    def token(self) -> str | None:
        """The secret from the environment, or ConfigError naming the variable."""
        if self.token_env is None:
            return None
        value = os.environ.get(self.token_env)
        if not value:
            raise ConfigError(
                f"sources.{self.name}.token_env: environment variable {self.token_env} is not set; "
                f"export it or remove token_env"
            )
        return value


@dataclass(frozen=True, kw_only=True)
class FxConfig:
    """`[fx]`: where the collector fetches reference rates (none = never) and rate overrides.

    `overrides` are (date, currency, units per 1 EUR), e.g. `[[fx.rates]] date = 2026-11-27,
    currency = "USD", per_eur = 1.0563`; they win over fetched and seed rates (ledger.fx).
    """

    url: str | None = None
    every_hours: int = 6
    max_retries: int = 3
    timeout_seconds: float = 30.0
    overrides: tuple[tuple[date, str, float], ...] = ()


@dataclass(frozen=True, kw_only=True)
class PriceOverride:
    """One `[[prices]]` entry, in the config's currency; the ledger turns it into a price row.

    `cached_input_per_1m` None means "not given": the ledger applies its cached-input share.
    """

    model: str
    effective_from: date
    currency: str
    input_per_1m: float
    output_per_1m: float = 0.0
    cached_input_per_1m: float | None = None
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class Config:
    data_dir: Path
    timezone: str = "UTC"
    currency: str = "USD"
    dashboard_url: str | None = None
    sources: tuple[SourceConfig, ...] = ()
    price_overrides: tuple[PriceOverride, ...] = ()
    pricing: str = "list"
    derive_eur_from_usd: bool = False
    compaction_hour_utc: int = 2
    sections: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    max_record_age_days: int = 400
    max_future_skew_seconds: int = 300
    fx: FxConfig = field(default_factory=FxConfig)


def simulator_port() -> int:
    """`$SIMULATOR_PORT` (where the demo started the simulator), else 8765."""
    raw = os.environ.get("SIMULATOR_PORT", "")
    if not raw:
        return DEFAULT_PORT
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 65535):
        raise ConfigError(f"SIMULATOR_PORT: {raw[:20]!r} is not a TCP port; use 1..65535 or unset it")
    return int(raw)


def default_config() -> Config:
    """The embedded default: the simulator's usage endpoint and Admin API, the ledger in `$DATA_DIR`,
    else `data` in the current directory (so an installed package works from anywhere)."""
    simulator = f"http://127.0.0.1:{simulator_port()}"
    return Config(
        data_dir=Path(os.environ.get("DATA_DIR") or Path("data").absolute()),
        timezone=os.environ.get("MONITOR_TIMEZONE", "UTC"),
        dashboard_url="http://localhost:8501",
        sources=(
            SourceConfig(name="simulator", kind="usage_endpoint", url=simulator),
            SourceConfig(name="simulator_admin", kind="mistral_admin", url=simulator, poll_seconds=300),
        ),
    )


def load_config(path: Path | None = None) -> Config:
    """Read a TOML config; None = `$MONITOR_CONFIG` if set, else the embedded default."""
    if path is None:
        env = os.environ.get("MONITOR_CONFIG")
        if not env:
            return default_config()
        path = Path(env)
    return parse_config(load_toml(path), base=path.parent, path=path)


def parse_config(raw: dict[str, Any], base: Path, path: Path | None = None) -> Config:
    """Validate a parsed TOML document into a Config; relative paths are relative to `base`."""
    top = validate(raw, TOP, sections=PASSTHROUGH)
    data_dir = Path(top["data_dir"])
    sources = tuple(_source(s, i) for i, s in enumerate(top["sources"]))
    _unique_names(sources)
    collector = validate(top["collector"], COLLECTOR, "collector")
    return Config(
        data_dir=data_dir if data_dir.is_absolute() else (base / data_dir).resolve(),
        timezone=top["timezone"],
        currency=top["currency"],
        dashboard_url=top["dashboard_url"],
        sources=sources,
        price_overrides=tuple(_price(p, i, top["currency"]) for i, p in enumerate(top["prices"])),
        pricing=top["pricing"],
        derive_eur_from_usd=top["derive_eur_from_usd"],
        compaction_hour_utc=validate(top["compaction"], COMPACTION, "compaction")["hour_utc"],
        sections={k: raw[k] for k in PASSTHROUGH if k in raw},
        path=path,
        max_record_age_days=collector["max_record_age_days"],
        max_future_skew_seconds=collector["max_future_skew_seconds"],
        fx=_fx(top["fx"]),
    )


def _fx(raw: dict[str, Any]) -> FxConfig:
    values = validate(raw, FX, "fx")
    rates = tuple(_fx_rate(r, i) for i, r in enumerate(values.pop("rates")))
    return FxConfig(**values, overrides=rates)


def _fx_rate(raw: Any, index: int) -> tuple[date, str, float]:
    values = validate(_table(raw, f"fx.rates[{index}]", "[[fx.rates]]"), FX_RATE, f"fx.rates[{index}]")
    return values["date"], values["currency"], values["per_eur"]


def _table(raw: Any, where: str, header: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table ({header}); fix the entry")
    return raw


def _source(raw: Any, index: int) -> SourceConfig:
    where = f"sources[{index}]"
    table = _table(raw, where, "[[sources]]")
    kind = SOURCE[1].parse(table["kind"], f"{where}.kind") if "kind" in table else None
    values = validate(table, SOURCE, where, sections=SOURCE_KINDS.get(kind or "", ()))
    options = {k: v for k, v in table.items() if k not in values}
    return SourceConfig(**values, options=options)


def _unique_names(sources: tuple[SourceConfig, ...]) -> None:
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise ConfigError(f"sources: name {source.name!r} is used twice; names key the ledger, make them unique")
        seen.add(source.name)


def _price(raw: Any, index: int, currency: str) -> PriceOverride:
    where = f"prices[{index}]"
    values = validate(_table(raw, where, "[[prices]]"), PRICE, where)
    return PriceOverride(**values, currency=currency, source=f"config override {where}")
