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

__all__ = ["CONTROL", "printable"]

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 controls, DEL, and the Unicode line and paragraph separators."""


def printable(text: str) -> str:
    """`text` with each control character written as its escape (`\\n`, `\\x07`, `\\u2028`)."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
