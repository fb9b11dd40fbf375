"""The config's keys, declared once: every table of the product's TOML file as `Setting`s.

Why a module of its own: the declarations are data (name, type, default, range, help) read by
`foundation.config` to validate and by `docs/configuration.md`'s generator to document; the
value objects and the loading logic stay short beside them.

Example:
    >>> [s.name for s in COMPACTION]
    ['hour_utc']
    >>> time_zone("Mars/Olympus")
    Traceback (most recent call last):
    ValueError: unknown time zone 'Mars/Olympus'; use an IANA name like 'Europe/Paris'
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import location
from .settings import Setting

DEFAULT_PORT = 8765
CURRENCIES = ("USD", "EUR")
PRICINGS = ("list", "billed")
MIB = 1024 * 1024
SOURCE_KINDS = ("usage_endpoint", "mistral_admin", "openai_usage", "anthropic_usage")
"""The kinds of `[[sources]]` the collector polls."""
PROVIDER_KINDS = frozenset({"mistral_admin", "openai_usage", "anthropic_usage"})
"""Kinds whose further keys go to `SourceConfig.options` unchecked here: each provider declares its
own as `Setting`s (`OPTIONS` in collector/providers) and validates them when the collector builds it."""
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


def redis_url(value: str, password_key: str) -> str:
    """A redis:// or rediss:// URL without password, query or fragment, else ValueError naming `password_key`."""
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(f"{value!r} is not a redis:// or rediss:// URL; write e.g. 'redis://10.0.0.5:6379/0'")
    if parts.password or parts.query or parts.fragment:
        raise ValueError(f"no password, query or fragment; put the password in the variable named by {password_key}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValueError(f"{value!r} has no valid port; write e.g. 'redis://10.0.0.5:6379/0'") from None
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"the database {path!r} is not a number; write e.g. 'redis://10.0.0.5:6379/0'")
    return value


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
        check=location.check,
        help="The ledger's directory (the Delta table `requests`, cursors, state): a local folder, relative to the "
        "config file, or s3://bucket/prefix (endpoint and credentials from the AWS_* environment, docs/scale.md).",
    ),
    Setting(
        name="cache_dir",
        kind=str,
        default=None,
        example="'/var/cache/mistral-monitor'",
        help="For an s3:// data_dir: the local working folder (ledger lock, cache of the table's files); "
        "default $XDG_CACHE_HOME/mistral-monitor/<bucket>/<prefix>. Unused for a local data_dir.",
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
    Setting(
        name="collector",
        kind=dict,
        default={},
        help="[collector]: the timestamp window records must fit, the failover lease.",
    ),
    Setting(name="fx", kind=dict, default={}, help="[fx]: where reference rates come from, and rate overrides."),
    Setting(name="savings", kind=dict, default={}, help="[savings]: what the Savings page may assume."),
)
SOURCE: tuple[Setting, ...] = (
    Setting(name="name", kind=str, required=True, help="The source's unique name; it keys the ledger's rows."),
    Setting(
        name="kind",
        kind=str,
        required=True,
        check=_source_kind,
        help="usage_endpoint, mistral_admin, openai_usage or anthropic_usage (their own keys: docs/billing.md).",
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
    Setting(
        name="lease_url",
        kind=str,
        check=lambda url: redis_url(url, "lease_password_env"),
        help="redis://HOST:PORT/DB (rediss:// for TLS) every collector of this data_dir shares: one polls and "
        "runs the alerts, the others stand by and take over (none = no lease, every collector polls).",
    ),
    Setting(
        name="lease_seconds",
        kind=int,
        default=15,
        low=2,
        high=3600,
        help="How long the lease lasts unrenewed (renewed every third of it); a standby takes over after it.",
    ),
    Setting(
        name="lease_password_env",
        kind=str,
        default="COLLECTOR_LEASE_PASSWORD",
        help="Environment variable holding the password of lease_url (unset: none).",
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


def _names(value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f'expected a list of project names, got {value!r}; write ["batch-jobs"]')
    return tuple(v.strip() for v in values)


SAVINGS: tuple[Setting, ...] = (
    Setting(
        name="offline_projects",
        kind=object,
        default=(),
        check=_names,
        help="Projects whose traffic could wait for the Batch API (-50%); the Savings page counts them apart.",
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
    "savings": SAVINGS,
}
"""Every table of the file, by where it sits in the file (for docs and tests)."""
