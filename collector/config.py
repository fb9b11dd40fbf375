"""The collector's config: one TOML file read into small frozen value objects.

Why strict: a typo in a key silently falling back to a default is how a monitor ends up
watching nothing. Every problem raises ConfigError naming the key and the fix; the CLI turns
it into one line and exit code 2. Secrets never live here: a source names the *environment
variable* holding its token (`token_env`).

Example:
    >>> cfg = load_config(Path("collector/example.toml"))
    >>> cfg.sources[0].url
    'http://127.0.0.1:8765'
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.prices import CACHED_INPUT_SHARE, Price

from .errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8765
CURRENCIES = ("USD", "EUR")
PRICINGS = ("list", "billed")
# Each source kind and the extra keys it accepts (kept in SourceConfig.options).
SOURCE_KINDS: dict[str, frozenset[str]] = {
    "usage_endpoint": frozenset(),
    "mistral_admin": frozenset({"auth", "workspace_id", "api_zone", "previous_month_days", "usage_every_seconds"}),
    "openai_usage": frozenset({"bucket_width", "trailing_days"}),
    "anthropic_usage": frozenset({"bucket_width", "trailing_days", "anthropic_version"}),
}
_TOP_KEYS = {
    "data_dir", "timezone", "currency", "dashboard_url", "sources", "prices", "compaction", "collector", "pricing",
    "derive_eur_from_usd", "fx",
}  # fmt: skip
_FX_KEYS = {"url", "every_hours", "max_retries", "timeout_seconds", "rates"}
_COLLECTOR_KEYS = {"max_record_age_days", "max_future_skew_seconds"}
# Sections owned by other components; passed through unparsed in Config.sections.
_PASSTHROUGH = {"alerts", "smtp", "budgets", "gateway", "reconcile"}
_SOURCE_KEYS = {
    "name", "kind", "url", "poll_seconds", "token_env", "page_limit", "timeout_seconds",
    "max_requests_per_second", "max_retries", "enabled", "max_pages_per_poll", "max_page_bytes",
}  # fmt: skip
MIB = 1024 * 1024


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Config:
    data_dir: Path
    timezone: str = "UTC"
    currency: str = "USD"
    dashboard_url: str | None = None
    sources: tuple[SourceConfig, ...] = ()
    price_overrides: tuple[Price, ...] = ()
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
    """The embedded default: the simulator's usage endpoint and Admin API, the ledger in data/."""
    simulator = f"http://127.0.0.1:{simulator_port()}"
    return Config(
        data_dir=Path(os.environ.get("DATA_DIR", REPO / "data")),
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
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found; pass an existing file to --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML ({exc}); fix the syntax at that line") from None
    return parse_config(raw, base=path.parent, path=path)


def parse_config(raw: dict[str, Any], base: Path, path: Path | None = None) -> Config:
    """Validate a parsed TOML document into a Config."""
    _no_unknown(raw, _TOP_KEYS | _PASSTHROUGH, "")
    data_dir = Path(_typed(raw, "data_dir", str, "data"))
    sources = tuple(_source(s, i) for i, s in enumerate(_typed(raw, "sources", list, [])))
    _unique_names(sources)
    currency = _currency(raw)
    collector = _typed(raw, "collector", dict, {})
    _no_unknown(collector, _COLLECTOR_KEYS, "collector.")
    return Config(
        data_dir=data_dir if data_dir.is_absolute() else (base / data_dir).resolve(),
        timezone=_timezone(raw),
        currency=currency,
        dashboard_url=_typed(raw, "dashboard_url", str, None),
        sources=sources,
        price_overrides=tuple(_price(p, i, currency) for i, p in enumerate(_typed(raw, "prices", list, []))),
        pricing=_pricing(raw),
        derive_eur_from_usd=bool(_typed(raw, "derive_eur_from_usd", bool, False)),
        compaction_hour_utc=_int_range(_typed(raw, "compaction", dict, {}), "hour_utc", 2, 0, 23, "compaction."),
        sections={k: raw[k] for k in _PASSTHROUGH if k in raw},
        path=path,
        max_record_age_days=_int_range(collector, "max_record_age_days", 400, 1, 36_500, "collector."),
        max_future_skew_seconds=_int_range(collector, "max_future_skew_seconds", 300, 0, 31_536_000, "collector."),
        fx=_fx(_typed(raw, "fx", dict, {})),
    )


def _fx(raw: dict[str, Any]) -> FxConfig:
    _no_unknown(raw, _FX_KEYS, "fx.")
    url = _typed(raw, "url", str, None, "fx.")
    if url is not None:
        _check_url(url, "fx.")
    timeout = float(_typed(raw, "timeout_seconds", (int, float), 30.0, "fx."))  # type: ignore[arg-type]
    if not 0 < timeout <= 600:
        raise ConfigError(f"fx.timeout_seconds: {timeout} is out of range; use 0..600 seconds")
    rates = tuple(_fx_rate(r, i) for i, r in enumerate(_typed(raw, "rates", list, [], "fx.")))
    return FxConfig(url=url, every_hours=_int_range(raw, "every_hours", 6, 1, 168, "fx."),
                    max_retries=_int_range(raw, "max_retries", 3, 0, 20, "fx."), timeout_seconds=timeout,
                    overrides=rates)  # fmt: skip


def _fx_rate(raw: Any, index: int) -> tuple[date, str, float]:
    where = f"fx.rates[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"fx.rates[{index}]: expected a table ([[fx.rates]]); fix the entry")
    _no_unknown(raw, {"date", "currency", "per_eur"}, where)
    try:
        day = raw["date"] if isinstance(raw["date"], date) else date.fromisoformat(str(raw["date"]))
        currency, per_eur = str(raw["currency"]).upper(), float(raw["per_eur"])
    except KeyError as exc:
        raise ConfigError(f"{where}{exc.args[0]}: missing; a rate needs date, currency and per_eur") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}; use YYYY-MM-DD for date and a number for per_eur") from None
    if not per_eur > 0 or len(currency) != 3 or not currency.isalpha():
        raise ConfigError(f"{where}: {currency} {per_eur} is not a rate; use a 3-letter code and units per 1 EUR > 0")
    return day, currency, per_eur


def _typed(table: dict[str, Any], key: str, kind: type, default: Any, where: str = "") -> Any:
    value = table.get(key, default)
    if value is not default and not isinstance(value, kind):
        raise ConfigError(f"{where}{key}: expected {kind.__name__}, got {value!r}; fix its value")
    return value


def _no_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}{key}: unknown key; remove it or use one of {', '.join(sorted(known))}")


def _int_range(table: dict[str, Any], key: str, default: int, low: int, high: int, where: str) -> int:
    value = _typed(table, key, int, default, where)
    if not low <= value <= high:
        raise ConfigError(f"{where}{key}: {value} is out of range; use {low}..{high}")
    return int(value)


def _timezone(raw: dict[str, Any]) -> str:
    name = _typed(raw, "timezone", str, "UTC")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone: unknown time zone {name!r}; use an IANA name like 'Europe/Paris'") from None
    return str(name)


def _currency(raw: dict[str, Any]) -> str:
    value = str(_typed(raw, "currency", str, "USD")).upper()
    if value not in CURRENCIES:
        raise ConfigError(f"currency: {value!r} is not supported; use one of {', '.join(CURRENCIES)}")
    return value


def _pricing(raw: dict[str, Any]) -> str:
    """`list` (the published prices) or `billed` (your Admin API price sheet, month by month)."""
    value = _typed(raw, "pricing", str, "list")
    if value not in PRICINGS:
        raise ConfigError(f"pricing: {value!r} is not known; use 'list' (published prices) or 'billed' (your sheet)")
    return str(value)


def _source(raw: Any, index: int) -> SourceConfig:
    where = f"sources[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"sources[{index}]: expected a table ([[sources]]); fix the entry")
    for key in ("name", "kind", "url"):
        if key not in raw:
            raise ConfigError(f"{where}{key}: missing; every [[sources]] needs name, kind and url")
    kind = _typed(raw, "kind", str, None, where)
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"{where}kind: unknown kind {kind!r}; use one of {', '.join(sorted(SOURCE_KINDS))}")
    _no_unknown(raw, _SOURCE_KEYS | SOURCE_KINDS[kind], where)
    url = _typed(raw, "url", str, None, where).rstrip("/")
    _check_url(url, where)
    extra = {k: v for k, v in raw.items() if k not in _SOURCE_KEYS}
    return SourceConfig(
        name=_typed(raw, "name", str, None, where),
        kind=kind,
        url=url,
        poll_seconds=_int_range(raw, "poll_seconds", 60, 5, 86_400, where),
        token_env=_typed(raw, "token_env", str, None, where),
        page_limit=_int_range(raw, "page_limit", 10_000, 1, 10_000, where),
        timeout_seconds=float(_typed(raw, "timeout_seconds", (int, float), 30.0, where)),  # type: ignore[arg-type]
        max_requests_per_second=float(_typed(raw, "max_requests_per_second", (int, float), 20.0, where)),  # type: ignore[arg-type]
        max_retries=_int_range(raw, "max_retries", 5, 0, 20, where),
        enabled=bool(_typed(raw, "enabled", bool, True, where)),
        max_pages_per_poll=_int_range(raw, "max_pages_per_poll", 1000, 1, 10_000_000, where),
        max_page_bytes=_int_range(raw, "max_page_bytes", 64 * MIB, 1024, 4096 * MIB, where),
        options=extra,
    )


def _check_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}url: {url!r} is not an http(s) URL; write e.g. 'http://127.0.0.1:8765'")
    if parts.username or parts.password or parts.query:
        raise ConfigError(f"{where}url: no credentials or query in the URL; put the token in the env var of token_env")


def _unique_names(sources: tuple[SourceConfig, ...]) -> None:
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise ConfigError(f"sources: name {source.name!r} is used twice; names key the ledger, make them unique")
        seen.add(source.name)


def _price(raw: Any, index: int, currency: str) -> Price:
    where = f"prices[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"prices[{index}]: expected a table ([[prices]]); fix the entry")
    _no_unknown(raw, {"model", "effective_from", "input_per_1m", "output_per_1m", "cached_input_per_1m"}, where)
    try:
        start = raw.get("effective_from", "2000-01-01")
        effective = start if isinstance(start, date) else date.fromisoformat(str(start))
        input_price = float(raw["input_per_1m"])
        return Price(
            model=str(raw["model"]),
            effective_from=effective,
            currency=currency,
            input_per_1m=input_price,
            output_per_1m=float(raw.get("output_per_1m", 0.0)),
            cached_input_per_1m=float(raw.get("cached_input_per_1m", input_price * CACHED_INPUT_SHARE)),
            source=f"config override {where[:-1]}",
        )
    except KeyError as exc:
        raise ConfigError(f"{where}{exc.args[0]}: missing; a price override needs model and input_per_1m") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}; use numbers for prices and YYYY-MM-DD for effective_from") from None
