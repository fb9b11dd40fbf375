"""Shared by the sign-in browser tests: a streamlit server with an access file, waits and readers."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.browser import download, settle
from tests.support.servers import CHROMIUM, REPO, chromium, free_port, serve_dashboard

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["CHROMIUM", "REPO", "chromium", "download", "free_port", "nav_titles", "serve", "settle"]

NAV = '[data-testid="stSidebarNav"] a'


def serve(
    data_dir: Path, access: Path, *extra: str, port: int = 0, env: dict[str, str] | None = None
) -> Generator[str, None, None]:
    """`streamlit run app.py` on loopback (`port`, else a free one) with MONITOR_ACCESS=access and `env` (the
    sign-in mode: open unless it says otherwise); yields its URL."""
    yield from serve_dashboard(data_dir, *extra, env={"MONITOR_ACCESS": str(access), **(env or {})}, port=port)


def nav_titles(page: Page) -> list[str]:
    """The page titles in the sidebar's navigation (empty on the sign-in screen)."""
    return [t.strip().splitlines()[-1] for t in page.locator(NAV).all_inner_texts()]
