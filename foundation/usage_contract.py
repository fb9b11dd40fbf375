"""The usage endpoint contract's paging rule (v1, docs/usage-endpoint.md), for every server of it.

Why here: the simulator and the gateway both serve `GET /v1/usage/requests`; one page-size
rule means a client sees the same default, cap and error from either.

Example:
    >>> page_size(None), page_size("250"), page_size("+0042"), page_size("99999999")
    (1000, 250, 42, 10000)
    >>> error_body(400, "invalid_request", "limit: ...")["code"]
    '400'
    >>> page_size("²")
    Traceback (most recent call last):
    ...
    foundation.usage_contract.BadParameter: limit: '²' must be an integer from 1 to 10000
"""

from __future__ import annotations

import re
from typing import Any

from foundation.errors import MonitorError

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "BadParameter", "error_body", "page_size"]

DEFAULT_LIMIT = 1_000
"""Records per page when the client names no `limit`."""
MAX_LIMIT = 10_000
"""The largest page served; a larger `limit` is clamped to it, never refused."""
_DIGITS = re.compile(r"\+?0*([0-9]+)", re.ASCII)
"""ASCII digits only: str.isdigit() also accepts '²' or '٣', which int() then refuses or reads."""


class BadParameter(MonitorError, ValueError):
    """A query parameter the endpoint cannot serve (answered 400); the message says which and why."""


def page_size(text: str | None) -> int:
    """The page size a `limit` value asks for: the default when absent, clamped to MAX_LIMIT."""
    if text is None or text == "":
        return DEFAULT_LIMIT
    digits = _DIGITS.fullmatch(text.strip())
    if digits is None or int(digits[1][:6]) < 1:
        raise BadParameter(f"limit: {text[:40]!r} must be an integer from 1 to {MAX_LIMIT}")
    return min(int(digits[1][:6]), MAX_LIMIT)


def error_body(status: int, kind: str, message: str) -> dict[str, Any]:
    """A Mistral-shaped error body: what the gateway, the simulator and their usage endpoints answer
    on an error of their own, so an SDK or the collector parses it like one of Mistral's."""
    return {"object": "error", "message": message, "type": kind, "param": None, "code": str(status)}
