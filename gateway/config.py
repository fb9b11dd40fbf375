"""The gateway's config: one TOML table read into a frozen value object.

Why strict: a typo silently falling back to a default is how a gateway ends up recording
nowhere. The keys are declared once as `Setting`s (foundation.settings) and every problem
raises one ConfigError naming the key path and the fix. The keys live at the top level of the
file, or in a `[gateway]` table so one monitor.toml can serve every component. Secrets never
live here: the file names the *environment variables* holding them.

Example:
    >>> _ = Path("monitor.toml").write_text("gateway.port = 8081")
    >>> cfg = load_config(Path("monitor.toml"))
    >>> cfg.port, cfg.upstream_url
    (8081, 'https://api.mistral.ai')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from foundation import location
from foundation.config_keys import CURRENCIES, redis_url
from foundation.errors import ConfigError
from foundation.settings import Setting, default, load_toml, validate

from ._units import ZONES

if TYPE_CHECKING:
    from foundation.config import Config as CollectorConfig

DEFAULT_DB = Path("data/gateway/buffer.sqlite3")
DEFAULT_LIMITS_STATE = Path("data/gateway/limits.sqlite3")
_SYNC_MODES = ("NORMAL", "FULL")
_ZONES = ("auto", *ZONES)


@dataclass(frozen=True)
class Secrets:
    """Values read from the environment at start; never logged, never written."""

    usage_token: str
    key_salt: bytes
    limits_state_password: str | None = None


def load_config(path: Path | None) -> GatewayConfig:
    """Read a TOML file (None = every default). Relative paths are relative to the file."""
    if path is None:
        return GatewayConfig()
    raw = load_toml(path)
    if isinstance(raw.get("gateway"), dict):
        return parse_config(raw["gateway"], base=path.parent.resolve(), where="gateway")
    return parse_config(raw, base=path.parent.resolve())


def parse_config(raw: dict[str, Any], base: Path, where: str = "") -> GatewayConfig:
    """Validate one TOML table into a GatewayConfig; `where` prefixes key paths in errors."""
    values = validate(raw, SETTINGS, where)
    values["db_path"] = _path(values["db_path"], base)
    state = values["limits_state_path"]
    # the state is shared by replicas: without the key, in the current directory (not next to the file)
    values["limits_state_path"] = _path(state, base) if "limits_state_path" in raw else DEFAULT_LIMITS_STATE.absolute()
    for key in ("budgets_file", "collector_config"):
        values[key] = None if values[key] is None else _path(values[key], base)
    if values["ledger_dir"] is not None:  # an s3:// ledger: its working folder under the default cache
        values["ledger_dir"] = location.data_dir(values["ledger_dir"], base, cache_dir=None)
    if values["collector_config"] is not None:
        collector = _collector(values["collector_config"], where)
        values["ledger_dir"] = values["ledger_dir"] or collector.data_dir.resolve()
        if collector.currency != values["limits_currency"]:
            name = f"{where}.limits_currency" if where else "limits_currency"
            raise ConfigError(
                f"{name}: {values['limits_currency']} is not the collector's currency {collector.currency} "
                f"(collector_config), so its prices and the ledger's spend would not apply; "
                f'set limits_currency = "{collector.currency}"'
            )
    if values["require_known_project"] and values["budgets_file"] is None:
        name = f"{where}.require_known_project" if where else "require_known_project"
        raise ConfigError(f"{name}: needs budgets_file (its [key_projects] binds keys); set budgets_file or remove it")
    return GatewayConfig(**values)


def _collector(path: Path, where: str) -> CollectorConfig:
    """The collector's config; ConfigError naming `collector_config` when it cannot be read."""
    from foundation.config import load_config as load_collector_config

    name = f"{where}.collector_config" if where else "collector_config"
    if not path.is_file():
        raise ConfigError(f"{name}: {path} is not a file; give the collector's config (its TOML) or remove the key")
    try:
        return load_collector_config(path)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {path}: {exc}") from None


def _path(value: str, base: Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (base / path).resolve()


def read_secrets(config: GatewayConfig, environ: dict[str, str] | None = None) -> Secrets:
    """The usage token and key salt from their env vars, or ConfigError naming the variable."""
    env = os.environ if environ is None else environ
    return Secrets(
        usage_token=_secret(env, config.usage_token_env, "usage_token_env", "the token the collector sends"),
        key_salt=_secret(env, config.key_salt_env, "key_salt_env", "a random salt kept stable").encode(),
        limits_state_password=env.get(config.limits_state_password_env) or None,
    )


def _secret(env: Any, name: str, key: str, what: str) -> str:
    value = env.get(name, "")
    if len(value) < 8:
        state = "is not set" if not value else "is shorter than 8 characters"
        raise ConfigError(f"{key}: environment variable {name} {state}; export it ({what}, e.g. openssl rand -hex 16)")
    return str(value)


def _url(value: str) -> str:
    url = value.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL; write e.g. 'https://api.mistral.ai'")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("no credentials, query or fragment; clients send their own API key")
    return url


def _state_url(value: str) -> str:
    return redis_url(value, "limits_state_password_env")


def _header(name: str) -> str:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"{name!r} is not a header name; use letters, digits and '-' (e.g. 'X-Project')")
    return name.lower()


def _headers(names: list[Any]) -> tuple[str, ...]:
    if not all(isinstance(n, str) for n in names):
        raise ValueError(f"expected a list of header names, got {names!r}; fix its value")
    return tuple(_header(n) for n in names)


def _zone(value: str) -> str:
    if value.lower() not in _ZONES:
        raise ValueError(f"{value.lower()!r} is not a zone; use auto (read from upstream_url), global, eu or us")
    return value.lower()


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'{name!r} is not a time zone; write e.g. "Europe/Paris"') from None
    return name


SETTINGS: tuple[Setting, ...] = (
    Setting(name="host", kind=str, default="127.0.0.1", help="Address the gateway listens on."),
    Setting(name="port", kind=int, default=8080, low=0, high=65_535, help="TCP port the gateway listens on."),
    Setting(
        name="upstream_url",
        kind=str,
        default="https://api.mistral.ai",
        check=_url,
        help="The Mistral API the gateway forwards to, e.g. 'https://api.eu.mistral.ai'.",
    ),
    Setting(
        name="api_zone",
        kind=str,
        default="auto",
        check=_zone,
        help="Zone recorded per request: auto (from upstream_url's host), global, eu or us.",
    ),
    Setting(name="connect_timeout_seconds", kind=float, default=10.0, above=0, help="Upstream connect timeout."),
    Setting(name="read_timeout_seconds", kind=float, default=300.0, above=0, help="Upstream read timeout."),
    Setting(
        name="max_connections",
        kind=int,
        default=100,
        low=1,
        high=10_000,
        help="Connections the gateway keeps open to the upstream.",
    ),
    Setting(
        name="project_header",
        kind=str,
        default="x-project",
        check=_header,
        help="Request header whose value is recorded as the project.",
    ),
    Setting(
        name="retry_count_headers",
        kind=list,
        default=("x-retry-count", "x-stainless-retry-count"),
        check=_headers,
        help="Request headers SDKs use to number their retries.",
    ),
    Setting(
        name="db_path",
        kind=str,
        default=DEFAULT_DB,
        help="The SQLite buffer of records; relative to the config file.",
    ),
    Setting(name="retention_days", kind=float, default=14.0, above=0, help="Days records stay in the buffer."),
    Setting(
        name="flush_interval_ms",
        kind=int,
        default=20,
        low=1,
        high=10_000,
        help="Milliseconds between two buffer writes.",
    ),
    Setting(
        name="sqlite_synchronous",
        kind=str,
        default="NORMAL",
        check=str.upper,
        choices=_SYNC_MODES,
        help="SQLite synchronous mode of the buffer: NORMAL or FULL.",
    ),
    Setting(
        name="usage_token_env",
        kind=str,
        default="GATEWAY_USAGE_TOKEN",
        help="Environment variable holding the token the collector sends to read usage.",
    ),
    Setting(
        name="key_salt_env",
        kind=str,
        default="GATEWAY_KEY_SALT",
        help="Environment variable holding the salt of API key ids.",
    ),
    Setting(name="log_requests", kind=bool, default=False, help="Log one line per request."),
    Setting(
        name="max_request_body_mib",
        kind=int,
        default=513,
        low=1,
        high=1 << 20,
        help="Largest request body in MiB (Mistral's file uploads: 512 MB per file, plus framing).",
    ),
    Setting(
        name="max_client_connections",
        kind=int,
        default=1000,
        low=1,
        high=1_000_000,
        help="Client connections served at once.",
    ),
    Setting(
        name="client_timeout_seconds",
        kind=float,
        default=10.0,
        above=0,
        help="Seconds a client may take to send its request.",
    ),
    Setting(name="budgets_file", kind=str, help="The budgets file holding [[limits]] and [key_labels]."),
    Setting(
        name="limits_state_path",
        kind=str,
        default=DEFAULT_LIMITS_STATE,
        help="The limits' shared SQLite state (minute counters, spend).",
    ),
    Setting(
        name="limits_state_url",
        kind=str,
        check=_state_url,
        help="redis://HOST:PORT/DB (rediss:// for TLS) of a Redis >= 6 or Valkey every replica shares, "
        "instead of limits_state_path.",
    ),
    Setting(
        name="limits_state_password_env",
        kind=str,
        default="GATEWAY_LIMITS_STATE_PASSWORD",
        help="Environment variable holding the password of limits_state_url (unset: none).",
    ),
    Setting(
        name="limits_timezone",
        kind=str,
        default="UTC",
        check=_time_zone,
        help="Time zone of the limits' days, weeks and months.",
    ),
    Setting(
        name="limits_currency",
        kind=str,
        default="USD",
        check=str.upper,
        choices=CURRENCIES,
        help="Currency of spend limits (one the price table holds).",
    ),
    Setting(
        name="limits_fail_closed",
        kind=bool,
        default=False,
        help="true: refuse requests when the limits' state cannot be read.",
    ),
    Setting(
        name="limits_state_timeout_ms",
        kind=int,
        default=100,
        low=1,
        high=60_000,
        help="Milliseconds to wait for the limits' state.",
    ),
    Setting(
        name="require_known_project",
        kind=bool,
        default=False,
        help="true: refuse (403) requests whose API key [key_projects] does not bind to a project.",
    ),
    Setting(
        name="ledger_dir",
        kind=str,
        check=location.check,
        help="The collector's data_dir (a folder or s3://bucket/prefix), to read each period's spend from.",
    ),
    Setting(
        name="collector_config",
        kind=str,
        help="The collector's config: spend limits price with its price book ([[prices]], billed price sheets).",
    ),
    Setting(
        name="ledger_refresh_seconds",
        kind=float,
        default=60.0,
        above=0,
        help="Seconds between two reads of the ledger's spend.",
    ),
    Setting(
        name="ledger_source", kind=str, default="gateway", help="This gateway's source name in the collector config."
    ),
)


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    """The gateway's settings; every default is its `Setting`'s (SETTINGS above)."""

    host: str = default(SETTINGS, "host")
    port: int = default(SETTINGS, "port")
    upstream_url: str = default(SETTINGS, "upstream_url")
    api_zone: str = default(SETTINGS, "api_zone")
    """Recorded per request; auto = from the upstream host (api.eu.mistral.ai -> eu)."""
    connect_timeout_seconds: float = default(SETTINGS, "connect_timeout_seconds")
    read_timeout_seconds: float = default(SETTINGS, "read_timeout_seconds")
    max_connections: int = default(SETTINGS, "max_connections")
    project_header: str = default(SETTINGS, "project_header")
    retry_count_headers: tuple[str, ...] = default(SETTINGS, "retry_count_headers")
    db_path: Path = default(SETTINGS, "db_path")
    """Relative paths: to the config file, else to the current directory."""
    retention_days: float = default(SETTINGS, "retention_days")
    flush_interval_ms: int = default(SETTINGS, "flush_interval_ms")
    sqlite_synchronous: str = default(SETTINGS, "sqlite_synchronous")
    usage_token_env: str = default(SETTINGS, "usage_token_env")
    key_salt_env: str = default(SETTINGS, "key_salt_env")
    log_requests: bool = default(SETTINGS, "log_requests")
    max_request_body_mib: int = default(SETTINGS, "max_request_body_mib")
    """Mistral's file uploads: 512 MB per file, plus multipart framing."""
    max_client_connections: int = default(SETTINGS, "max_client_connections")
    client_timeout_seconds: float = default(SETTINGS, "client_timeout_seconds")
    budgets_file: Path | None = default(SETTINGS, "budgets_file")
    """[[limits]] and [key_labels] are read from it (docs/gateway.md)."""
    limits_state_path: Path = default(SETTINGS, "limits_state_path")
    limits_state_url: str | None = default(SETTINGS, "limits_state_url")
    """Redis://HOST:PORT/DB (rediss:// for TLS): replicas on several hosts."""
    limits_state_password_env: str = default(SETTINGS, "limits_state_password_env")
    limits_timezone: str = default(SETTINGS, "limits_timezone")
    limits_currency: str = default(SETTINGS, "limits_currency")
    limits_fail_closed: bool = default(SETTINGS, "limits_fail_closed")
    limits_state_timeout_ms: int = default(SETTINGS, "limits_state_timeout_ms")
    require_known_project: bool = default(SETTINGS, "require_known_project")
    """Refuse (403) a key the budgets file's [key_projects] does not bind."""
    ledger_dir: Path | None = default(SETTINGS, "ledger_dir")
    """The collector's data_dir: each period's spend is read from it."""
    collector_config: Path | None = default(SETTINGS, "collector_config")
    """The collector's config: spend is priced with its price book."""
    ledger_refresh_seconds: float = default(SETTINGS, "ledger_refresh_seconds")
    ledger_source: str = default(SETTINGS, "ledger_source")
