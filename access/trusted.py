"""Trusted-header sign-in: the email an authenticating reverse proxy puts in a request header.

Why the address check: anyone can send `X-Forwarded-Email: boss@example.com`; only a request
that arrives from the proxy itself (which strips and sets that header) can be believed. The
peer is the socket's own address; an unknown peer (None: an agent API session, a session with
no connection) is never the proxy. A request carrying the header twice is refused: which copy
the proxy set and which the client sent cannot be told apart.

Example:
    >>> rule = TrustedHeader("X-Forwarded-Email", ("127.0.0.1",))
    >>> trusted_email([("x-forwarded-email", "ana@example.com")], "10.0.0.7", rule) is None
    True
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .policy import TrustedHeader


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def from_proxy(peer: str | None, proxies: tuple[str, ...]) -> bool:
    """True when the connection's own address is one of the proxies; an unknown peer (None) never is."""
    if peer is None:
        return False
    address = _address(peer)
    return address is not None and any(address == _address(proxy) for proxy in proxies)


def trusted_email(headers: Iterable[tuple[str, str]], peer: str | None, rule: TrustedHeader) -> str | None:
    """The header's one value when the request comes from a configured proxy, else None.

    `headers`: every (name, value) pair of the request, repeats included."""
    if not from_proxy(peer, rule.proxies):
        return None
    wanted = rule.header.lower()
    values = [value for name, value in headers if name.lower() == wanted]
    if len(values) != 1 or not values[0].strip():
        return None
    return values[0].strip()
