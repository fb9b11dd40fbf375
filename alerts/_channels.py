"""Chat and webhook channels: `[alerts.channels.<name>]` in the config, named by budgets and rules.

Why the URL is never in the file: a Slack or Teams webhook URL *is* the credential (anyone
holding it can post to the channel). The config names the environment variable holding it
(`url_env`), like `smtp.password_env`; the URL is read when a message goes out and is never
written to the state file, the outbox or a log line. A generic webhook is signed with a
secret read the same way (`secret_env`).

Example config:
    [alerts.channels.ops-slack]
    kind = "slack"                 # slack | teams | webhook
    url_env = "SLACK_WEBHOOK_URL"

    [alerts.rule_channels]         # organisation-wide rules; budgets name theirs in budgets.toml
    error_rate = ["ops-slack"]
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from foundation.errors import ConfigError

KINDS = ("slack", "teams", "webhook")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BUDGET_RULES = ("threshold", "forecast")
_KEYS = {"kind", "url_env", "secret_env", "timeout_seconds"}


@dataclass(frozen=True, kw_only=True)
class ChannelSettings:
    """One channel; `url()` and `secret()` read the environment (ConfigError naming the variable)."""

    name: str
    kind: str
    url_env: str
    secret_env: str | None = None
    timeout_seconds: float = 10.0

    @property
    def label(self) -> str:
        """e.g. 'slack channel ops-slack' (what errors and the page call it)."""
        return f"{self.kind} channel {self.name}"

    def url(self) -> str:
        value = os.environ.get(self.url_env, "").strip()
        if not value:
            raise ConfigError(
                f"alerts.channels.{self.name}.url_env: environment variable {self.url_env} is not "
                f"set; export it with the {self.kind} webhook URL"
            )
        if not re.fullmatch(r"https?://[^\s/]+\S*", value):
            raise ConfigError(
                f"alerts.channels.{self.name}.url_env: ${self.url_env} is not an http(s) URL; "
                "set it to the webhook URL (https://...)"
            )
        return value

    def secret(self) -> str | None:
        if self.secret_env is None:
            return None
        value = os.environ.get(self.secret_env, "")
        if len(value) < 16:
            raise ConfigError(
                f"alerts.channels.{self.name}.secret_env: environment variable {self.secret_env} "
                "is not set or shorter than 16 characters; export a random secret "
                "(e.g. openssl rand -hex 32)"
            )
        return value


def channel_names(value: Any) -> tuple[str, ...]:
    """A channel name or a list of them (syntax only), else ValueError with the fix (a `Setting` check)."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and NAME.fullmatch(v) for v in values):
        raise ValueError(
            f'expected a list of channel names (letters, digits, - and _), got {value!r}; write ["ops-slack"]'
        )
    return tuple(dict.fromkeys(values))


def _env_name(raw: dict[str, Any], key: str, where: str, required: bool) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
        raise ConfigError(
            f"{where}.{key}: expected the name of an environment variable, got {value!r}; "
            f'write {key} = "SLACK_WEBHOOK_URL" (never the URL or secret itself)'
        )
    return value


def parse_channel(name: str, raw: Any) -> ChannelSettings:
    where = f"alerts.channels.{name}"
    if not NAME.fullmatch(name):
        raise ConfigError(f"{where}: channel names use letters, digits, - and _; rename it, e.g. ops-slack")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table ([{where}]) with kind and url_env")
    for key in raw:
        if key in ("url", "secret"):
            raise ConfigError(f"{where}.{key}: never put the {key} in the file; set {key}_env to a variable name")
        if key not in _KEYS:
            raise ConfigError(f"{where}.{key}: unknown key; remove it or use one of {', '.join(sorted(_KEYS))}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}.kind: {kind!r} is not supported; use one of {', '.join(KINDS)}")
    secret_env = _env_name(raw, "secret_env", where, required=kind == "webhook")
    if kind != "webhook" and secret_env is not None:
        raise ConfigError(f"{where}.secret_env: only webhook channels are signed; remove it")
    timeout = raw.get("timeout_seconds", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.1 <= timeout <= 120:
        raise ConfigError(f"{where}.timeout_seconds: {timeout!r} is out of range; use 0.1..120")
    return ChannelSettings(
        name=name,
        kind=str(kind),
        url_env=str(_env_name(raw, "url_env", where, required=True)),
        secret_env=secret_env,
        timeout_seconds=float(timeout),
    )


def parse_channels(raw: Any) -> dict[str, ChannelSettings]:
    """The `[alerts.channels]` table: one sub-table per channel."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("alerts.channels: expected tables like [alerts.channels.ops-slack]; fix the section")
    return {name: parse_channel(name, table) for name, table in raw.items()}


EMAIL_ONLY_RULES = ("statement",)
"""Rules whose messages go to their owners by email, never to a shared channel."""


def parse_rule_channels(
    raw: Any, rules: tuple[str, ...], channels: dict[str, ChannelSettings]
) -> dict[str, tuple[str, ...]]:
    """`[alerts.rule_channels]`: organisation-wide rule (or `digest`) -> channel names, all configured."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError('alerts.rule_channels: expected a table, e.g. [alerts.rule_channels] error_rate = ["ops"]')
    out: dict[str, tuple[str, ...]] = {}
    allowed = [r for r in (*rules, "digest") if r not in BUDGET_RULES and r not in EMAIL_ONLY_RULES]
    for rule, value in raw.items():
        where = f"alerts.rule_channels.{rule}"
        if rule in EMAIL_ONLY_RULES:
            raise ConfigError(
                f"{where}: monthly statements go by email to each project's owners only; remove this line"
            )
        if rule in BUDGET_RULES:
            raise ConfigError(
                f"{where}: budget rules post to each budget's own channels; write channels = [...] "
                "in the budget (budgets.toml) instead"
            )
        if rule not in allowed:
            raise ConfigError(f"{where}: unknown rule; use some of {', '.join(allowed)}")
        try:
            names = channel_names(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        out[rule] = check_known(names, channels, where)
    return out


def check_known(names: tuple[str, ...], channels: dict[str, ChannelSettings], where: str) -> tuple[str, ...]:
    for name in names:
        if name not in channels:
            known = ", ".join(sorted(channels)) or "none yet"
            raise ConfigError(
                f"{where}: channel {name!r} is not configured; add [alerts.channels.{name}] or use one of: {known}"
            )
    return names


def rule_channels(table: dict[str, tuple[str, ...]], rule: str) -> tuple[str, ...]:
    """The channels of an observation's rule (`anomaly_hour` posts where `anomaly` is routed)."""
    for name, names in table.items():
        if rule == name or rule.startswith(name + "_"):
            return names
    return ()
