"""The Streamlit side of access control: sign-in screen, who is signed in, role checks, audit.

Three modes, picked from configuration (docs/signin.md):
- `oidc`: `[auth]` is in secrets.toml, so `st.login` signs people in with an OpenID Connect
  provider; nothing but the sign-in screen renders until then.
- `header`: the access file has `[trusted_header]`; the email comes from that header on
  connections from the proxy's address, and from nowhere else.
- `open`: neither; the demo, with a notice on every page that anyone who can reach it sees all.

Why checks live here and in the pages' actions (not only in what is drawn): a crafted rerun
can click a button that was never shown, so every action asks `may(role)` where it happens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import streamlit as st

from access import AccessError, AuditLog, Policy, Principal, access_path, audit_path, load_policy, trusted_email

from ._text import md

PRINCIPAL_KEY = "_principal"
NEXT_COOKIE = "monitor_next"
REMEMBER_TARGET = (
    "<script>document.cookie = 'monitor_next=' + encodeURIComponent(window.location.pathname"
    " + window.location.search) + '; path=/; max-age=900; SameSite=Lax';</script>"
)
"""The OIDC callback always lands on "/", so the sign-in screen keeps the asked-for view in a
cookie the browser sets (fixed script: nothing from the request is written into it)."""
FORGET_TARGET = "<script>document.cookie = 'monitor_next=; path=/; max-age=0; SameSite=Lax';</script>"
OPEN_NOTICE = (
    "Open dashboard: no sign-in is configured, so anyone who can reach this address sees and edits "
    "everything. Configure sign-in before exposing it (docs/signin.md)."
)
ANYONE = Principal("anyone (no sign-in configured)", "admin", None)


def auth_configured() -> bool:
    """True when secrets.toml has an `[auth]` section (so `st.login` works)."""
    try:
        return bool(st.secrets.load_if_toml_exists()) and "auth" in st.secrets
    except Exception:  # noqa: BLE001 - an unreadable secrets file means no sign-in configured
        return False


def policy(data_dir: Path) -> Policy | None:
    """The access file's Policy (None when absent); stops the app with one line when it is wrong."""
    try:
        return load_policy(access_path(data_dir))
    except AccessError as exc:
        st.error(md(exc, 1_000), icon=":material/lock:")
        st.stop()
    return None  # unreachable: st.stop raises


def mode(rules: Policy | None) -> str:
    if auth_configured():
        return "oidc"
    return "header" if rules is not None and rules.trusted_header is not None else "open"


def signed_in_email(how: str, rules: Policy | None) -> str | None:
    """The email this request proves, or None (not signed in)."""
    if how == "oidc":
        if not st.user.is_logged_in or st.user.get("email_verified") is False:
            return None
        email = st.user.get("email")
        return email if isinstance(email, str) else None
    assert rules is not None and rules.trusted_header is not None
    return trusted_email(dict(st.context.headers), st.context.ip_address, rules.trusted_header)


def sign_in_screen(how: str) -> None:
    st.title("Mistral usage monitor")
    if how == "oidc":
        st.write("Sign in to see the dashboard.")
        st.html(REMEMBER_TARGET, unsafe_allow_javascript=True)
        if st.button("Sign in", type="primary", icon=":material/login:", key="_sign_in"):
            st.login()
    else:
        st.write("Sign in through your organisation's sign-in proxy to see the dashboard.")


def not_allowed(how: str, email: str) -> None:
    st.title("Mistral usage monitor")
    st.error(
        f"{md(email, 200)} may not use this dashboard. Ask an admin to add you to the access file.",
        icon=":material/block:",
    )
    if how == "oidc" and st.button("Sign out", key="_sign_out_denied"):
        st.logout()


def gate(data_dir: Path, refuse: Callable[[], object]) -> Principal:
    """Who is here, or the sign-in screen (and `st.stop()`) when nobody allowed is.

    `refuse` runs first on the way out: app.py registers its pages with a hidden menu there,
    so a deep link keeps its path and no page (nor the pages folder's own menu) is shown.
    """
    rules = policy(data_dir)
    how = mode(rules)
    if how == "open":
        st.warning(md(OPEN_NOTICE, 500), icon=":material/lock_open:")
        st.session_state[PRINCIPAL_KEY] = ANYONE
        return ANYONE
    st.session_state.pop(PRINCIPAL_KEY, None)
    email = signed_in_email(how, rules)
    if email is None:
        refuse()
        sign_in_screen(how)
        st.stop()
    principal = rules.resolve(email) if rules is not None else None
    if principal is None:
        refuse()
        not_allowed(how, str(email))
        st.stop()
    assert principal is not None
    st.session_state[PRINCIPAL_KEY] = principal
    return principal


def land(pages: list[st.Page]) -> None:
    """Once per session after an OIDC sign-in: go to the view the sign-in screen was asked for.

    Only a registered page's path is followed (never an outside URL); its query string becomes
    the filters, as any shared link's does. The cookie is cleared on the next run.
    """
    state = st.session_state
    if state.get("_landed") == "pending":
        st.html(FORGET_TARGET, unsafe_allow_javascript=True)
        state._landed = "done"
    if state.get("_landed") or not auth_configured():
        return
    state._landed = "pending"
    target = urlsplit(unquote(st.context.cookies.get(NEXT_COOKIE) or ""))
    path = target.path.strip("/")
    page = next((p for p in pages if path and p.url_path == path), None)
    if page is not None and not st.query_params:
        st.switch_page(page, query_params=parse_qs(target.query))


def account(principal: Principal) -> None:
    """The sidebar's 'who is signed in' line, role and sign-out."""
    if principal == ANYONE:
        return
    scope = f" · projects: {', '.join(principal.projects)}" if principal.projects is not None else ""
    st.sidebar.caption(md(f"Signed in as {principal.email} · {principal.role}{scope}", 500))
    if auth_configured() and st.sidebar.button("Sign out", icon=":material/logout:", key="_sign_out"):
        st.logout()


def current() -> Principal | None:
    """The Principal app.py resolved in this session; outside app.py (a page run alone, as in
    tests) only the open mode's anyone, never a signed-in role."""
    found = st.session_state.get(PRINCIPAL_KEY)
    if isinstance(found, Principal):
        return found
    return ANYONE if _open_mode() else None


def _open_mode() -> bool:
    from ._frame import settings

    try:
        return mode(load_policy(access_path(settings().data_dir))) == "open"
    except AccessError:
        return False


def may(role: str) -> bool:
    """True when the person in this run has at least `role`."""
    who = current()
    return who is not None and who.may(role)


def audit(data_dir: Path, action: str, detail: str = "") -> None:
    """Append who did `action` (and what) to the audit log."""
    who = current() or Principal("unknown", "none")
    AuditLog(audit_path(data_dir)).append(who.email, who.role, action, detail)
