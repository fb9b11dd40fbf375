"""The budgets file's `[[limits]]` (enforced by the gateway) and `[key_labels]` (names for key fingerprints).

Why the gateway's parser: the gateway loads this section without the dashboard's stack, and a
limit the page saves must be one the gateway accepts, so both use `foundation.limit_rules`; here
its errors become BudgetFileError with the file's line. `label_for` is the one display mapping
every page and alert uses, so a manager reads "search prod", never `key-3f9a...`.

Example:
    >>> labels = {"key-0123456789abcdef": "search prod"}
    >>> label_for("key-0123456789abcdef", labels), label_for("key-ffffffffffffffff", labels)
    ('search prod', 'key-ffffffffffffffff')
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from foundation.limit_rules import (
    NO_PROJECT,
    Limit,
    LimitRuleError,
    Projects,
    parse_book,
    parse_key_labels,
    parse_limit,
    toml_string,
)

__all__ = [
    "NO_PROJECT",
    "Limit",
    "Projects",
    "key_labels",
    "label_for",
    "limits_section",
    "parse_limit_form",
    "projects_section",
    "render_limits",
]


def label_for(api_key_id: str | None, labels: dict[str, str]) -> str | None:
    """The key's label, or its fingerprint when it has none (None stays None)."""
    if api_key_id is None:
        return None
    return labels.get(api_key_id, api_key_id)


def limits_section(
    doc: dict[str, Any], text: str, path: Path, error: type[Exception]
) -> tuple[list[Limit], dict[str, str]]:
    """The limits and labels of a parsed budgets document; `error` says `<file> line N: <key>: ...`."""
    book = _book(doc, text, path, error)
    return book.limits, book.labels


def projects_section(doc: dict[str, Any], text: str, path: Path, error: type[Exception]) -> Projects:
    """The key bindings and known projects of a parsed budgets document (validated with its limits)."""
    return _book(doc, text, path, error).projects


def _book(doc: dict[str, Any], text: str, path: Path, error: type[Exception]) -> Any:
    try:
        return parse_book(doc)
    except LimitRuleError as exc:
        message = str(exc)
        found = re.match(r"limits\[(\d+)\]\.(\w+)", message)
        line = _line_of(text, int(found.group(1)), found.group(2)) if found else _table_line(text, message)
        raise error(f"{path} line {line}: {message}") from None


def parse_limit_form(raw: dict[str, Any], labels: dict[str, str]) -> Limit:
    """A limit from the page's form, through the gateway's own validation (LimitRuleError names the key)."""
    return parse_limit({k: v for k, v in raw.items() if v not in (None, "")}, labels)


def render_limits(limits: list[Limit], labels: dict[str, str], projects: Projects | None = None) -> str:
    """The `[key_labels]`, `[key_projects]`, `[projects]` and `[[limits]]` tables, as appended to the budgets file."""
    out = ""
    if labels:
        out += "\n[key_labels]\n" + "".join(f"{toml_string(k)} = {toml_string(v)}\n" for k, v in sorted(labels.items()))
    out += (projects or Projects()).to_toml()
    return out + "".join("\n" + limit.to_toml() for limit in limits)


def key_labels(path: Path) -> dict[str, str]:
    """The labels of a budgets file; none when it is missing or invalid (a display never fails for it)."""
    try:
        return parse_key_labels(tomllib.loads(Path(path).read_text()).get("key_labels", {}))
    except (OSError, tomllib.TOMLDecodeError, LimitRuleError):
        return {}


def _line_of(text: str, index: int, key: str) -> int:
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if re.match(r"\s*\[\[\s*limits\s*\]\]", line)]
    if index >= len(headers):
        return 1
    end = headers[index + 1] if index + 1 < len(headers) else len(lines)
    for i in range(headers[index], end):
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return headers[index] + 1


def _table_line(text: str, message: str) -> int:
    table = re.match(r"(key_labels|key_projects|projects)\b", message)
    if table:
        for i, line in enumerate(text.splitlines()):
            if re.match(rf"\s*\[\s*{table.group(1)}\s*\]", line):
                return i + 1
    return 1
