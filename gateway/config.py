"""The gateway's config: one TOML file read into a frozen value object.

Why strict: a typo silently falling back to a default is how a gateway ends up recording
nowhere. Every problem raises ConfigError naming the key and the fix. The keys live at the top
level of the file, or in a `[gateway]` table so one monitor.toml can serve every component.
Secrets never live here: the file names the *environment variables* holding them.

Example:
    >>> cfg = load_config(Path("gateway/example.toml"))
    >>> cfg.upstream_url
    'https://api.mistral.ai'
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._units import ZONES
from .errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DB = Path("data/gateway/buffer.sqlite3")
DEFAULT_LIMITS_STATE = Path("data/gateway/limits.sqlite3")
_SYNC_MODES = ("NORMAL", "FULL")
_ZONES = ("auto", *ZONES)


@dataclass(frozen=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    upstream_url: str = "https://api.mistral.ai"
    api_zone: str = "auto"  # recorded per request; auto = from the upstream host (api.eu.mistral.ai -> eu)
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 300.0
    max_connections: int = 100
    project_header: str = "x-project"
    retry_count_headers: tuple[str, ...] = ("x-retry-count", "x-stainless-retry-count")
    db_path: Path = REPO / DEFAULT_DB
    retention_days: float = 14.0
    flush_interval_ms: int = 20
    sqlite_synchronous: str = "NORMAL"
    usage_token_env: str = "GATEWAY_USAGE_TOKEN"
    key_salt_env: str = "GATEWAY_KEY_SALT"
    log_requests: bool = False
    max_request_body_mib: int = 513  # Mistral's file uploads: 512 MB per file, plus multipart framing
    max_client_connections: int = 1000
    client_timeout_seconds: float = 10.0
    budgets_file: Path | None = None  # [[limits]] and [key_labels] are read from it (docs/gateway.md)
    limits_state_path: Path = REPO / DEFAULT_LIMITS_STATE
    limits_timezone: str = "UTC"
    limits_currency: str = "USD"
    limits_fail_closed: bool = False
    limits_state_timeout_ms: int = 100
    ledger_dir: Path | None = None  # the collector's data_dir: each period's spend is read from it
    ledger_refresh_seconds: float = 60.0
    ledger_source: str = "gateway"


@dataclass(frozen=True)
class Secrets:
    """Values read from the environment at start; never logged, never written."""

    usage_token: str
    key_salt: bytes


def load_config(path: Path | None) -> GatewayConfig:
    """Read a TOML file (None = every default). Relative paths are relative to the file."""
    if path is None:
        return GatewayConfig()
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found; pass an existing file to --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML ({exc}); fix the syntax at that line") from None
    table = raw["gateway"] if isinstance(raw.get("gateway"), dict) else raw
    return parse_config(table, base=path.parent.resolve())


def parse_config(raw: dict[str, Any], base: Path) -> GatewayConfig:
    """Validate one TOML table into a GatewayConfig."""
    known = set(GatewayConfig.__dataclass_fields__)
    for key in raw:
        if key not in known:
            raise ConfigError(f"{key}: unknown key; remove it or use one of {', '.join(sorted(known))}")
    defaults = GatewayConfig()
    db_path = Path(_typed(raw, "db_path", str, str(DEFAULT_DB)))
    return GatewayConfig(
        host=_typed(raw, "host", str, defaults.host),
        port=_int_range(raw, "port", defaults.port, 0, 65_535),
        upstream_url=_url(raw),
        api_zone=_zone(raw),
        connect_timeout_seconds=_positive(raw, "connect_timeout_seconds", defaults.connect_timeout_seconds),
        read_timeout_seconds=_positive(raw, "read_timeout_seconds", defaults.read_timeout_seconds),
        max_connections=_int_range(raw, "max_connections", defaults.max_connections, 1, 10_000),
        project_header=_header(_typed(raw, "project_header", str, defaults.project_header), "project_header"),
        retry_count_headers=_headers(raw, defaults.retry_count_headers),
        db_path=db_path if db_path.is_absolute() else (base / db_path).resolve(),
        retention_days=_positive(raw, "retention_days", defaults.retention_days),
        flush_interval_ms=_int_range(raw, "flush_interval_ms", defaults.flush_interval_ms, 1, 10_000),
        sqlite_synchronous=_sync_mode(raw),
        usage_token_env=_typed(raw, "usage_token_env", str, defaults.usage_token_env),
        key_salt_env=_typed(raw, "key_salt_env", str, defaults.key_salt_env),
        log_requests=_typed(raw, "log_requests", bool, defaults.log_requests),
        max_request_body_mib=_int_range(raw, "max_request_body_mib", defaults.max_request_body_mib, 1, 1 << 20),
        max_client_connections=_int_range(
            raw, "max_client_connections", defaults.max_client_connections, 1, 1_000_000
        ),  # fmt: skip
        client_timeout_seconds=_positive(raw, "client_timeout_seconds", defaults.client_timeout_seconds),
        **_limit_keys(raw, base, defaults),
    )


def _limit_keys(raw: dict[str, Any], base: Path, defaults: GatewayConfig) -> dict[str, Any]:
    """The limits' keys (docs/gateway.md, "Limits")."""
    return {
        "budgets_file": _path(raw, "budgets_file", base, None),
        "limits_state_path": _path(raw, "limits_state_path", base, DEFAULT_LIMITS_STATE),
        "limits_timezone": _timezone(raw),
        "limits_currency": str(_typed(raw, "limits_currency", str, defaults.limits_currency)).upper(),
        "limits_fail_closed": _typed(raw, "limits_fail_closed", bool, defaults.limits_fail_closed),
        "limits_state_timeout_ms": _int_range(
            raw, "limits_state_timeout_ms", defaults.limits_state_timeout_ms, 1, 60_000
        ),  # fmt: skip
        "ledger_dir": _path(raw, "ledger_dir", base, None),
        "ledger_refresh_seconds": _positive(raw, "ledger_refresh_seconds", defaults.ledger_refresh_seconds),
        "ledger_source": _typed(raw, "ledger_source", str, defaults.ledger_source),
    }


def _path(raw: dict[str, Any], key: str, base: Path, default: Path | None) -> Any:
    value = raw.get(key)
    if value is None:
        return None if default is None else (REPO / default if key not in raw else None)
    path = Path(_typed(raw, key, str, ""))
    return path if path.is_absolute() else (base / path).resolve()


def _timezone(raw: dict[str, Any]) -> str:
    name = str(_typed(raw, "limits_timezone", str, GatewayConfig.limits_timezone))
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f'limits_timezone: {name!r} is not a time zone; write e.g. "Europe/Paris"') from None
    return name


def read_secrets(config: GatewayConfig, environ: dict[str, str] | None = None) -> Secrets:
    """The usage token and key salt from their env vars, or ConfigError naming the variable."""
    env = os.environ if environ is None else environ
    return Secrets(
        usage_token=_secret(env, config.usage_token_env, "usage_token_env", "the token the collector sends"),
        key_salt=_secret(env, config.key_salt_env, "key_salt_env", "a random salt kept stable").encode(),
    )


def _secret(env: Any, name: str, key: str, what: str) -> str:
    value = env.get(name, "")
    if len(value) < 8:
        state = "is not set" if not value else "is shorter than 8 characters"
        raise ConfigError(f"{key}: environment variable {name} {state}; export it ({what}, e.g. openssl rand -hex 16)")
    return str(value)


def _typed(table: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = table.get(key, default)
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ConfigError(f"{key}: expected a number, got {value!r}; fix its value")
    if not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else "number"
        raise ConfigError(f"{key}: expected {name}, got {value!r}; fix its value")
    return value


def _int_range(table: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = _typed(table, key, int, default)
    if not low <= value <= high:
        raise ConfigError(f"{key}: {value} is out of range; use {low}..{high}")
    return int(value)


def _positive(table: dict[str, Any], key: str, default: float) -> float:
    value = float(_typed(table, key, (int, float), default))
    if value <= 0:
        raise ConfigError(f"{key}: must be greater than 0, got {value}; fix its value")
    return value


def _url(raw: dict[str, Any]) -> str:
    url = str(_typed(raw, "upstream_url", str, GatewayConfig.upstream_url)).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"upstream_url: {url!r} is not an http(s) URL; write e.g. 'https://api.mistral.ai'")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("upstream_url: no credentials, query or fragment; clients send their own API key")
    return url


def _header(name: str, key: str) -> str:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ConfigError(f"{key}: {name!r} is not a header name; use letters, digits and '-' (e.g. 'X-Project')")
    return name.lower()


def _headers(raw: dict[str, Any], default: tuple[str, ...]) -> tuple[str, ...]:
    names = _typed(raw, "retry_count_headers", list, list(default))
    if not all(isinstance(n, str) for n in names):
        raise ConfigError(f"retry_count_headers: expected a list of header names, got {names!r}; fix its value")
    return tuple(_header(n, "retry_count_headers") for n in names)


def _sync_mode(raw: dict[str, Any]) -> str:
    value = str(_typed(raw, "sqlite_synchronous", str, GatewayConfig.sqlite_synchronous)).upper()
    if value not in _SYNC_MODES:
        raise ConfigError(f"sqlite_synchronous: {value!r} is not supported; use NORMAL or FULL")
    return value


def _zone(raw: dict[str, Any]) -> str:
    value = str(_typed(raw, "api_zone", str, GatewayConfig.api_zone)).lower()
    if value not in _ZONES:
        raise ConfigError(f"api_zone: {value!r} is not a zone; use auto (read from upstream_url), global, eu or us")
    return value
