"""Limits and key labels from the budgets file: the `[[limits]]` tables and `[key_labels]`.

Why in foundation, stdlib only: the gateway enforces these rules and must not import the
dashboard's or the ledger's stack to read them; the alerts engine and the Budgets page
(`alerts/_limits.py`) validate with the very same parser, so a file the page saves is a file the
gateway loads, and neither imports the other. The keys are declared once as `Setting`s (LIMIT,
PROJECTS; a label or a binding is one `Setting` too) and checked by foundation.settings, so every
error names the key path (`limits[0].amount`, `key_labels.key-...`) and the fix like the config's.
A name or label with a control character is refused (it ends up in 429 messages, headers and emails).

Names are compared normalised (`normal_name`: NFKC, casefolded, format characters dropped, trimmed
of spaces and punctuation), so `Search`, `SEARCH` and `search.` are one project; a limit's
`project` and `model` are stored so. A request without a project, or with one no limit, binding
or `[projects] known` list names, is in the `(no project)` scope, which a limit can name.

Example file:
    [key_labels]
    "key-0123456789abcdef" = "search prod"

    [key_projects]              # a bound key's project is this, whatever its X-Project header says
    "search prod" = "search"    # a key label or a key-... fingerprint

    [projects]
    known = ["web", "batch"]    # projects a request may name, besides those the limits and bindings name

    [[limits]]
    name = "search daily"
    project = "search"          # or "(no project)"; and/or api_key (a label or a key-... fingerprint) and/or model
    period = "day"              # day | week | month, in `timezone` (default: the gateway's)
    amount = 1.0                # spend per period, in the gateway's limits_currency
    requests_per_minute = 600
    tokens_per_minute = 200000
    hard = true                 # false = soft: a response header and a log line, no refusal
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_keys import time_zone
from .errors import MonitorError
from .names import CONTROL, plain_name
from .periods import PERIODS
from .settings import Setting, default, key_path, validate

SCOPES = ("project", "api_key", "model")
NO_PROJECT = "(no project)"
"""The scope of a request without a known project (none sent, or one nothing in the file names)."""
FINGERPRINT = re.compile(r"key[-_][A-Za-z0-9]{1,64}")
"""A key id as sources record it: the gateway's `key-<16 hex>`, the simulator's and OpenAI's `key_...`;
never a secret (`sk-...`), which a label must not be keyed by."""


class LimitRuleError(MonitorError, ValueError):
    """A limit or key label we cannot use; the message starts with the key path and ends with the fix."""


def _scope(dim: str) -> Callable[[str], str]:
    """A limit's `project` or `model` as matched: normalised (NO_PROJECT as is); ValueError when nothing is left."""

    def check(value: str) -> str:
        if dim == "project" and value.strip().casefold() == NO_PROJECT:
            return NO_PROJECT
        found = normal_name(plain_name(value))
        if found is None:
            raise ValueError(f'{value!r} has no letters or digits; write a name, e.g. {dim} = "search"')
        return found

    return check


def _time_zone(value: str) -> str:
    return time_zone(plain_name(value))


LIMIT: tuple[Setting, ...] = (
    Setting(
        name="name",
        kind=str,
        required=True,
        check=plain_name,
        help="The limit's name, unique in the file (it keys the limit's state).",
    ),
    Setting(
        name="project",
        kind=str,
        check=_scope("project"),
        help='Limit this project\'s requests (compared normalised), or "(no project)".',
    ),
    Setting(
        name="api_key",
        kind=str,
        check=plain_name,
        help="Limit this API key's requests: a [key_labels] label or a key-... fingerprint.",
    ),
    Setting(
        name="model", kind=str, check=_scope("model"), help="Limit this model's requests (an alias or its target)."
    ),
    Setting(
        name="period",
        kind=str,
        default="day",
        check=str.strip,
        choices=PERIODS,
        help="day, week or month: the spend's period.",
    ),
    Setting(
        name="amount",
        kind=float,
        above=0,
        help="Spend per period, in the gateway's limits_currency (none: no spend limit).",
    ),
    Setting(name="requests_per_minute", kind=int, low=1, help="Requests per minute (none: no request limit)."),
    Setting(name="tokens_per_minute", kind=int, low=1, help="Tokens per minute (none: no token limit)."),
    Setting(name="hard", kind=bool, default=True, help="false: soft, a response header and a log line, no refusal."),
    Setting(
        name="timezone",
        kind=str,
        check=_time_zone,
        help="IANA time zone of the period's boundaries (default: the gateway's limits_timezone).",
    ),
)
"""A `[[limits]]` table; it needs amount, requests_per_minute or tokens_per_minute."""
PROJECT_NAME = Setting(name="project", kind=str, check=_scope("project"), help="A project, normalised.")
LABEL = Setting(name="label", kind=str, required=True, check=plain_name, help="A key's label.")
PROJECT = Setting(name="project", kind=str, required=True, check=plain_name, help="A key's project.")
PROJECTS: tuple[Setting, ...] = (
    Setting(
        name="known",
        kind=list,
        default=(),
        example='["web", "batch"]',
        check=lambda names: tuple(_known(n) for n in names),
        help="Projects a request may name, besides those the limits and [key_projects] name.",
    ),
)


def _known(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f'{value!r} is not a name; write known = ["web", "batch"]')
    return plain_name(value)


@dataclass(frozen=True, kw_only=True)
class Limit:
    """A spend limit per period and/or a rate limit per minute, for requests matching every scope set."""

    name: str
    project: str | None = default(LIMIT, "project")
    api_key: str | None = default(LIMIT, "api_key")
    model: str | None = default(LIMIT, "model")
    period: str = default(LIMIT, "period")
    amount: float | None = default(LIMIT, "amount")
    requests_per_minute: int | None = default(LIMIT, "requests_per_minute")
    tokens_per_minute: int | None = default(LIMIT, "tokens_per_minute")
    hard: bool = default(LIMIT, "hard")
    timezone: str | None = default(LIMIT, "timezone")
    key_ids: frozenset[str] = frozenset()
    """The fingerprints `api_key` stands for (its label resolved through `[key_labels]`)."""
    key_label: str | None = None
    """How `api_key` is shown: its label when it is a labelled fingerprint."""

    def matches(
        self,
        project: str,
        key_id: str | None,
        models: Collection[str],
        resolve: Callable[[str], str | None] = lambda model: model,
    ) -> bool:
        """`project` is the request's scope (a known project or NO_PROJECT); `models` its normalised
        model and what that resolves to today; the limit's model matches by either name too."""
        return (
            (self.project is None or project == self.project)
            and (self.api_key is None or key_id in self.key_ids)
            and self.covers_model(models, resolve)
        )

    def covers_model(self, models: Collection[str], resolve: Callable[[str], str | None] = lambda m: m) -> bool:
        return self.model is None or self.model in models or resolve(self.model) in models

    @property
    def wide(self) -> bool:
        """Scoped by neither a project nor a key: its spend is other callers' too, so a 429 never shows it."""
        return self.project in (None, NO_PROJECT) and self.api_key is None

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


def normal_name(value: str | None) -> str | None:
    """A project or model name as compared: NFKC, casefolded, format and control characters dropped,
    runs of spaces one space, leading and trailing spaces and punctuation trimmed; None when empty.

    >>> [normal_name(v) for v in ("Search", " SEARCH. ", "ｓｅａｒｃｈ", "sea\u200brch", "", None)]
    ['search', 'search', 'search', 'search', None, None]
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value).casefold()
    text = " ".join("".join(c for c in text if c.isspace() or unicodedata.category(c) not in ("Cf", "Cc")).split())
    start, end = 0, len(text)
    while start < end and _trimmed(text[start]):
        start += 1
    while end > start and _trimmed(text[end - 1]):
        end -= 1
    return text[start:end] or None


def _trimmed(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def parse_key_labels(raw: Any) -> dict[str, str]:
    """`[key_labels]`: fingerprint -> label; labels unique, so a limit's `api_key` label is unambiguous."""
    if not isinstance(raw, dict):
        raise LimitRuleError('key_labels: expected a table; write [key_labels] then "key-..." = "label"')
    labels: dict[str, str] = {}
    for key_id, label in raw.items():
        if not FINGERPRINT.fullmatch(key_id):
            raise LimitRuleError(
                f"key_labels.{key_id}: {key_id!r} is not an API key fingerprint; use the key-... or key_... "
                f"id shown on the dashboard"
            )
        labels[key_id] = LABEL.parse(label, f"key_labels.{key_id}", LimitRuleError)
    if len(set(labels.values())) < len(labels):
        raise LimitRuleError("key_labels: a label is used twice; give each key its own label")
    return labels


def parse_limit(raw: Any, labels: dict[str, str], where: str = "") -> Limit:
    """One `[[limits]]` table (`where`: its key path, e.g. `limits[0]`); LimitRuleError names the key path."""
    values = validate(raw, LIMIT, where, error=LimitRuleError)
    if values["amount"] is None and values["requests_per_minute"] is None and values["tokens_per_minute"] is None:
        raise LimitRuleError(
            f"{key_path(where, 'amount')}: a limit needs amount, requests_per_minute or tokens_per_minute; add one"
        )
    key = values["api_key"]
    key_ids = _key_ids(key, labels)
    if key is not None and not key_ids:
        raise LimitRuleError(
            f"{key_path(where, 'api_key')}: {key!r} is neither a key label nor a key-... fingerprint; "
            f"add it to [key_labels] or use the fingerprint"
        )
    return Limit(**values, key_ids=key_ids, key_label=labels.get(key or ""))


def _key_ids(key: str | None, labels: dict[str, str]) -> frozenset[str]:
    """The fingerprints a limit's `api_key` (a label or a fingerprint) stands for."""
    if key is None:
        return frozenset()
    return frozenset([k for k, label in labels.items() if label == key] + ([key] if FINGERPRINT.fullmatch(key) else []))


@dataclass(frozen=True, kw_only=True)
class Projects:
    """`[key_projects]` and `[projects]`: the project each bound key is, and the projects a request may name."""

    bound: Mapping[str, str] = field(default_factory=dict)
    """Key fingerprint -> its project (normalised)."""
    known: frozenset[str] = frozenset()
    """Normalised: listed in `[projects] known`, bound to a key, or named by a limit."""
    written: tuple[tuple[str, str], ...] = ()
    """`[key_projects]` as written (a label or fingerprint, a project), kept when the page saves the file."""
    listed: tuple[str, ...] = default(PROJECTS, "known")
    """`[projects] known` as written."""

    def project_of(self, sent: str | None, key_id: str | None) -> str | None:
        """The request's project: its key's binding, else the header's value normalised (None when empty)."""
        bound = self.bound.get(key_id) if key_id is not None else None
        return bound if bound is not None else normal_name(sent)

    def scope_of(self, project: str | None) -> str:
        """The project a limit sees: a known project, else NO_PROJECT."""
        return project if project is not None and project in self.known else NO_PROJECT

    def to_toml(self) -> str:
        out = ""
        if self.written:
            out += "\n[key_projects]\n" + "".join(f"{toml_string(k)} = {toml_string(v)}\n" for k, v in self.written)
        if self.listed:
            out += "\n[projects]\nknown = [" + ", ".join(toml_string(p) for p in self.listed) + "]\n"
        return out


@dataclass(frozen=True, kw_only=True)
class LimitBook:
    """Everything the gateway reads from the budgets file."""

    limits: list[Limit] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    projects: Projects = field(default_factory=Projects)


def parse_projects(doc: dict[str, Any], limits: list[Limit], labels: dict[str, str]) -> Projects:
    """`[key_projects]` (a key label or fingerprint = a project) and `[projects] known = [...]`."""
    raw = doc.get("key_projects", {})
    if not isinstance(raw, dict):
        raise LimitRuleError('key_projects: expected a table; write [key_projects] then "key label" = "project"')
    bound: dict[str, str] = {}
    written: list[tuple[str, str]] = []
    for key, value in raw.items():
        name = f"key_projects.{key}"
        project = PROJECT.parse(value, name, LimitRuleError)
        if project.casefold() == NO_PROJECT:
            raise LimitRuleError(f"{name}: a key cannot be bound to {NO_PROJECT}; bind it to a project or remove it")
        ids = _key_ids(key, labels)
        if not ids:
            raise LimitRuleError(
                f"{name}: {key!r} is neither a key label nor a key-... fingerprint; "
                f"add it to [key_labels] or use the fingerprint"
            )
        for key_id in ids:
            if key_id in bound:
                raise LimitRuleError(f"{name}: the key is bound twice; keep one binding per key")
            bound[key_id] = PROJECT_NAME.parse(project, name, LimitRuleError)
        written.append((key, project))
    names = validate(doc.get("projects", {}), PROJECTS, "projects", error=LimitRuleError)["known"]
    known = {PROJECT_NAME.parse(p, "projects.known", LimitRuleError) for p in names} | set(bound.values())
    known |= limit_projects(limits)
    return Projects(bound=bound, known=frozenset(known), written=tuple(written), listed=tuple(names))


def limit_projects(limits: list[Limit]) -> frozenset[str]:
    """The projects the limits name (known projects, whatever else the file says)."""
    return frozenset(lim.project for lim in limits if lim.project is not None and lim.project != NO_PROJECT)


def parse_book(doc: dict[str, Any]) -> LimitBook:
    """The limits, key labels and project bindings of a parsed budgets document."""
    limits, labels = parse_limits(doc)
    return LimitBook(limits=limits, labels=labels, projects=parse_projects(doc, limits, labels))


def parse_limits(doc: dict[str, Any]) -> tuple[list[Limit], dict[str, str]]:
    """The limits and key labels of a parsed budgets document (other tables are ignored here)."""
    labels = parse_key_labels(doc.get("key_labels", {}))
    raw = doc.get("limits", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise LimitRuleError("limits: expected [[limits]] tables; start each limit with [[limits]]")
    limits: list[Limit] = []
    for index, table in enumerate(raw):
        limits.append(parse_limit(table, labels, f"limits[{index}]"))
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


def load_book(path: Path) -> LimitBook:
    """The limits, key labels and project bindings in a budgets file; none when it does not exist."""
    found = read_toml(path, LimitRuleError)
    if found is None:
        return LimitBook()
    try:
        return parse_book(found[1])
    except LimitRuleError as exc:
        raise LimitRuleError(f"{path}: {exc}") from None


def load_limit_file(path: Path) -> tuple[list[Limit], dict[str, str]]:
    """The limits and key labels in a budgets file; none when it does not exist."""
    book = load_book(path)
    return book.limits, book.labels
