"""Names in emails and files: a control character is refused from config, escaped from traffic.

Why two policies: a budget name, a scope or a recipient comes from someone who can fix it, so
a control character there is refused at load with the key and the fix. A project or model
name in the ledger comes from traffic, which can hold anything and cannot be refused after
the fact; it is shown with its control characters escaped, on one line. Left raw, a newline
makes the email package raise (every run, so the whole outbox expired), a trailing one ends
the headers early, and in a body it fakes a line.
The pattern and the escaping are `foundation.names`', shared with the limits parser and the
dashboard.
"""

from __future__ import annotations

from foundation.errors import ConfigError
from foundation.names import CONTROL, printable

__all__ = ["CONTROL", "check_name", "printable"]


def check_name(value: str, key: str, error: type[ConfigError] = ConfigError) -> str:
    """`value` unchanged, or `error` naming the key when it holds a control character."""
    if CONTROL.search(value):
        raise error(f"{key}: {value!r} contains a control character; remove it (names go into email headers and files)")
    return value
