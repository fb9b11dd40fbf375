"""Shared by the sign-in browser tests: a streamlit server with an access file, waits and readers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.dashboard.conftest import REPO
from tests.dashboard.test_browser import ARGS, CHROMIUM, _settle, _wait_healthy, free_port

__all__ = ["ARGS", "CHROMIUM", "REPO", "_settle", "free_port", "nav_titles", "serve"]

NAV = '[data-testid="stSidebarNav"] a'


def serve(data_dir: Path, access: Path, *extra: str, port: int = 0) -> Iterator[str]:
    """`streamlit run app.py` on loopback (`port`, else a free one) with MONITOR_ACCESS=access; yields its URL."""
    port = port or free_port()
    full_env = {**os.environ, "DATA_DIR": str(data_dir), "MONITOR_TIMEZONE": "UTC", "MONITOR_ACCESS": str(access)}
    full_env.pop("MONITOR_CONFIG", None)
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), *extra]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def nav_titles(page: object) -> list[str]:
    """The page titles in the sidebar's navigation (empty on the sign-in screen)."""
    return [t.strip().splitlines()[-1] for t in page.locator(NAV).all_inner_texts()]  # type: ignore[attr-defined]
