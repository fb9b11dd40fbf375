"""The Streamlit side of access control: sign-in screen, who is signed in, role checks, audit.

Three modes, asked for by name (`MONITOR_SIGNIN`, access/mode.py; docs/signin.md):
- `oidc`: `[auth]` is in secrets.toml, so `st.login` signs people in with an OpenID Connect
  provider; nothing but the sign-in screen renders until then.
- `header`: the email comes from the access file's `[trusted_header]` on connections whose own
  socket address is the proxy's, and from nowhere else; refused while Streamlit's agent API is on.
- `open`: the demo, with a notice on every page that anyone who can reach it sees all.
A signed-in mode whose file or section is missing stops every page with one line, never opens.

Why checks live here and in the pages' actions (not only in what is drawn): a crafted rerun
can click a button that was never shown, so every action asks `may(role)` where it happens;
a fragment rerun (the Overview's live tiles) asks again who is here (`signed_fragment`), and an
export is built and audited only when a signed-in person clicks (`export_button`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import streamlit as st
from streamlit.runtime import exists as runtime_exists
from streamlit.runtime import get_instance
from streamlit.runtime.scriptrunner import get_script_run_ctx

from access import (
    AccessError,
    AuditLog,
    Policy,
    Principal,
    access_path,
    audit_path,
    from_proxy,
    load_policy,
    require_policy,
    signin_mode,
    trusted_email,
)

from ._text import md

PRINCIPAL_KEY = "_principal"
SIGNED_KEY = "_signed_in"
"""What gate() resolved in this session: (mode, email), re-checked by every fragment rerun."""
AUDITED_KEY = "_sign_in_audited"
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
AGENT_API_ON = (
    "MONITOR_SIGNIN=header refuses to run with Streamlit's agent API on: its sessions have no peer "
    "address to check against the proxy's. Set server.enableAgentApi = false."
)
ANYONE = Principal("anyone (no sign-in configured)", "admin", None)
F = TypeVar("F", bound=Callable[..., Any])


def auth_configured() -> bool:
    """True when secrets.toml has an `[auth]` section (so `st.login` works)."""
    try:
        return bool(st.secrets.load_if_toml_exists()) and "auth" in st.secrets
    except Exception:  # noqa: BLE001 - an unreadable secrets file means no sign-in configured
        return False


def _stop(message: object) -> None:
    st.title("Mistral usage monitor")
    st.error(md(message, 1_000), icon=":material/lock:")
    st.stop()


def resolve_mode(data_dir: Path, rules: Policy | None) -> str:
    """The mode MONITOR_SIGNIN asks for, checked against what it needs; AccessError when it cannot run."""
    how = signin_mode(os.environ, auth=auth_configured())
    require_policy(how, rules, access_path(data_dir))
    if how == "header" and st.get_option("server.enableAgentApi"):
        raise AccessError(AGENT_API_ON)
    return how


def peer() -> str | None:
    """The session's socket peer address as the server saw it; None when there is none (an agent API
    session, no runtime). Not st.context.ip_address, which reports loopback as None too."""
    ctx = get_script_run_ctx()
    if ctx is None or not runtime_exists():
        return None
    client = get_instance().get_client(ctx.session_id)
    context = getattr(client, "client_context", None)
    return getattr(context, "remote_ip", None)


def _header_pairs() -> list[tuple[str, str]]:
    headers = st.context.headers
    return [(name, value) for name in headers for value in headers.get_all(name)]


def signed_in_email(how: str, rules: Policy | None) -> str | None:
    """The email this request proves, or None (not signed in)."""
    if how == "oidc":
        if not st.user.is_logged_in or st.user.get("email_verified") is False:
            return None
        email = st.user.get("email")
        return email if isinstance(email, str) else None
    assert rules is not None and rules.trusted_header is not None
    return trusted_email(_header_pairs(), peer(), rules.trusted_header)


def refused_header(rules: Policy | None) -> str | None:
    """In header mode, why a request carrying the identity header was not believed (for the audit log)."""
    if rules is None or rules.trusted_header is None:
        return None
    wanted = rules.trusted_header.header.lower()
    values = [v for n, v in _header_pairs() if n.lower() == wanted]
    if not values:
        return None
    where = peer()
    if not from_proxy(where, rules.trusted_header.proxies):
        return f"{rules.trusted_header.header}: {values[0][:200]} from {where or 'an unknown peer'}, not a proxy"
    return f"{rules.trusted_header.header} sent {len(values)} times" if len(values) > 1 else None


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


def record_sign_in(data_dir: Path, who: str, role: str, detail: str) -> None:
    """Once per session and outcome: an allowed or a denied sign-in, in the audit log (OSError when it
    cannot be written)."""
    seen = (who, role, detail)
    if st.session_state.get(AUDITED_KEY) == seen:
        return
    AuditLog(audit_path(data_dir)).append(who, role, "sign_in", detail)
    st.session_state[AUDITED_KEY] = seen


def gate(data_dir: Path, refuse: Callable[[], object]) -> Principal:
    """Who is here, or the sign-in screen (and `st.stop()`) when nobody allowed is.

    `refuse` runs first on the way out: app.py registers its pages with a hidden menu there,
    so a deep link keeps its path and no page (nor the pages folder's own menu) is shown.
    """
    try:
        rules = load_policy(access_path(data_dir))
        how = resolve_mode(data_dir, rules)
    except AccessError as exc:
        refuse()
        _stop(exc)
        raise  # unreachable: st.stop raises
    if how == "open":
        st.warning(md(OPEN_NOTICE, 500), icon=":material/lock_open:")
        st.session_state[PRINCIPAL_KEY] = ANYONE
        st.session_state[SIGNED_KEY] = ("open", None)
        return ANYONE
    st.session_state.pop(PRINCIPAL_KEY, None)
    st.session_state.pop(SIGNED_KEY, None)
    email = signed_in_email(how, rules)
    if email is None:
        refusal = refused_header(rules) if how == "header" else None
        if refusal is not None:
            _try_record(data_dir, "(refused header)", "none", f"denied ({how}): {refusal}")
        refuse()
        sign_in_screen(how)
        st.stop()
    principal = rules.resolve(email) if rules is not None else None
    if principal is None:
        _try_record(data_dir, str(email)[:200], "none", f"denied ({how}): not in the access file")
        refuse()
        not_allowed(how, str(email))
        st.stop()
    assert principal is not None
    try:
        record_sign_in(data_dir, principal.email, principal.role, f"allowed ({how})")
    except OSError as exc:
        refuse()
        _stop(f"Sign-in refused: the audit log cannot be written ({exc.strerror or exc}).")
    st.session_state[PRINCIPAL_KEY] = principal
    st.session_state[SIGNED_KEY] = (how, email)
    return principal


def _try_record(data_dir: Path, who: str, role: str, detail: str) -> None:
    try:
        record_sign_in(data_dir, who, role, detail)
    except OSError:
        pass  # a denied visitor sees the same screen either way


def still_here(data_dir: Path) -> bool:
    """Whether the person gate() let in is still let in now: the same mode, email and Principal, with the
    access file as it is now. False outside app.py's sessions (nothing resolved)."""
    signed = st.session_state.get(SIGNED_KEY)
    if not isinstance(signed, tuple):
        return False
    try:
        rules = load_policy(access_path(data_dir))
        how = resolve_mode(data_dir, rules)
    except AccessError:
        return False
    if how != signed[0]:
        return False
    if how == "open":
        return True
    email = signed_in_email(how, rules)
    return email == signed[1] and rules is not None and rules.resolve(email) == current()


def signed_fragment(run_every: float) -> Callable[[F], F]:
    """`st.fragment(run_every=...)` that asks again who is here on every run: a person removed from the
    access file (or whose header or session is gone) gets a full rerun, hence the sign-in screen."""

    def wrap(draw: F) -> F:
        @functools.wraps(draw)
        def checked(*args: Any, **kwargs: Any) -> Any:
            from ._config import settings

            if st.session_state.get(SIGNED_KEY) is not None and not still_here(settings().data_dir):
                st.session_state.pop(PRINCIPAL_KEY, None)
                st.session_state.pop(SIGNED_KEY, None)
                st.rerun()
            return draw(*args, **kwargs)

        return st.fragment(run_every=run_every)(checked)  # type: ignore[return-value]

    return wrap


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
        # Nothing more in this run: a page drawn after it found nobody signed in and reran (signed_fragment),
        # and a rerun could drop the queued redirect to the provider's end-session page (its session stayed).
        st.stop()


def current() -> Principal | None:
    """The Principal app.py resolved in this session; outside app.py (a page run alone, as in
    tests) only the open mode's anyone, never a signed-in role."""
    found = st.session_state.get(PRINCIPAL_KEY)
    if isinstance(found, Principal):
        return found
    return ANYONE if _open_mode() else None


def _open_mode() -> bool:
    from ._config import settings

    try:
        data_dir = settings().data_dir
        return resolve_mode(data_dir, load_policy(access_path(data_dir))) == "open"
    except AccessError:
        return False


def may(role: str) -> bool:
    """True when the person in this run has at least `role`."""
    who = current()
    return who is not None and who.may(role)


def audit(data_dir: Path, action: str, detail: str = "") -> None:
    """Append who did `action` (and what) to the audit log; OSError when it cannot (the caller aborts)."""
    who = current() or Principal("unknown", "none")
    AuditLog(audit_path(data_dir)).append(who.email, who.role, action, detail)


def audited(data_dir: Path, action: str, detail: str = "") -> bool:
    """audit(), or an error on the page and False: the caller does the action only on True."""
    try:
        audit(data_dir, action, detail)
    except OSError as exc:
        st.error(f"Not done: the audit log cannot be written ({md(exc.strerror or exc, 300)}).")
        return False
    return True


def still_allowed(data_dir: Path, who: Principal) -> bool:
    """Outside a script run (an export being built): `who` is still let in by the access file as it is now."""
    if who == ANYONE:
        try:
            return signin_mode(os.environ, auth=auth_configured()) == "open"
        except AccessError:
            return False
    try:
        rules = load_policy(access_path(data_dir))
    except AccessError:
        return False
    return rules is not None and rules.resolve(who.email) == who


def export_bytes(data_dir: Path, who: Principal, detail: str, build: Callable[[], bytes]) -> Callable[[], bytes]:
    """The callable a download button runs when clicked: check `who`, write the audit record, then build
    the file. Nothing is built or stored before that, so no URL exists for a file nobody asked for."""

    def make() -> bytes:
        if not still_allowed(data_dir, who):
            raise PermissionError(f"{who.email} may no longer download from this dashboard")
        AuditLog(audit_path(data_dir)).append(who.email, who.role, "export", detail)
        return build()

    return make


def export_button(
    where: Any, data_dir: Path, label: str, build: Callable[[], bytes], file: tuple[str, str], *, key: str, detail: str
) -> None:
    """A download button (`file`: name and media type) whose file is built, and audited, only when a signed-in
    person clicks it; nobody signed in, no button.

    The click runs no script (`on_click="ignore"`): nothing on the page changes, and the file the browser asks
    for is never registered anew by a rerun while it is being asked for."""
    who = current()
    if who is None:
        return
    where.download_button(
        label, export_bytes(data_dir, who, detail, build), file[0], file[1], key=key, on_click="ignore"
    )
