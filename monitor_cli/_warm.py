"""`python -m monitor_cli._warm URL`: once the dashboard at URL answers, have it run the app once.

Why: the first visit after a start paid for importing the dashboard's modules (DuckDB, pyarrow,
the alerts engine) and for the default view's first queries, seconds a bare Streamlit page does
not pay. Streamlit's script health check (`server.scriptHealthCheckEnabled`, set by
`mistral-monitor dashboard`) runs the app in a session of the server's own, with the default
view, so those imports and the view's cached figures are ready before anyone opens the page.
It exits after that one run, or after `WAIT_SECONDS`; it never fails the dashboard.
"""

from __future__ import annotations

import sys
import time

import httpx

WAIT_SECONDS = 120.0


def warm(url: str, wait: float = WAIT_SECONDS) -> str:
    """`ok`, `error` or `timeout`: what the server's one run of the app gave."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                answer = httpx.get(f"{url}/_stcore/script-health-check", timeout=max(1.0, deadline - time.monotonic()))
                return "ok" if answer.status_code == 200 else "error"
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return "timeout"


if __name__ == "__main__":
    warm(sys.argv[1])
