"""The access file: allowed emails and domains, each user's role and optional project scope.

Why deny by default: once sign-in is on, a working Google or Entra login proves only who
someone is, not that they belong here; only emails the file names (or whose domain it names)
get in. Roles are ordered: a `viewer` reads every page, an `editor` also edits budgets and
sends test emails, an `admin` also runs the SQL box, raw exports and sees the audit log.

Example access.toml:
    allowed_domains = ["example.com"]
    [users."ana@example.com"]
    role = "admin"
    [users."lead@partner.org"]
    projects = ["search"]          # a viewer who sees only these projects' rows
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.errors import MonitorError

ACCESS_ENV = "MONITOR_ACCESS"
ROLES = ("viewer", "editor", "admin")
KNOWN_KEYS = {"default_role", "allowed_emails", "allowed_domains", "users", "trusted_header"}


class AccessError(MonitorError, ValueError):
    """The access file is unreadable or wrong; the message names the key and the fix."""


def role_allows(role: str, needed: str) -> bool:
    """True when `role` is at least `needed` (viewer < editor < admin)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class Principal:
    """A signed-in person: normalised email, role, and the projects they may see (None = all)."""

    email: str
    role: str
    projects: tuple[str, ...] | None = None

    def may(self, needed: str) -> bool:
        return role_allows(self.role, needed)


@dataclass(frozen=True)
class TrustedHeader:
    """Take the email from `header`, only on connections from one of `proxies` (IP addresses)."""

    header: str
    proxies: tuple[str, ...]


@dataclass(frozen=True)
class UserRule:
    role: str | None = None
    projects: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class Policy:
    """The parsed access file; `resolve` turns an email into a Principal or None (not allowed)."""

    default_role: str = "viewer"
    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    users: dict[str, UserRule] = field(default_factory=dict)
    trusted_header: TrustedHeader | None = None

    def resolve(self, email: str | None) -> Principal | None:
        """The Principal for `email`, or None when the file does not let it in."""
        address = normalise(email)
        if address is None:
            return None
        rule = self.users.get(address)
        domain = address.rsplit("@", 1)[1]
        if rule is None and address not in self.emails and domain not in self.domains:
            return None
        rule = rule or UserRule()
        return Principal(address, rule.role or self.default_role, rule.projects)


def normalise(email: str | None) -> str | None:
    """Lower-cased `local@domain`, or None for anything that is not one plain address."""
    if not email:
        return None
    address = email.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local or any(c.isspace() or c in ",;<>" for c in address):
        return None
    return address


def access_path(data_dir: Path) -> Path:
    """`$MONITOR_ACCESS`, else `<data_dir>/access.toml`."""
    return Path(os.environ.get(ACCESS_ENV) or Path(data_dir) / "access.toml")


def load_policy(path: Path) -> Policy | None:
    """The Policy in `path`, None when the file does not exist, AccessError when it is wrong."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AccessError(f"access file {path}: {exc}; fix the TOML (see docs/signin.md)") from None
    return parse_policy(raw, str(path))


def parse_policy(raw: dict[str, Any], where: str) -> Policy:
    """Check every key of an access file and build the Policy, or raise AccessError."""
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise AccessError(f"{where}: unknown key {unknown[0]!r}; use one of {', '.join(sorted(KNOWN_KEYS))}")
    return Policy(
        default_role=_role(raw.get("default_role", "viewer"), f"{where}: default_role"),
        emails=frozenset(_addresses(raw.get("allowed_emails", []), f"{where}: allowed_emails")),
        domains=frozenset(_domains(raw.get("allowed_domains", []), f"{where}: allowed_domains")),
        users=_users(raw.get("users", {}), where),
        trusted_header=_trusted(raw.get("trusted_header"), where),
    )


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AccessError(f'{where} must be a list of strings, e.g. ["a@example.com"]')
    return list(value)


def _role(value: Any, where: str) -> str:
    if value not in ROLES:
        raise AccessError(f"{where} is {value!r}; use one of {', '.join(ROLES)}")
    return str(value)


def _addresses(value: Any, where: str) -> list[str]:
    out = []
    for item in _strings(value, where):
        address = normalise(item)
        if address is None:
            raise AccessError(f"{where}: {item!r} is not an email address; write it as name@domain")
        out.append(address)
    return out


def _domains(value: Any, where: str) -> list[str]:
    out = []
    for item in _strings(value, where):
        domain = item.strip().lower().lstrip("@")
        if not domain or "@" in domain or "." not in domain or any(c.isspace() for c in domain):
            raise AccessError(f"{where}: {item!r} is not a domain; write it as example.com")
        out.append(domain)
    return out


def _users(value: Any, where: str) -> dict[str, UserRule]:
    if not isinstance(value, dict):
        raise AccessError(f'{where}: users must be a table, e.g. [users."ana@example.com"] role = "admin"')
    users = {}
    for email, rule in value.items():
        here = f"{where}: users.{email!r}"
        address = normalise(email)
        if address is None or not isinstance(rule, dict):
            raise AccessError(f"{here} must be an email address with a table of role/projects")
        extra = sorted(set(rule) - {"role", "projects"})
        if extra:
            raise AccessError(f"{here}: unknown key {extra[0]!r}; use role or projects")
        role = _role(rule["role"], f"{here}.role") if "role" in rule else None
        projects = tuple(sorted(set(_strings(rule["projects"], f"{here}.projects")))) if "projects" in rule else None
        users[address] = UserRule(role, projects)
    return users


def _trusted(value: Any, where: str) -> TrustedHeader | None:
    if value is None:
        return None
    here = f"{where}: trusted_header"
    if not isinstance(value, dict) or not isinstance(value.get("header"), str) or not value["header"].strip():
        raise AccessError(f'{here} needs header = "X-Forwarded-Email" and proxies = ["127.0.0.1"]')
    proxies = _strings(value.get("proxies", []), f"{here}.proxies")
    if not proxies:
        raise AccessError(f'{here}.proxies is empty; list the proxy\'s address, e.g. ["127.0.0.1"]')
    return TrustedHeader(value["header"].strip(), tuple(p.strip() for p in proxies))
