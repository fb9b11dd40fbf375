"""Who may use the dashboard and what they may do: plain Python, testable without Streamlit.

Why a module of its own: the rules (allowed emails and domains, roles, project scope, the
trusted proxy header) decide what every page shows, so they live in one place that unit
tests can reach without a browser. `pages/_auth.py` is the only Streamlit side of it.

Example:
    >>> policy = parse_policy({"allowed_domains": ["example.com"]}, "access.toml")
    >>> policy.resolve("Ana@Example.com")
    Principal(email='ana@example.com', role='viewer', projects=None)
"""

from __future__ import annotations

from .audit import AuditLog, ChainCheck, audit_path
from .mode import MODES, SIGNIN_ENV, require_policy, signin_mode
from .policy import (
    ACCESS_ENV,
    ROLES,
    AccessError,
    Policy,
    Principal,
    TrustedHeader,
    access_path,
    load_policy,
    parse_policy,
    role_allows,
)
from .trusted import from_proxy, trusted_email

__all__ = [
    "ACCESS_ENV",
    "MODES",
    "ROLES",
    "SIGNIN_ENV",
    "AccessError",
    "AuditLog",
    "ChainCheck",
    "Policy",
    "Principal",
    "TrustedHeader",
    "access_path",
    "audit_path",
    "from_proxy",
    "load_policy",
    "parse_policy",
    "require_policy",
    "role_allows",
    "signin_mode",
    "trusted_email",
]
