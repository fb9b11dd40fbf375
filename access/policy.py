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
from foundation.settings import Setting, default, validate

ACCESS_ENV = "MONITOR_ACCESS"
ROLES = ("viewer", "editor", "admin")


class AccessError(MonitorError, ValueError):
    """The access file is unreadable or wrong; the message names the key path and the fix."""


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


def _strings(value: list[Any]) -> list[str]:
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}; fix its value")
    return value


def _addresses(value: list[Any]) -> tuple[str, ...]:
    out = []
    for item in _strings(value):
        address = normalise(item)
        if address is None:
            raise ValueError(f"{item!r} is not an email address; write it as name@domain")
        out.append(address)
    return tuple(out)


def _domains(value: list[Any]) -> tuple[str, ...]:
    out = []
    for item in _strings(value):
        domain = item.strip().lower().lstrip("@")
        if not domain or "@" in domain or "." not in domain or any(c.isspace() for c in domain):
            raise ValueError(f"{item!r} is not a domain; write it as example.com")
        out.append(domain)
    return tuple(out)


def _projects(value: list[Any]) -> tuple[str, ...]:
    return tuple(sorted(set(_strings(value))))


def _header(value: str) -> str:
    if not value.strip():
        raise ValueError('empty; write header = "X-Forwarded-Email"')
    return value.strip()


def _proxies(value: list[Any]) -> tuple[str, ...]:
    proxies = tuple(p.strip() for p in _strings(value))
    if not proxies:
        raise ValueError('empty; list the proxy\'s address, e.g. proxies = ["127.0.0.1"]')
    return proxies


ACCESS: tuple[Setting, ...] = (
    Setting(
        name="default_role",
        kind=str,
        default="viewer",
        choices=ROLES,
        help="The role of an allowed email without a [users] entry: viewer, editor or admin.",
    ),
    Setting(
        name="allowed_emails",
        kind=list,
        default=(),
        check=_addresses,
        example='["ana@example.com"]',
        help="Email addresses that may sign in (compared lower-cased).",
    ),
    Setting(
        name="allowed_domains",
        kind=list,
        default=(),
        check=_domains,
        example='["example.com"]',
        help="Domains whose every address may sign in (the whole domain only: not its subdomains).",
    ),
    Setting(
        name="users",
        kind=dict,
        default={},
        help='[users."ana@example.com"]: one person\'s role and projects; listing someone lets them in.',
    ),
    Setting(
        name="trusted_header",
        kind=dict,
        help="[trusted_header]: take the email from a proxy's header (MONITOR_SIGNIN=header).",
    ),
)
"""The access file's top-level keys."""
USER: tuple[Setting, ...] = (
    Setting(name="role", kind=str, choices=ROLES, help="viewer, editor or admin (default: default_role)."),
    Setting(
        name="projects",
        kind=list,
        check=_projects,
        example='["search"]',
        help="The only projects whose rows this person sees (default: every project).",
    ),
)
TRUSTED: tuple[Setting, ...] = (
    Setting(
        name="header",
        kind=str,
        required=True,
        check=_header,
        help='The request header holding the signed-in email, e.g. "X-Forwarded-Email".',
    ),
    Setting(
        name="proxies",
        kind=list,
        required=True,
        check=_proxies,
        help="IP addresses of the proxies the header is taken from; from any other peer it is ignored.",
    ),
)


@dataclass(frozen=True)
class UserRule:
    role: str | None = default(USER, "role")
    projects: tuple[str, ...] | None = default(USER, "projects")


@dataclass(frozen=True, kw_only=True)
class Policy:
    """The parsed access file; `resolve` turns an email into a Principal or None (not allowed)."""

    default_role: str = default(ACCESS, "default_role")
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
    """Check every key of an access file (`where`: its name, for messages) and build the Policy, or AccessError."""
    try:
        values = validate(raw, ACCESS, error=AccessError)
        users = {_user_address(email): _user(rule, email) for email, rule in values.pop("users").items()}
        trusted = values.pop("trusted_header")
        header = None if trusted is None else validate(trusted, TRUSTED, "trusted_header", error=AccessError)
    except AccessError as exc:
        raise AccessError(f"{where}: {exc}") from None
    return Policy(
        default_role=values["default_role"],
        emails=frozenset(values["allowed_emails"]),
        domains=frozenset(values["allowed_domains"]),
        users=users,
        trusted_header=None if header is None else TrustedHeader(header["header"], header["proxies"]),
    )


def _user_address(email: str) -> str:
    address = normalise(email)
    if address is None:
        raise AccessError(f'users."{email}": not an email address; write the table as [users."name@domain"]')
    return address


def _user(rule: Any, email: str) -> UserRule:
    values = validate(rule, USER, f'users."{email}"', error=AccessError)
    return UserRule(**values)
