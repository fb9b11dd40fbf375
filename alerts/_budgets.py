"""Budgets: one TOML file under data/, edited by hand or from the Budgets page.

Why TOML with one `[[budgets]]` table per budget: it is the config's format, comments
survive a hand edit, and a mistake can be reported by line. A problem raises
BudgetFileError naming the file, the line, the key path and the fix (the keys are declared once
as `Setting`s, BUDGET, and checked by foundation.settings like the config's); the page validates
a form with the same `parse_budget` before `save_budgets` replaces the file atomically.

Example file:
    [[budgets]]
    name = "search monthly"
    period = "month"            # month | week | day
    amount = 500                # in the ledger's currency
    project = "search"          # or model / api_key; none of them = the whole organisation
    thresholds = [50, 80, 100]
    forecast = true
    recipients = ["ops@example.com"]
    channels = ["ops-slack"]    # optional: [alerts.channels.<name>] in the config

The same file holds the gateway's `[[limits]]` and `[key_labels]` (alerts/_limits.py,
docs/gateway.md): validated here too, and kept as they are when the budgets are saved.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.errors import ConfigError
from foundation.limit_rules import parse_toml, read_toml, toml_string
from foundation.locks import FileLock
from foundation.money import email_money
from foundation.names import name_list, plain_name
from foundation.settings import Setting, default, validate
from ledger.queries import Filters
from ledger.storage.atomic import atomic_write_bytes

from ._anomaly_settings import AnomalySettings, anomaly_section, load_anomaly
from ._channels import channel_names
from ._limits import Limit, Projects, limits_section, projects_section, render_limits
from ._periods import ADJECTIVE, PERIODS, Period
from ._settings import emails

SCOPES = {"project": "projects", "model": "models", "api_key": "api_keys"}
_HEADER = "# Budgets for the Mistral usage monitor; see docs/alerts.md. Saved by the Budgets page.\n"


class BudgetFileError(ConfigError):
    """The budgets file (or a form) holds a value we cannot use; the message says where and how to fix it."""


class BudgetFileChanged(BudgetFileError):
    """A save refused because the file changed since the page that saves it was loaded."""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return toml_string(str(value))


def _thresholds(value: list[Any]) -> tuple[float, ...]:
    if not value or any(isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1000 for v in value):
        raise ValueError(f"{value!r} is not a list of percentages; write thresholds = [50, 80, 100]")
    return tuple(sorted({float(v) for v in value}))


def _scope(dim: str) -> Setting:
    what = dim.replace("api_key", "API key (a label or key-... fingerprint)")
    return Setting(
        name=dim,
        kind=object,
        default=(),
        check=name_list,
        help=f"One {what} or a list of them; the budget counts their spend.",
    )


BUDGET: tuple[Setting, ...] = (
    Setting(
        name="name",
        kind=str,
        required=True,
        check=plain_name,
        help="The budget's name, unique in the file (it keys the alert state).",
    ),
    Setting(name="amount", kind=float, required=True, above=0, help="Spend per period, in the config's currency."),
    Setting(
        name="period",
        kind=str,
        default="month",
        check=str.strip,
        choices=PERIODS,
        help="month, week or day, in the config's timezone.",
    ),
    *(_scope(dim) for dim in SCOPES),
    Setting(
        name="thresholds",
        kind=list,
        default=(50.0, 80.0, 100.0),
        check=_thresholds,
        help="Percentages of the amount that each send one alert (0 < p <= 1000).",
    ),
    Setting(name="forecast", kind=bool, default=True, help="Alert when the period's forecast exceeds the amount."),
    Setting(name="recipients", kind=object, default=(), check=emails, help="Email addresses of the budget's alerts."),
    Setting(
        name="channels",
        kind=object,
        default=(),
        check=channel_names,
        help="Slack / Teams / webhook channels by name ([alerts.channels.<name>] in the config).",
    ),
)
"""A `[[budgets]]` table; none of project, model and api_key = the whole organisation."""


@dataclass(frozen=True, kw_only=True)
class Budget:
    """An amount per calendar period for a scope; an empty scope is the whole organisation."""

    name: str
    amount: float
    period: str = default(BUDGET, "period")
    projects: tuple[str, ...] = default(BUDGET, "project")
    models: tuple[str, ...] = default(BUDGET, "model")
    api_keys: tuple[str, ...] = default(BUDGET, "api_key")
    thresholds: tuple[float, ...] = default(BUDGET, "thresholds")
    forecast: bool = default(BUDGET, "forecast")
    recipients: tuple[str, ...] = default(BUDGET, "recipients")
    channels: tuple[str, ...] = default(BUDGET, "channels")
    """Slack/Teams/webhook channels by name (`[alerts.channels.<name>]` in the config)."""

    @property
    def slug(self) -> str:
        """The budget's id in alert keys: its name, lower-case, non-alphanumerics as '-'."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    def scope_label(self) -> str:
        """Human scope, e.g. 'project search' or 'the organisation'."""
        parts = [
            f"{dim.replace('_', ' ')} {', '.join(getattr(self, attr))}"
            for dim, attr in SCOPES.items()
            if getattr(self, attr)
        ]
        return "; ".join(parts) or "the organisation"

    def describe(self, currency: str) -> str:
        """e.g. 'EUR 500 monthly budget'."""
        return f"{email_money(self.amount, currency)} {ADJECTIVE[self.period]} budget"

    def filters(self, period: Period, timezone: str) -> Filters:
        return Filters(
            start=period.start,
            end=period.end,
            timezone=timezone,
            projects=self.projects,
            models=self.models,
            api_keys=self.api_keys,
        )

    def to_toml(self) -> str:
        lines = [
            "[[budgets]]",
            f"name = {_toml_value(self.name)}",
            f"period = {_toml_value(self.period)}",
            f"amount = {_toml_value(self.amount)}",
        ]
        for dim, attr in SCOPES.items():
            values = getattr(self, attr)
            if values:
                lines.append(f"{dim} = {_toml_value(values[0] if len(values) == 1 else list(values))}")
        lines += [
            f"thresholds = {_toml_value(list(self.thresholds))}",
            f"forecast = {_toml_value(self.forecast)}",
            f"recipients = {_toml_value(list(self.recipients))}",
        ]
        if self.channels:
            lines.append(f"channels = {_toml_value(list(self.channels))}")
        return "\n".join(lines) + "\n"


BUDGETS_FILE: tuple[Setting, ...] = (
    Setting(name="budgets", kind=list, default=(), help="[[budgets]]: one table per budget (below)."),
    Setting(name="anomaly", kind=dict, default={}, help="[anomaly]: the per-scope anomaly rule's tuning (below)."),
    Setting(name="limits", kind=list, default=(), help="[[limits]]: the gateway's spend and rate limits (below)."),
    Setting(name="key_labels", kind=dict, default={}, help="[key_labels]: a label for each key fingerprint."),
    Setting(name="key_projects", kind=dict, default={}, help="[key_projects]: the project each bound key is."),
    Setting(name="projects", kind=dict, default={}, help="[projects]: the projects a request may name."),
)
"""The budgets file's tables; each is checked by its own settings (BUDGET, ANOMALY, foundation.limit_rules')."""


def parse_budget(raw: dict[str, Any], where: str = "") -> Budget:
    """Validate one budget table (a file's `budgets[i]`, or a form's); BudgetFileError names the key path."""
    values = validate(raw, BUDGET, where, error=BudgetFileError)
    scope = {attr: values.pop(dim) for dim, attr in SCOPES.items()}
    return Budget(**values, **scope)


def _line_of(text: str, index: int, key: str | None) -> int:
    """1-based line of `key` inside the index-th [[budgets]] table (or of its header)."""
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if re.match(r"\s*\[\[\s*budgets\s*\]\]", line)]
    if index >= len(headers):
        return 1
    start = headers[index]
    end = headers[index + 1] if index + 1 < len(headers) else len(lines)
    for i in range(start, end):
        if key and re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start + 1


def parse_budgets(text: str, path: Path) -> list[Budget]:
    """Parse a budgets document; BudgetFileError says `<file> line N: <key>: <problem>; <fix>`."""
    doc = parse_toml(text, path, BudgetFileError)
    try:
        validate(doc, BUDGETS_FILE, error=BudgetFileError)
    except BudgetFileError as exc:
        raise BudgetFileError(f"{path}: {exc}") from None
    limits_section(doc, text, path, BudgetFileError)
    anomaly_section(doc, text, path, BudgetFileError)
    budgets: list[Budget] = []
    for index, raw in enumerate(doc.get("budgets", [])):
        try:
            budgets.append(parse_budget(raw, f"budgets[{index}]"))
        except BudgetFileError as exc:
            key = re.match(r"budgets\[\d+\]\.(\w+)", str(exc))
            raise BudgetFileError(f"{path} line {_line_of(text, index, key and key.group(1))}: {exc}") from None
    _unique(budgets, text, path)
    return budgets


def _unique(budgets: list[Budget], text: str, path: Path) -> None:
    seen: set[str] = set()
    for index, budget in enumerate(budgets):
        if budget.slug in seen or not budget.slug:
            line = _line_of(text, index, "name")
            raise BudgetFileError(
                f"{path} line {line}: budgets[{index}].name: {budget.name!r} is empty or used twice "
                f"(names key the alert state); give each budget its own name"
            )
        seen.add(budget.slug)


def load_budgets(path: Path) -> list[Budget]:
    """The budgets in `path`; none when the file does not exist yet."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return parse_budgets(text, Path(path))


def render_budgets(
    budgets: list[Budget],
    limits: list[Limit] | None = None,
    labels: dict[str, str] | None = None,
    projects: Projects | None = None,
    anomaly: AnomalySettings | None = None,
) -> str:
    rendered = render_limits(limits or [], labels or {}, projects or Projects())
    tuned = "" if anomaly is None or anomaly == AnomalySettings() else "\n" + anomaly.to_toml()
    return _HEADER + "".join("\n" + b.to_toml() for b in budgets) + rendered + tuned


def load_limits(path: Path) -> tuple[list[Limit], dict[str, str]]:
    """The gateway's limits and the key labels in `path`; none when the file does not exist yet."""
    found = read_toml(path, BudgetFileError)
    if found is None:
        return [], {}
    text, doc = found
    return limits_section(doc, text, Path(path), BudgetFileError)


def load_projects(path: Path) -> Projects:
    """The file's `[key_projects]` and `[projects]` (docs/gateway.md); none when the file does not exist yet."""
    found = read_toml(path, BudgetFileError)
    if found is None:
        return Projects()
    text, doc = found
    return projects_section(doc, text, Path(path), BudgetFileError)


def file_version(path: Path) -> str:
    """What the budgets file holds now, as a short hash ("absent" if there is none): a page keeps
    it from the moment it drew its forms, and hands it back to `save_budgets`/`save_limits`."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except FileNotFoundError:
        return "absent"


def save_budgets(path: Path, budgets: list[Budget], loaded: str | None = None) -> Path:
    """Validate (names unique) and replace the file atomically, keeping its limits, key labels, bindings and [anomaly].

    With `loaded` (a `file_version`), the save is refused with BudgetFileChanged if the file
    changed since then: another session or an editor saved it, and this save would drop that edit.
    """
    with _saving(Path(path), loaded):
        limits, labels = load_limits(path)
        return _save(Path(path), render_budgets(budgets, limits, labels, load_projects(path), load_anomaly(path)))


def save_limits(path: Path, limits: list[Limit], labels: dict[str, str], loaded: str | None = None) -> Path:
    """Replace the limits and key labels (validated, names unique), keeping the budgets, the key
    bindings and [anomaly] (`loaded`: as for `save_budgets`)."""
    with _saving(Path(path), loaded):
        kept = render_budgets(load_budgets(path), limits, labels, load_projects(path), load_anomaly(path))
        return _save(Path(path), kept)


@contextmanager
def _saving(path: Path, loaded: str | None) -> Iterator[None]:
    """One save at a time across sessions and processes; the file as `loaded`, or refused."""
    with FileLock(path.with_name(f".{path.name}.lock"), "budgets page save").held():
        if loaded is not None and file_version(path) != loaded:
            raise BudgetFileChanged(
                f"{path} changed since this page was loaded (another session or an editor saved it); "
                "nothing was saved, so that edit is kept: the page now shows the file as it is, make your change again"
            )
        yield


def _save(path: Path, text: str) -> Path:
    parse_budgets(text, path)
    return atomic_write_bytes(path, text.encode())
