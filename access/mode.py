"""Which sign-in mode the dashboard runs in: chosen by name, never inferred from a file that can go missing.

Why outside the access file: a mode read from the file fails open when the file is lost (a
`MONITOR_ACCESS` typo, an unmounted volume): no file, no `[trusted_header]`, so "open", and the
next visitor got every page. So the mode comes from `MONITOR_SIGNIN` (`oidc`, `header`, `open`);
unset, it is `oidc` when secrets.toml has `[auth]` and an error otherwise. A signed-in mode whose
access file or section is missing is an error too, never a fallback to open.

Example:
    >>> signin_mode({"MONITOR_SIGNIN": "open"}, auth=False)
    'open'
    >>> signin_mode({}, auth=True)
    'oidc'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .policy import ACCESS_ENV, AccessError, Policy

SIGNIN_ENV = "MONITOR_SIGNIN"
MODES = ("oidc", "header", "open")
NO_MODE = (
    f"no sign-in mode: set {SIGNIN_ENV}=oidc ([auth] in secrets.toml), {SIGNIN_ENV}=header "
    f"([trusted_header] in the access file) or {SIGNIN_ENV}=open (no sign-in, the demo); see docs/signin.md"
)


def signin_mode(env: Mapping[str, str], *, auth: bool) -> str:
    """The mode `env` asks for (`auth`: secrets.toml has `[auth]`); AccessError when it cannot run."""
    asked = (env.get(SIGNIN_ENV) or "").strip().lower()
    if not asked:
        if auth:
            return "oidc"
        raise AccessError(NO_MODE)
    if asked not in MODES:
        raise AccessError(f"{SIGNIN_ENV} is {asked!r}; use one of {', '.join(MODES)}")
    if asked == "oidc" and not auth:
        raise AccessError(
            f"{SIGNIN_ENV}=oidc but secrets.toml has no [auth] section; add it (docs/signin.md) "
            "or point streamlit at it with --secrets.files"
        )
    return asked


def require_policy(how: str, rules: Policy | None, path: Path) -> None:
    """A signed-in mode needs its access file (and header mode its `[trusted_header]`); AccessError naming it."""
    if how == "open":
        return
    if rules is None:
        raise AccessError(
            f"{SIGNIN_ENV}={how} but the access file {path} does not exist; create it or set {ACCESS_ENV} to its path"
        )
    if how == "header" and rules.trusted_header is None:
        raise AccessError(
            f'{SIGNIN_ENV}=header but {path} has no [trusted_header]; add header = "X-Forwarded-Email" '
            'and proxies = ["127.0.0.1"]'
        )
