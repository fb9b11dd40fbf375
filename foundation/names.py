"""Names from traffic, config or people, where they meet a header, a file or a line-based format.

Why one pattern: an email header, a TOML file, a 429 message and a Markdown line all break on
the same characters, so the budgets file, the limits parser, the alerts and the dashboard's
escaping refuse or escape exactly these.

Example:
    >>> printable("search\\nBcc: evil@example.com")
    'search\\\\nBcc: evil@example.com'
    >>> bool(CONTROL.search("a\\u2028b"))
    True
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["CONTROL", "name_list", "plain_name", "printable"]

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 controls, DEL, and the Unicode line and paragraph separators."""


def printable(text: str) -> str:
    """`text` with each control character written as its escape (`\\n`, `\\x07`, `\\u2028`)."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def plain_name(value: str) -> str:
    """A config name (a budget's, a limit's, a label): stripped, not empty, no control character;
    else ValueError saying how to fix it (a `Setting` check: the validator adds the key path)."""
    if not value.strip():
        raise ValueError('empty; write a name, e.g. "search"')
    if CONTROL.search(value):
        raise ValueError(f"{value!r} contains a control character; remove it (names go into headers, emails and files)")
    return value.strip()


def name_list(value: Any) -> tuple[str, ...]:
    """One name or a list of names, each a `plain_name`; else ValueError with the fix."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f'expected a name or a list of names, got {value!r}; write ["search"]')
    return tuple(plain_name(v) for v in values)
