"""The one scrubber for everything the product prints or writes: every log line (through
`foundation.log`), the collector's status file, quarantine files and provider snapshots, the
alerts' webhook errors. One registry of secrets: the collector's source tokens, the gateway's
usage token and key salt, the alerts' SMTP password and webhook URLs.

Why one function and two kinds of match: a source that answers an error by echoing the request
(`{"error": "bad header Authorization: Bearer sk-..."}`) puts the token into an exception
message, and from there into every place that message travels. The configured tokens are
replaced exactly, wherever they appear; text that merely looks like a credential (a `Bearer`
or `Basic` value, a value keyed `api_key`/`token`/`password`/`secret`/`authorization`, an
`sk-...` key) is replaced too, since a source may echo a key we never registered.

Example:
    >>> register_secret("tok-123456789")
    >>> scrub('HTTP 400: {"echo": "Authorization: Bearer tok-123456789"}')
    'HTTP 400: {"echo": "Authorization: Bearer ***"}'
"""

from __future__ import annotations

import re
import threading
from typing import Any

import orjson

MASK = "***"
_secrets: set[str] = set()
_lock = threading.Lock()
_VALUE = r"[^\s\"'\\,;&}\]]{8,}"
_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)\b((?:x-)?api[-_]?key|authorization|access[-_]?token|token|secret|password)"
        r"(\\?[\"']?\s*[:=]\s*\\?[\"']?)(?!(?:bearer|basic)\s)" + _VALUE
    ),
    re.compile(r"\b()()(?:sk|pk|rk)-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"),
)


def register_secret(value: str | bytes | None) -> None:
    """Never print or write `value` (tokens shorter than 4 characters are not worth matching)."""
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    if text and len(text) >= 4:
        with _lock:
            _secrets.add(text)


def contains_secret(data: bytes | str) -> bool:
    """Whether a configured secret appears verbatim in `data` (a fast substring search)."""
    if isinstance(data, bytes):
        return any(secret.encode() in data for secret in tuple(_secrets))
    return any(secret in data for secret in tuple(_secrets))


def scrub_secrets(text: str) -> str:
    """Replace the configured secrets only; for data that must keep its shape (page bodies)."""
    for secret in tuple(_secrets):
        text = text.replace(secret, MASK)
    return text


def scrub(text: str) -> str:
    """Replace the configured secrets and anything that looks like a credential."""
    text = scrub_secrets(text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    return text


def scrubbed_json(value: Any, indent: bool = False) -> bytes:
    """`value` as JSON bytes with every string scrubbed; the form every state file is written in."""
    option = orjson.OPT_INDENT_2 if indent else 0
    return scrub(orjson.dumps(value, option=option, default=str).decode()).encode()
