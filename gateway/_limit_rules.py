"""Limits and key labels from the budgets file: the `[[limits]]` tables and `[key_labels]`.

Why here, stdlib only: the gateway enforces these rules and must not import the dashboard's or
the ledger's stack to read them; the Budgets page (`alerts/_limits.py`) validates with the very
same parser, so a file the page saves is a file the gateway loads. A name or label with a
control character is refused (it ends up in 429 messages, headers and emails).

Example file:
    [key_labels]
    "key-0123456789abcdef" = "search prod"

    [[limits]]
    name = "search daily"
    project = "search"          # and/or api_key (a label or a key-... fingerprint) and/or model
    period = "day"              # day | week | month, in `timezone` (default: the gateway's)
    amount = 1.0                # spend per period, in the gateway's limits_currency
    requests_per_minute = 600
    tokens_per_minute = 200000
    hard = true                 # false = soft: a response header and a log line, no refusal
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
PERIODS = ("day", "week", "month")
SCOPES = ("project", "api_key", "model")
KEYS = {"name", "period", "amount", "requests_per_minute", "tokens_per_minute", "hard", "timezone", *SCOPES}
FINGERPRINT = re.compile(r"key[-_][A-Za-z0-9]{1,64}")
"""A key id as sources record it: the gateway's `key-<16 hex>`, the simulator's and OpenAI's `key_...`;
never a secret (`sk-...`), which a label must not be keyed by."""


class LimitRuleError(ValueError):
    """A limit or key label we cannot use; the message starts with the key and ends with the fix."""


@dataclass(frozen=True, kw_only=True)
class Limit:
    """A spend limit per period and/or a rate limit per minute, for requests matching every scope set."""

    name: str
    project: str | None = None
    api_key: str | None = None
    model: str | None = None
    period: str = "day"
    amount: float | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    hard: bool = True
    timezone: str | None = None
    key_ids: frozenset[str] = frozenset()
    """The fingerprints `api_key` stands for (its label resolved through `[key_labels]`)."""
    key_label: str | None = None
    """How `api_key` is shown: its label when it is a labelled fingerprint."""

    def matches(self, project: str | None, key_id: str | None, model: str | None) -> bool:
        return (
            (self.project is None or project == self.project)
            and (self.api_key is None or key_id in self.key_ids)
            and (self.model is None or model == self.model)
        )

    def scope_label(self) -> str:
        """e.g. 'project search, API key search prod'; 'the organisation' when unscoped."""
        shown = {"project": self.project, "api_key": self.key_label or self.api_key, "model": self.model}
        parts = [f"{dim.replace('api_key', 'API key')} {value}" for dim, value in shown.items() if value is not None]
        return ", ".join(parts) or "the organisation"

    def to_toml(self) -> str:
        lines = ["[[limits]]", f"name = {toml_string(self.name)}"]
        for key in (*SCOPES, "timezone"):
            value = getattr(self, key)
            if value is not None:
                lines.append(f"{key} = {toml_string(value)}")
        if self.amount is not None:
            lines += [f"period = {toml_string(self.period)}", f"amount = {self.amount!r}"]
        for key in ("requests_per_minute", "tokens_per_minute"):
            if getattr(self, key) is not None:
                lines.append(f"{key} = {getattr(self, key)}")
        lines.append(f"hard = {'true' if self.hard else 'false'}")
        return "\n".join(lines) + "\n"


def toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + CONTROL.sub(lambda m: f"\\u{ord(m.group()):04X}", escaped) + '"'


def check_text(value: Any, key: str) -> str:
    """A non-empty name without control characters, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise LimitRuleError(f'{key}: missing or empty; write {key} = "..."')
    if CONTROL.search(value):
        raise LimitRuleError(
            f"{key}: {value!r} contains a control character; remove it (names go into 429 messages, headers and emails)"
        )
    return value.strip()


def parse_key_labels(raw: Any) -> dict[str, str]:
    """`[key_labels]`: fingerprint -> label; labels unique, so a limit's `api_key` label is unambiguous."""
    if not isinstance(raw, dict):
        raise LimitRuleError('key_labels: expected a table; write [key_labels] then "key-..." = "label"')
    labels: dict[str, str] = {}
    for key_id, label in raw.items():
        if not FINGERPRINT.fullmatch(key_id):
            raise LimitRuleError(
                f"key_labels: {key_id!r} is not an API key fingerprint; use the key-... or key_... "
                f"id shown on the dashboard"
            )
        labels[key_id] = check_text(label, f"key_labels.{key_id}")
    if len(set(labels.values())) < len(labels):
        raise LimitRuleError("key_labels: a label is used twice; give each key its own label")
    return labels


def parse_limit(raw: dict[str, Any], labels: dict[str, str]) -> Limit:
    """One `[[limits]]` table; LimitRuleError names the key."""
    for key in raw:
        if key not in KEYS:
            raise LimitRuleError(f"{key}: unknown key; use some of {', '.join(sorted(KEYS))}")
    scope = {dim: check_text(raw[dim], dim) for dim in SCOPES if dim in raw}
    period = check_text(raw.get("period", "day"), "period")
    if period not in PERIODS:
        raise LimitRuleError(f"period: {period!r} is not supported; use one of {', '.join(PERIODS)}")
    amount = _positive(raw, "amount", float)
    rpm, tpm = _positive(raw, "requests_per_minute", int), _positive(raw, "tokens_per_minute", int)
    if amount is None and rpm is None and tpm is None:
        raise LimitRuleError("amount: a limit needs amount, requests_per_minute or tokens_per_minute; add one")
    hard = raw.get("hard", True)
    if not isinstance(hard, bool):
        raise LimitRuleError(f"hard: expected true or false, got {hard!r}")
    zone = _zone(raw.get("timezone"))
    key_ids = _key_ids(scope.get("api_key"), labels)
    if "api_key" in scope and not key_ids:
        key = scope["api_key"]
        raise LimitRuleError(
            f"api_key: {key!r} is neither a key label nor a key-... fingerprint; "
            f"add it to [key_labels] or use the fingerprint"
        )
    label = labels.get(scope.get("api_key", ""))
    return Limit(
        name=check_text(raw.get("name"), "name"),
        period=period,
        amount=amount,
        requests_per_minute=rpm,
        tokens_per_minute=tpm,
        hard=hard,
        timezone=zone,
        key_ids=key_ids,
        key_label=label,
        **scope,
    )


def _key_ids(key: str | None, labels: dict[str, str]) -> frozenset[str]:
    """The fingerprints a limit's `api_key` (a label or a fingerprint) stands for."""
    if key is None:
        return frozenset()
    return frozenset([k for k, label in labels.items() if label == key] + ([key] if FINGERPRINT.fullmatch(key) else []))


def _positive(raw: dict[str, Any], key: str, kind: type) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    wrong = isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
    if wrong or (kind is int and not isinstance(value, int)):
        example = "1000" if kind is int else "25.5"
        raise LimitRuleError(
            f"{key}: {value!r} is not a positive {'whole ' if kind is int else ''}number; write e.g. {key} = {example}"
        )
    return kind(value)


def _zone(value: Any) -> str | None:
    if value is None:
        return None
    name = check_text(value, "timezone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise LimitRuleError(f'timezone: {name!r} is not a time zone; write e.g. timezone = "Europe/Paris"') from None
    return name


def parse_limits(doc: dict[str, Any]) -> tuple[list[Limit], dict[str, str]]:
    """The limits and key labels of a parsed budgets document (other tables are ignored here)."""
    labels = parse_key_labels(doc.get("key_labels", {}))
    raw = doc.get("limits", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise LimitRuleError("limits: expected [[limits]] tables; start each limit with [[limits]]")
    limits: list[Limit] = []
    for index, table in enumerate(raw):
        try:
            limits.append(parse_limit(table, labels))
        except LimitRuleError as exc:
            raise LimitRuleError(f"limits[{index}].{exc}") from None
    names = [limit.name for limit in limits]
    if len(set(names)) < len(names):
        raise LimitRuleError("limits: a name is used twice (names key the limits' state); give each its own name")
    return limits, labels


def parse_toml(text: str, path: Path, error: type[Exception]) -> dict[str, Any]:
    """The TOML document `text` (read from `path`), or `error` naming the file and the fix."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: invalid TOML: {exc}; fix the syntax at that line") from None


def read_toml(path: Path, error: type[Exception]) -> tuple[str, dict[str, Any]] | None:
    """The text and document of a budgets file; None when it does not exist yet."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return None
    return text, parse_toml(text, path, error)


def load_limit_file(path: Path) -> tuple[list[Limit], dict[str, str]]:
    """The limits and key labels in a budgets file; none when it does not exist."""
    found = read_toml(path, LimitRuleError)
    if found is None:
        return [], {}
    try:
        return parse_limits(found[1])
    except LimitRuleError as exc:
        raise LimitRuleError(f"{path}: {exc}") from None
