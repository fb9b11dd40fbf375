"""Keeps the default view warm: the server runs the app on its own every `EVERY_SECONDS`.

Why: a visitor who finds the default view's figures cached sees the page in about the time of a
bare Streamlit page; one who arrives after the collector's last commit (the figures are keyed on
the ledger's mark, pages/_data.py) or after their time to live pays for the view's queries again.
However the server was started (`mistral-monitor dashboard`, whose start-up run this is, or a plain
`streamlit run app.py`, where the first visit does it), app.py's first run in the process starts
one daemon thread that asks the server's script health check (`/_stcore/script-health-check`, on
in `.streamlit/config.toml` and in the dashboard command's flags): a session of the server's own
runs the app with the default view, so every cached call it makes is the very one a new visitor
makes, and an entry a commit made old or that expired is computed again within `EVERY_SECONDS`.
In the sign-in modes that run stops at the sign-in screen (it has no identity), so only the
imports stay warm. A run whose figures are cached costs the server ~0.1 s of CPU.
"""

from __future__ import annotations

import gc
import threading
import time

import httpx
import streamlit as st
from streamlit.runtime import RuntimeState, get_instance
from streamlit.runtime import exists as runtime_exists

EVERY_SECONDS = 30.0
"""The pause between two runs: a run after a commit computes the default view's figures again (~0.5 s of
CPU), one when the ledger did not move finds them cached (~0.1 s: 0.3% of a core)."""
_started = threading.Event()
_settled = threading.Event()


def own_url() -> str | None:
    """The loopback URL of this server's script health check; None when there is none to ask
    (the check is off, the server listens on a unix socket, or this is not a server: AppTest)."""
    if not runtime_exists() or get_instance().state not in (
        RuntimeState.NO_SESSIONS_CONNECTED,
        RuntimeState.ONE_OR_MORE_SESSIONS_CONNECTED,
    ):
        return None
    address = str(st.get_option("server.address") or "")
    if not st.get_option("server.scriptHealthCheckEnabled") or address.startswith("unix:"):
        return None
    host = "127.0.0.1" if address in ("", "0.0.0.0", "::", "localhost") else address  # noqa: S104
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if st.get_option("server.sslCertFile") else "http"
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    path = f"/{base}" if base else ""
    return f"{scheme}://{host}:{st.get_option('server.port')}{path}/_stcore/script-health-check"


def keep_warm() -> None:
    """Start the process's warming thread, once; nothing when there is no server to ask."""
    if _started.is_set():
        return
    url = own_url()
    if url is None:
        return
    _started.set()
    threading.Thread(target=_loop, args=(url,), name="keep-warm", daemon=True).start()


def _loop(url: str, every: float = EVERY_SECONDS) -> None:
    with httpx.Client(verify=False, timeout=120) as client:  # noqa: S501 - our own server, on loopback
        while True:
            time.sleep(every)
            try:
                client.get(url)
            except httpx.HTTPError:
                continue  # a server shutting down, or one run that failed: try again later
            settle()


def settle() -> None:
    """Once, after the server's own run: every object alive then (the modules, the app's code, the default
    view's figures) leaves the garbage collector's generations for good (`gc.freeze`). A full collection
    then walks only what came after: it was ~90 ms over ~150k objects, a pause that fell on one filter
    change in three at random. They are the process's for its life anyway (an expired figure is still freed
    by its reference count)."""
    if not _settled.is_set():
        _settled.set()
        gc.freeze()
