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

from . import location
from .config_keys import (
    COLLECTOR,
    COMPACTION,
    CURRENCIES,
    DEFAULT_PORT,
    FX,
    FX_RATE,
    PASSTHROUGH,
    PRICE,
    PRICINGS,
    PROVIDER_KINDS,
    SAVINGS,
    SOURCE,
    SOURCE_KINDS,
    TOP,
)
from .errors import ConfigError
from .settings import default, load_toml, validate

__all__ = [
    "CURRENCIES",
    "PRICINGS",
    "SOURCE_KINDS",
    "Config",
    "FxConfig",
    "LeaseConfig",
    "PriceOverride",
    "SourceConfig",
    "default_config",
    "load_config",
    "parse_config",
    "simulator_port",
]


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """One polled source. `options` carries a provider kind's own keys, which its provider validates
    (collector/providers declares them; foundation imports nothing of the collector)."""

    name: str
    kind: str
    url: str
    poll_seconds: int = default(SOURCE, "poll_seconds")
    token_env: str | None = default(SOURCE, "token_env")
    page_limit: int = default(SOURCE, "page_limit")
    timeout_seconds: float = default(SOURCE, "timeout_seconds")
    max_requests_per_second: float = default(SOURCE, "max_requests_per_second")
    max_retries: int = default(SOURCE, "max_retries")
    enabled: bool = default(SOURCE, "enabled")
    max_pages_per_poll: int = default(SOURCE, "max_pages_per_poll")
    max_page_bytes: int = default(SOURCE, "max_page_bytes")
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
    currency = "USD", per_eur = 1.0563`; they win over fetched and seed rates (ledger.pricing.fx).
    """

    url: str | None = default(FX, "url")
    every_hours: int = default(FX, "every_hours")
    max_retries: int = default(FX, "max_retries")
    timeout_seconds: float = default(FX, "timeout_seconds")
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
    output_per_1m: float = default(PRICE, "output_per_1m")
    cached_input_per_1m: float | None = default(PRICE, "cached_input_per_1m")
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class LeaseConfig:
    """`[collector] lease_url`: the Redis lease that makes one collector of several the active one."""

    url: str
    seconds: int = default(COLLECTOR, "lease_seconds")
    password_env: str = default(COLLECTOR, "lease_password_env")

    def password(self) -> str | None:
        """The password from `password_env`; None when unset (a Redis without AUTH)."""
        return os.environ.get(self.password_env) or None


@dataclass(frozen=True, kw_only=True)
class Config:
    data_dir: Path
    timezone: str = default(TOP, "timezone")
    currency: str = default(TOP, "currency")
    dashboard_url: str | None = default(TOP, "dashboard_url")
    sources: tuple[SourceConfig, ...] = ()
    price_overrides: tuple[PriceOverride, ...] = ()
    pricing: str = default(TOP, "pricing")
    derive_eur_from_usd: bool = default(TOP, "derive_eur_from_usd")
    compaction_hour_utc: int = default(COMPACTION, "hour_utc")
    sections: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    max_record_age_days: int = default(COLLECTOR, "max_record_age_days")
    max_future_skew_seconds: int = default(COLLECTOR, "max_future_skew_seconds")
    fx: FxConfig = field(default_factory=FxConfig)
    offline_projects: tuple[str, ...] = default(SAVINGS, "offline_projects")
    """`[savings] offline_projects`: traffic that could wait for the Batch API."""
    lease: LeaseConfig | None = None


def simulator_port() -> int:
    """`$SIMULATOR_PORT` (where the demo started the simulator), else 8765."""
    raw = os.environ.get("SIMULATOR_PORT", "")
    if not raw:
        return DEFAULT_PORT
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 65535):
        raise ConfigError(f"SIMULATOR_PORT: {raw[:20]!r} is not a TCP port; use 1..65535 or unset it")
    return int(raw)


def _data_dir_env() -> Path | None:
    """`$DATA_DIR`: a local folder or an s3 URL (its working folder under the default cache)."""
    raw = os.environ.get("DATA_DIR")
    if not raw:
        return None
    try:
        if not location.is_url(raw):
            return Path(raw)
        return location.data_dir(raw, base=Path(".").absolute(), cache_dir=None)
    except ValueError as exc:
        raise ConfigError(f"DATA_DIR: {exc}") from None


def _data_dir(value: str, base: Path, cache_dir: str | None) -> Path:
    try:
        return location.data_dir(value, base=base, cache_dir=cache_dir)
    except ValueError as exc:
        raise ConfigError(f"cache_dir: {exc}") from None


def default_config() -> Config:
    """The embedded default: the simulator's usage endpoint and Admin API, the ledger in `$DATA_DIR`,
    else `data` in the current directory (so an installed package works from anywhere)."""
    simulator = f"http://127.0.0.1:{simulator_port()}"
    return Config(
        data_dir=_data_dir_env() or Path("data").absolute(),
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
    sources = tuple(_source(s, i) for i, s in enumerate(top["sources"]))
    _unique_names(sources)
    collector = validate(top["collector"], COLLECTOR, "collector")
    return Config(
        data_dir=_data_dir(top["data_dir"], base, top["cache_dir"]),
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
        offline_projects=validate(top["savings"], SAVINGS, "savings")["offline_projects"],
        lease=_lease(collector),
    )


def _lease(collector: dict[str, Any]) -> LeaseConfig | None:
    if collector["lease_url"] is None:
        return None
    return LeaseConfig(
        url=collector["lease_url"], seconds=collector["lease_seconds"], password_env=collector["lease_password_env"]
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
    own = {s.name for s in SOURCE}
    values = validate(
        table, SOURCE, where, sections=[k for k in table if k not in own] if kind in PROVIDER_KINDS else ()
    )
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
