"""Trusted-header sign-in: the email an authenticating reverse proxy puts in a request header.

Why the address check: anyone can send `X-Forwarded-Email: boss@example.com`; only a request
that arrives from the proxy itself (which strips and sets that header) can be believed.
Streamlit reports a loopback peer as None, so None counts as 127.0.0.1 (and ::1).

Example:
    >>> rule = TrustedHeader("X-Forwarded-Email", ("127.0.0.1",))
    >>> trusted_email({"x-forwarded-email": "ana@example.com"}, "10.0.0.7", rule) is None
    True
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from .policy import TrustedHeader

LOOPBACK = ("127.0.0.1", "::1")


def _same_address(peer: str, proxy: str) -> bool:
    try:
        return ipaddress.ip_address(peer) == ipaddress.ip_address(proxy)
    except ValueError:
        return False


def from_proxy(peer: str | None, proxies: tuple[str, ...]) -> bool:
    """True when the connection's address is one of the proxies (None = loopback)."""
    peers = LOOPBACK if peer is None else (peer,)
    return any(_same_address(p, proxy) for p in peers for proxy in proxies)


def trusted_email(headers: Mapping[str, str], peer: str | None, rule: TrustedHeader) -> str | None:
    """The header's value when the request comes from a configured proxy, else None."""
    if not from_proxy(peer, rule.proxies):
        return None
    wanted = rule.header.lower()
    for name, value in headers.items():
        if name.lower() == wanted and value.strip():
            return value.strip()
    return None
