"""The `[alerts]` and `[smtp]` config sections, validated into frozen settings.

Why strict, like the rest of the config: a misspelt `error_rate_pct` silently falling back to
its default is an alert that never fires. Every problem is a ConfigError naming the key and
the fix, which `python -m collector` turns into one line and exit code 2. The SMTP password
is never in the file: `password_env` names the environment variable holding it.

Example:
    >>> settings = parse_alerts({"error_rate_pct": 5}, data_dir=Path("data"))
    >>> settings.error_rate_pct, settings.interval_seconds
    (5.0, 300)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.errors import ConfigError

from ._channels import ChannelSettings, parse_channels, parse_rule_channels
from ._names import CONTROL, check_name

RULES = (
    "threshold",
    "forecast",
    "error_rate",
    "rate_429",
    "anomaly",
    "reconciliation",
    "statement",
    "unpriced",
    "limits",
)
DIGESTS = ("off", "daily", "weekly")
SECURITY = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
EMAIL = re.compile(r"[^@\s,;<>()\"\\]+@[^@\s,;<>()\"\\]+\.[^@\s,;<>()\"\\.]+")
"""One address, matched whole (`fullmatch`: `$` would accept a trailing newline)."""


@dataclass(frozen=True)
class AlertSettings:
    """What the engine checks and how often. Rates are percentages (5 = 5%)."""

    budgets_file: Path
    interval_seconds: int = 300
    recipients: tuple[str, ...] = ()
    rules_enabled: tuple[str, ...] = RULES
    error_rate_pct: float = 10.0
    rate_429_pct: float = 5.0
    min_requests: int = 50
    window_minutes: int = 15
    anomaly_factor: float = 3.0
    anomaly_min_spend: float = 1.0
    reconcile_gap_pct: float = 5.0
    reconcile_min_gap: float = 1.0
    forecast_min_elapsed_pct: float = 20.0
    late_grace_minutes: int = 60
    repeat_hours: float = 0.0
    outbox_expire_hours: float = 24.0
    digest: str = "off"
    digest_recipients: tuple[str, ...] = ()
    digest_hour: int = 8
    statement_hour: int = 8
    channels: dict[str, ChannelSettings] = field(default_factory=dict)
    """`[alerts.channels.<name>]`: Slack, Teams and webhook channels by name."""
    rule_channels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """`[alerts.rule_channels]`: organisation-wide rule (or `digest`) -> channel names."""

    def enabled(self, rule: str) -> bool:
        return rule in self.rules_enabled


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    sender: str
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None
    timeout_seconds: float = 20.0
    ca_file: Path | None = None

    def password(self) -> str | None:
        """The password from the environment, or ConfigError naming the variable."""
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(f"smtp.password_env: environment variable {self.password_env} is not set; export it")
        return value


def is_email(value: object) -> bool:
    """One plain address and nothing else: no list, no display name, no control character."""
    return isinstance(value, str) and bool(EMAIL.fullmatch(value)) and not CONTROL.search(value)


def check_emails(values: Any, where: str) -> tuple[str, ...]:
    """A list of addresses, or ConfigError naming the bad one."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        raise ConfigError(f'{where}: expected a list of email addresses, got {values!r}; write ["ops@example.com"]')
    for value in values:
        if not is_email(value):
            raise ConfigError(f"{where}: {value!r} is not an email address; write it like ops@example.com")
    return tuple(values)


def _get(table: dict[str, Any], key: str, kinds: type | tuple[type, ...], default: Any, where: str) -> Any:
    value = table.get(key, default)
    if value is default:
        return default
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise ConfigError(f"{where}.{key}: expected a number, got {value!r}; fix its value")
    if not isinstance(value, kinds):
        raise ConfigError(f"{where}.{key}: expected {getattr(kinds, '__name__', 'a number')}, got {value!r}")
    return value


def _number(table: dict[str, Any], key: str, default: float, low: float, high: float, where: str) -> float:
    value = float(_get(table, key, (int, float), default, where))
    if not low <= value <= high:
        raise ConfigError(f"{where}.{key}: {value:g} is out of range; use {low:g}..{high:g}")
    return value


def _choice(table: dict[str, Any], key: str, default: str, allowed: tuple[str, ...], where: str) -> str:
    value = _get(table, key, str, default, where)
    if value not in allowed:
        raise ConfigError(f"{where}.{key}: {value!r} is not supported; use one of {', '.join(allowed)}")
    return str(value)


def _unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key; remove it or use one of {', '.join(sorted(known))}")


def _rules(table: dict[str, Any]) -> tuple[str, ...]:
    rules = _get(table, "rules_enabled", list, list(RULES), "alerts")
    for rule in rules:
        if rule not in RULES:
            raise ConfigError(f"alerts.rules_enabled: unknown rule {rule!r}; use some of {', '.join(RULES)}")
    return tuple(rules)


def parse_alerts(raw: dict[str, Any], data_dir: Path) -> AlertSettings:
    """Validate the `[alerts]` table (may be empty: every key has a default)."""
    if not isinstance(raw, dict):
        raise ConfigError("alerts: expected a table ([alerts]); fix the section")
    _unknown(raw, set(AlertSettings.__dataclass_fields__), "alerts")
    budgets = Path(_get(raw, "budgets_file", str, "budgets.toml", "alerts"))
    n = lambda key, default, low, high: _number(raw, key, default, low, high, "alerts")  # noqa: E731
    channels = parse_channels(raw.get("channels"))
    return AlertSettings(
        budgets_file=budgets if budgets.is_absolute() else Path(data_dir) / budgets,
        interval_seconds=int(n("interval_seconds", 300, 10, 86_400)),
        recipients=check_emails(raw.get("recipients", []), "alerts.recipients"),
        rules_enabled=_rules(raw),
        error_rate_pct=n("error_rate_pct", 10.0, 0, 100),
        rate_429_pct=n("rate_429_pct", 5.0, 0, 100),
        min_requests=int(n("min_requests", 50, 1, 1e9)),
        window_minutes=int(n("window_minutes", 15, 1, 1440)),
        anomaly_factor=n("anomaly_factor", 3.0, 1.01, 1000),
        anomaly_min_spend=n("anomaly_min_spend", 1.0, 0, 1e12),
        reconcile_gap_pct=n("reconcile_gap_pct", 5.0, 0, 1000),
        reconcile_min_gap=n("reconcile_min_gap", 1.0, 0, 1e12),
        forecast_min_elapsed_pct=n("forecast_min_elapsed_pct", 20.0, 0, 100),
        late_grace_minutes=int(n("late_grace_minutes", 60, 0, 1440)),
        repeat_hours=n("repeat_hours", 0.0, 0, 24 * 366),
        outbox_expire_hours=n("outbox_expire_hours", 24.0, 0.01, 24 * 30),
        digest=_choice(raw, "digest", "off", DIGESTS, "alerts"),
        digest_recipients=check_emails(raw.get("digest_recipients", []), "alerts.digest_recipients"),
        digest_hour=int(n("digest_hour", 8, 0, 23)),
        statement_hour=int(n("statement_hour", 8, 0, 23)),
        channels=channels,
        rule_channels=parse_rule_channels(raw.get("rule_channels"), RULES, channels),
    )


def parse_smtp(raw: dict[str, Any], base: Path | None = None) -> SmtpSettings:
    """Validate the `[smtp]` table: host and sender are required."""
    if not isinstance(raw, dict):
        raise ConfigError("smtp: expected a table ([smtp]); fix the section")
    if "password" in raw:
        raise ConfigError("smtp.password: never put the password in the file; set password_env to a variable name")
    _unknown(raw, set(SmtpSettings.__dataclass_fields__), "smtp")
    for key in ("host", "sender"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f'smtp.{key}: missing; [smtp] needs host and sender, e.g. host = "smtp.example.com"')
    for key in ("host", "username", "password_env"):
        if isinstance(raw.get(key), str):
            check_name(raw[key], f"smtp.{key}")
    security = _choice(raw, "security", "starttls", SECURITY, "smtp")
    ca_file = _get(raw, "ca_file", str, None, "smtp")
    return SmtpSettings(
        host=raw["host"],
        sender=check_emails([raw["sender"]], "smtp.sender")[0],
        port=int(_number(raw, "port", DEFAULT_PORTS[security], 1, 65_535, "smtp")),
        security=security,
        username=_get(raw, "username", str, None, "smtp"),
        password_env=_get(raw, "password_env", str, None, "smtp"),
        timeout_seconds=_number(raw, "timeout_seconds", 20.0, 0.1, 600, "smtp"),
        ca_file=None if ca_file is None else (Path(ca_file) if base is None else base / ca_file),
    )
