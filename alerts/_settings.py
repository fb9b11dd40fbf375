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

from foundation.errors import ConfigError
from foundation.settings import Setting, default, validate

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


def is_email(value: object) -> bool:
    """One plain address and nothing else: no list, no display name, no control character."""
    return isinstance(value, str) and bool(EMAIL.fullmatch(value)) and not CONTROL.search(value)


def emails(values: Any) -> tuple[str, ...]:
    """One address or a list of them, else ValueError naming the bad one (a `Setting` check)."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        raise ValueError(f'expected a list of email addresses, got {values!r}; write ["ops@example.com"]')
    for value in values:
        if not is_email(value):
            raise ValueError(f"{value!r} is not an email address; write it like ops@example.com")
    return tuple(values)


def _rules(rules: list[Any]) -> tuple[str, ...]:
    for rule in rules:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; use some of {', '.join(RULES)}")
    return tuple(rules)


def _given(value: str) -> str:
    if not value:
        raise ValueError('missing; [smtp] needs host and sender, e.g. host = "smtp.example.com"')
    return value


def _pct(name: str, default: float, help_text: str) -> Setting:
    return Setting(name=name, kind=float, default=default, low=0, high=100, help=help_text)


ALERTS: tuple[Setting, ...] = (
    Setting(
        name="budgets_file",
        kind=str,
        default="budgets.toml",
        help="The budgets file ([[budgets]], [[limits]]); relative to the data_dir.",
    ),
    Setting(
        name="interval_seconds",
        kind=float,
        default=300,
        low=10,
        high=86_400,
        check=int,
        help="Seconds between two runs of the alert engine.",
    ),
    Setting(
        name="recipients",
        kind=object,
        default=(),
        check=emails,
        help="Email addresses that get organisation-wide alerts (error rate, 429s, anomalies, reconciliation).",
    ),
    Setting(name="rules_enabled", kind=list, default=RULES, check=_rules, help="The rules that run (all by default)."),
    _pct("error_rate_pct", 10.0, "Alert when more than this % of requests in the window failed."),
    _pct("rate_429_pct", 5.0, "Alert when more than this % of requests in the window were rate-limited (429)."),
    Setting(
        name="min_requests",
        kind=float,
        default=50,
        low=1,
        high=1e9,
        check=int,
        help="Requests a window needs before its error and 429 rates count.",
    ),
    Setting(
        name="window_minutes",
        kind=float,
        default=15,
        low=1,
        high=1440,
        check=int,
        help="Minutes of the error-rate and 429 window.",
    ),
    Setting(
        name="anomaly_factor",
        kind=float,
        default=3.0,
        low=1.01,
        high=1000,
        help="Alert when a day's spend is this many times its usual.",
    ),
    Setting(
        name="anomaly_min_spend",
        kind=float,
        default=1.0,
        low=0,
        high=1e12,
        help="Days spending less than this never count as anomalies.",
    ),
    Setting(
        name="reconcile_gap_pct",
        kind=float,
        default=5.0,
        low=0,
        high=1000,
        help="Alert when the ledger and the bill differ by more than this %.",
    ),
    Setting(
        name="reconcile_min_gap",
        kind=float,
        default=1.0,
        low=0,
        high=1e12,
        help="Gaps smaller than this amount never alert.",
    ),
    _pct("forecast_min_elapsed_pct", 20.0, "Forecast alerts wait until this % of the period has elapsed."),
    Setting(
        name="late_grace_minutes",
        kind=float,
        default=60,
        low=0,
        high=1440,
        check=int,
        help="Minutes late data may arrive before a closed period counts as final.",
    ),
    Setting(
        name="repeat_hours",
        kind=float,
        default=0.0,
        low=0,
        high=24 * 366,
        help="Repeat a firing alert every this many hours (0: never).",
    ),
    Setting(
        name="outbox_expire_hours",
        kind=float,
        default=24.0,
        low=0.01,
        high=24 * 30,
        help="Undelivered emails and posts are dropped after this many hours.",
    ),
    Setting(name="digest", kind=str, default="off", choices=DIGESTS, help="Spend digest emails: off, daily or weekly."),
    Setting(
        name="digest_recipients",
        kind=object,
        default=(),
        check=emails,
        help="Email addresses that get the spend digest.",
    ),
    Setting(
        name="digest_hour", kind=float, default=8, low=0, high=23, check=int, help="Local hour the digest is sent."
    ),
    Setting(
        name="statement_hour",
        kind=float,
        default=8,
        low=0,
        high=23,
        check=int,
        help="Local hour on the 1st the monthly statements are sent.",
    ),
)
SMTP: tuple[Setting, ...] = (
    Setting(name="host", kind=str, required=True, check=_given, help="The SMTP server, e.g. smtp.example.com."),
    Setting(
        name="sender",
        kind=str,
        required=True,
        check=lambda v: emails([_given(v)])[0],
        help="The From address of alert emails.",
    ),
    Setting(
        name="port",
        kind=float,
        low=1,
        high=65_535,
        check=int,
        help="The SMTP port (default: 587 for starttls, 465 for tls, 25 for none).",
    ),
    Setting(name="security", kind=str, default="starttls", choices=SECURITY, help="starttls, tls or none."),
    Setting(name="username", kind=str, help="The SMTP login, if the server wants one."),
    Setting(name="password_env", kind=str, help="Name of the environment variable holding the SMTP password."),
    Setting(name="timeout_seconds", kind=float, default=20.0, low=0.1, high=600, help="Timeout of one SMTP session."),
    Setting(name="ca_file", kind=str, help="A CA bundle to verify the server with; relative to the config file."),
)


@dataclass(frozen=True, kw_only=True)
class AlertSettings:
    """What the engine checks and how often. Rates are percentages (5 = 5%)."""

    budgets_file: Path
    interval_seconds: int = default(ALERTS, "interval_seconds")
    recipients: tuple[str, ...] = default(ALERTS, "recipients")
    rules_enabled: tuple[str, ...] = default(ALERTS, "rules_enabled")
    error_rate_pct: float = default(ALERTS, "error_rate_pct")
    rate_429_pct: float = default(ALERTS, "rate_429_pct")
    min_requests: int = default(ALERTS, "min_requests")
    window_minutes: int = default(ALERTS, "window_minutes")
    anomaly_factor: float = default(ALERTS, "anomaly_factor")
    anomaly_min_spend: float = default(ALERTS, "anomaly_min_spend")
    reconcile_gap_pct: float = default(ALERTS, "reconcile_gap_pct")
    reconcile_min_gap: float = default(ALERTS, "reconcile_min_gap")
    forecast_min_elapsed_pct: float = default(ALERTS, "forecast_min_elapsed_pct")
    late_grace_minutes: int = default(ALERTS, "late_grace_minutes")
    repeat_hours: float = default(ALERTS, "repeat_hours")
    outbox_expire_hours: float = default(ALERTS, "outbox_expire_hours")
    digest: str = default(ALERTS, "digest")
    digest_recipients: tuple[str, ...] = default(ALERTS, "digest_recipients")
    digest_hour: int = default(ALERTS, "digest_hour")
    statement_hour: int = default(ALERTS, "statement_hour")
    channels: dict[str, ChannelSettings] = field(default_factory=dict)
    """`[alerts.channels.<name>]`: Slack, Teams and webhook channels by name."""
    rule_channels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """`[alerts.rule_channels]`: organisation-wide rule (or `digest`) -> channel names."""

    def enabled(self, rule: str) -> bool:
        return rule in self.rules_enabled


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    host: str
    sender: str
    port: int = DEFAULT_PORTS[default(SMTP, "security")]
    security: str = default(SMTP, "security")
    username: str | None = default(SMTP, "username")
    password_env: str | None = default(SMTP, "password_env")
    timeout_seconds: float = default(SMTP, "timeout_seconds")
    ca_file: Path | None = default(SMTP, "ca_file")

    def password(self) -> str | None:
        """The password from the environment, or ConfigError naming the variable."""
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(f"smtp.password_env: environment variable {self.password_env} is not set; export it")
        return value


def parse_alerts(raw: dict[str, Any], data_dir: Path) -> AlertSettings:
    """Validate the `[alerts]` table (may be empty: every key has a default)."""
    values = validate(raw, ALERTS, "alerts", sections=("channels", "rule_channels"))
    budgets = Path(values["budgets_file"])
    values["budgets_file"] = budgets if budgets.is_absolute() else Path(data_dir) / budgets
    channels = parse_channels(raw.get("channels"))
    rule_channels = parse_rule_channels(raw.get("rule_channels"), RULES, channels)
    return AlertSettings(**values, channels=channels, rule_channels=rule_channels)


def parse_smtp(raw: dict[str, Any], base: Path | None = None) -> SmtpSettings:
    """Validate the `[smtp]` table: host and sender are required."""
    if isinstance(raw, dict) and "password" in raw:
        raise ConfigError("smtp.password: never put the password in the file; set password_env to a variable name")
    values = validate(raw, SMTP, "smtp")
    for key in ("host", "username", "password_env"):
        if values[key] is not None:
            check_name(values[key], f"smtp.{key}")
    ca_file = values["ca_file"]
    values["ca_file"] = None if ca_file is None else (Path(ca_file) if base is None else base / ca_file)
    values["port"] = values["port"] or DEFAULT_PORTS[values["security"]]
    return SmtpSettings(**values)
