"""The budgets file's `[anomaly]` table: how sensitive the per-scope anomaly rule is, its floor, and muted scopes.

Why in the budgets file (not the config): like budgets, these are tuned by whoever watches the
spend, without a collector restart; the engine reads the file on every run. A mistake is a
BudgetFileError naming the file, the line, the key path and the fix; the keys are
declared once as `Setting`s (ANOMALY), like the config's.

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
from foundation.names import name_list
from foundation.settings import Setting, default, validate

MUTES = {"project": "mute_projects", "api_key": "mute_api_keys", "model": "mute_models"}


class AnomalyFileError(ConfigError):
    """The `[anomaly]` table holds a value we cannot use (the budgets file's BudgetFileError wraps it)."""


ANOMALY: tuple[Setting, ...] = (
    Setting(
        name="sensitivity",
        kind=float,
        default=6.0,
        low=0.5,
        high=100,
        help="Robust deviations (1.4826 x MAD) above the usual spend before a scope's anomaly fires.",
    ),
    Setting(
        name="floor",
        kind=float,
        default=1.0,
        low=0,
        high=1e12,
        help="Spend per hour under which nothing fires (x 24 for a day).",
    ),
    Setting(name="mute_projects", kind=object, default=(), check=name_list, help="Projects never flagged."),
    Setting(
        name="mute_api_keys",
        kind=object,
        default=(),
        check=name_list,
        help="API keys never flagged, by label or key-... fingerprint.",
    ),
    Setting(name="mute_models", kind=object, default=(), check=name_list, help="Models never flagged."),
)


@dataclass(frozen=True, kw_only=True)
class AnomalySettings:
    """`sensitivity`: how many robust deviations above the usual fire; `floor`: money per hour."""

    sensitivity: float = default(ANOMALY, "sensitivity")
    floor: float = default(ANOMALY, "floor")
    mute_projects: tuple[str, ...] = default(ANOMALY, "mute_projects")
    mute_api_keys: tuple[str, ...] = default(ANOMALY, "mute_api_keys")
    mute_models: tuple[str, ...] = default(ANOMALY, "mute_models")

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


def parse_anomaly(raw: Any) -> AnomalySettings:
    """Validate the `[anomaly]` table (missing = the defaults)."""
    return AnomalySettings(**validate(raw, ANOMALY, "anomaly", error=AnomalyFileError))


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
