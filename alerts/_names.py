"""Names in emails and files: a control character is refused from config, escaped from traffic.

Why two policies: a budget name, a scope or a recipient comes from someone who can fix it, so
a control character there is refused at load with the key and the fix. A project or model
name in the ledger comes from traffic, which can hold anything and cannot be refused after
the fact; it is shown with its control characters escaped, on one line. Left raw, a newline
makes the email package raise (every run, so the whole outbox expired), a trailing one ends
the headers early, and in a body it fakes a line.

Example:
    >>> printable("search\\nBcc: evil@example.com")
    'search\\\\nBcc: evil@example.com'
"""

from __future__ import annotations

import re

from foundation.errors import ConfigError

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 controls, DEL, and the Unicode line and paragraph separators."""


def printable(text: str) -> str:
    """`text` with each control character written as its escape (`\\n`, `\\x07`, `\\u2028`)."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def check_name(value: str, key: str, error: type[ConfigError] = ConfigError) -> str:
    """`value` unchanged, or `error` naming the key when it holds a control character."""
    if CONTROL.search(value):
        raise error(f"{key}: {value!r} contains a control character; remove it (names go into email headers and files)")
    return value
