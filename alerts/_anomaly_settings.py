"""The budgets file's `[anomaly]` table: how sensitive the per-scope anomaly rule is, its floor, and muted scopes.

Why in the budgets file (not the config): like budgets, these are tuned by whoever watches the
spend, without a collector restart; the engine reads the file on every run. A mistake is a
BudgetFileError naming the file, the line and the fix.

Example file:
    [anomaly]
    sensitivity = 6             # robust deviations (1.4826 x MAD) above the usual before it fires
    floor = 1                   # spend per hour under which nothing fires (x 24 for the day)
    mute_projects = ["load-tests"]
    mute_api_keys = ["nightly batch"]   # a key label or fingerprint
    mute_models = []

    >>> parse_anomaly({"sensitivity": 4, "mute_models": "mistral-embed"}).mute_models
    ('mistral-embed',)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.errors import ConfigError
from foundation.limit_rules import read_toml, toml_string

from ._names import check_name

MUTES = {"project": "mute_projects", "api_key": "mute_api_keys", "model": "mute_models"}
_KEYS = ("sensitivity", "floor", *MUTES.values())


class AnomalyFileError(ConfigError):
    """The `[anomaly]` table holds a value we cannot use (the budgets file's BudgetFileError wraps it)."""


@dataclass(frozen=True, kw_only=True)
class AnomalySettings:
    """`sensitivity`: how many robust deviations above the usual fire; `floor`: money per hour."""

    sensitivity: float = 6.0
    floor: float = 1.0
    mute_projects: tuple[str, ...] = ()
    mute_api_keys: tuple[str, ...] = ()
    mute_models: tuple[str, ...] = ()

    def muted(self, dim: str, value: str, label: str | None = None) -> bool:
        """Whether the scope is muted; a key is matched by its fingerprint or its label."""
        names: tuple[str, ...] = getattr(self, MUTES[dim])
        return value in names or (label is not None and label in names)

    def to_toml(self) -> str:
        lines = ["[anomaly]", f"sensitivity = {self.sensitivity:g}", f"floor = {self.floor:g}"]
        for attr in MUTES.values():
            values: tuple[str, ...] = getattr(self, attr)
            if values:
                lines.append(f"{attr} = [{', '.join(toml_string(v) for v in values)}]")
        return "\n".join(lines) + "\n"


def _number(raw: dict[str, Any], key: str, default: float, low: float, high: float, example: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise AnomalyFileError(f"anomaly.{key}: {value!r} is not a number from {low:g} to {high:g}; write {example}")
    return float(value)


def _names(raw: dict[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise AnomalyFileError(f'anomaly.{key}: expected a list of names, got {value!r}; write {key} = ["name"]')
    return tuple(check_name(v, f"anomaly.{key}", AnomalyFileError).strip() for v in values)


def parse_anomaly(raw: Any) -> AnomalySettings:
    """Validate the `[anomaly]` table (missing = the defaults)."""
    if not isinstance(raw, dict):
        raise AnomalyFileError("anomaly: expected one [anomaly] table; write [anomaly] then sensitivity = 6")
    for key in raw:
        if key not in _KEYS:
            raise AnomalyFileError(f"anomaly.{key}: unknown key; use some of {', '.join(_KEYS)}")
    return AnomalySettings(
        sensitivity=_number(raw, "sensitivity", 6.0, 0.5, 100, "sensitivity = 6"),
        floor=_number(raw, "floor", 1.0, 0, 1e12, "floor = 1"),
        **{attr: _names(raw, attr) for attr in MUTES.values()},
    )


def anomaly_section(doc: dict[str, Any], text: str, path: Path, error: type[Exception]) -> AnomalySettings:
    """The settings of a parsed budgets document; `error` says `<file> line N: anomaly.<key>: ...`."""
    try:
        return parse_anomaly(doc.get("anomaly", {}))
    except AnomalyFileError as exc:
        found = re.match(r"anomaly\.(\w+)", str(exc))
        raise error(f"{path} line {_line_of(text, found.group(1) if found else None)}: {exc}") from None


def load_anomaly(path: Path) -> AnomalySettings:
    """The `[anomaly]` table of a budgets file; the defaults when the file or the table is missing."""
    found = read_toml(path, AnomalyFileError)
    if found is None:
        return AnomalySettings()
    text, doc = found
    return anomaly_section(doc, text, Path(path), AnomalyFileError)


def _line_of(text: str, key: str | None) -> int:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"\s*\[\s*anomaly\s*\]", line)), None)
    if start is None:
        return 1
    for i in range(start + 1, len(lines)):
        if re.match(r"\s*\[", lines[i]):
            break
        if key and re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start + 1
