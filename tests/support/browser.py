"""Waits and actions for the Playwright tests: the app has finished its run; a download, or why it failed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Download, Locator, Page

IDLE = """() => {
    const busy = document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]');
    const charts = document.querySelectorAll('[data-testid="stPlotlyChart"], [data-testid="stVegaLiteChart"]').length;
    const drawn = document.querySelectorAll(
        '[data-testid="stPlotlyChart"] .main-svg, [data-testid="stVegaLiteChart"] svg.marks').length;
    return !busy && document.querySelector('h1') !== null && drawn >= charts;
}"""

TILE = '[data-testid="stMetric"], .mm-tile'
"""A tile: st.metric's, or one of an HTML tile row's (pages/_tiles.py, the Overview's)."""
TILE_VALUE = '[data-testid="stMetricValue"], .mm-value'
"""A tile's value."""

_DOWNLOAD_ERROR = '[data-testid="stDownloadButtonError"]'


def settle(page: Page) -> None:
    """Wait until the app has finished its run, twice in a row (a rerun may follow), and charts are drawn."""
    for _ in range(2):
        page.wait_for_timeout(800)
        page.wait_for_function(IDLE, timeout=60_000, polling=250)


def download(page: Page, button: Locator, timeout_ms: int = 90_000) -> Path:
    """Click a download `button` and return the downloaded file's path. A file built on the click may be slow
    on a loaded machine, so the wait is long; if Streamlit shows that building it failed, fail at once with
    its message instead of waiting out the deadline."""
    got: list[Download] = []

    def started(event: Download) -> None:
        got.append(event)

    page.on("download", started)
    try:
        button.click()
        deadline = time.monotonic() + timeout_ms / 1000
        while not got:
            error = page.locator(_DOWNLOAD_ERROR)
            if error.count():
                raise AssertionError(f"the download failed: {error.first.inner_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no download within {timeout_ms / 1000:.0f} s of the click")
            page.wait_for_timeout(100)
    finally:
        page.remove_listener("download", started)
    return Path(got[0].path())
