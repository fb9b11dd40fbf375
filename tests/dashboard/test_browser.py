"""A real browser (Debian's chromium via Playwright) against `streamlit run app.py` on loopback.

Opens every page, finds no exception box, checks the Overview spend against an independent
pyarrow figure, changes a filter in the sidebar and sees it applied (tile and URL), and saves
a screenshot of each page (light and dark) to artifacts/screenshots/, and the README's two
images to docs/img/ (when missing, or with UPDATE_DOC_IMAGES=1).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.compute as pc
import pytest

from pages._text import short
from pages._ui import colours
from tests.paths import REPO
from tests.support.browser import TILE, TILE_VALUE, settle
from tests.support.dashboard import BEACON, HOSTILE_TAG, Truth, utc_midnight
from tests.support.servers import CHROMIUM, chromium, serve_dashboard

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SHOTS = REPO / "artifacts" / "screenshots"
DOCS_IMG = REPO / "docs" / "img"
PAGES = {
    "overview": "",
    "spend": "spend",
    "reliability": "reliability",
    "explore": "explore",
    "savings": "savings",
    "budgets": "budgets",
    "reconciliation": "reconciliation",
    "statement": "statement",
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(seeded: tuple[Path, Truth]) -> Iterator[str]:
    yield from serve_dashboard(seeded[0])


@pytest.fixture(scope="module")
def hostile_server(hostile: Path) -> Iterator[str]:
    """A server over the ledger whose names, stale source and budget are markup (tests/dashboard/conftest.py)."""
    yield from serve_dashboard(hostile)


@pytest.fixture
def fresh_server(seeded: tuple[Path, Truth]) -> Iterator[str]:
    """A server no session has visited yet (its first visitor arrives by a deep link)."""
    yield from serve_dashboard(seeded[0])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(sync_api) as browser:
        yield browser


def _refresh(doc_image: Path) -> bool:
    """README images are written when missing or with UPDATE_DOC_IMAGES=1, so test runs leave git clean."""
    return not doc_image.exists() or os.environ.get("UPDATE_DOC_IMAGES") == "1"


def _expect_tile(page: Page, label: str, value: str) -> None:
    """The tile shows `value` (Playwright polls until it does, up to 60 s: a rerun may lag)."""
    tile = page.locator(TILE, has_text=label).first
    sync_api.expect(tile.locator(TILE_VALUE)).to_have_text(value, timeout=60_000)


def _assert_no_exception(page: Page, name: str) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, f"{name}: {boxes.first.inner_text()[:500]}"


@pytest.mark.slow
def test_every_page_opens_without_exception_and_is_screenshotted(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        size = {"width": 1440, "height": 3000}
        context = browser.new_context(viewport=size, color_scheme=scheme)
        page = context.new_page()
        for name, path in PAGES.items():
            page.goto(f"{server}/{path}")
            settle(page)
            _assert_no_exception(page, f"{name} ({scheme})")
            sync_api.expect(page.locator("h1").first).to_have_text(name.capitalize(), timeout=60_000)
            suffix = "" if scheme == "light" else "-dark"
            page.screenshot(path=str(SHOTS / f"{name}{suffix}.png"), full_page=True)
            doc_image = DOCS_IMG / f"{name}.png"
            if scheme == "light" and name in ("overview", "reliability") and _refresh(doc_image):
                DOCS_IMG.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(doc_image), full_page=True)
        context.close()


_CHART = "document.querySelector('[data-testid=\"stVegaLiteChart\"] svg.marks')"
_TAG_CHART = f"() => {{ {_CHART}.dataset.kept = 'yes'; }}"
_CHART_KEPT = f"() => {_CHART}?.dataset.kept === 'yes'"
"""Tags the spend chart's drawing, then finds the tag again: a chart updated in place keeps it."""
_LEGEND = """() => {
    const chart = document.querySelector('[data-testid="stVegaLiteChart"]');
    const fills = [...chart.querySelectorAll('.role-legend-symbol path')].map(p => p.getAttribute('fill'));
    return [...chart.querySelectorAll('.role-legend-label text')].map((t, i) => [t.textContent, fills[i]]);
}"""


def _expect_legend(page: Page, models: list[str], window_models: list[str]) -> None:
    """The drawn legend names `models`, each in its colour of the view (pages._ui.colours over the window's
    models): Vega pairs names and colours from the rows (pages/_bars.py), so only the drawing can show it."""
    wanted = {m: colours(window_models)[m] for m in models}
    deadline, drawn = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        drawn = dict(page.evaluate(_LEGEND))
        if drawn == wanted:
            return
        page.wait_for_timeout(100)
    assert drawn == wanted


@pytest.mark.slow
def test_overview_spend_matches_and_a_sidebar_filter_applies(server, browser, seeded):
    _, truth = seeded
    now = datetime.now(UTC)
    start, end = utc_midnight(29, now), utc_midnight(-1, now)
    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    page.goto(server)
    settle(page)
    _expect_tile(page, "Spend (USD)", f"${truth.spend(truth.window(start, end)):,.2f}")
    assert page.locator('[data-testid="stAlert"]', has_text="no price").count() == 1  # acme-finetune-1's
    rows = truth.window(start, end)
    window_models = pc.unique(rows["model"]).to_pylist()
    priced = rows.filter(pc.is_valid(rows["cost"]))
    _expect_legend(page, pc.unique(priced["model"]).to_pylist(), window_models)
    page.evaluate(_TAG_CHART)
    model = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]', has_text="Model")
    model.locator("input").click()
    page.keyboard.type("mistral-large-latest")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    settle(page)
    expected = truth.spend(truth.window(start, end, model="mistral-large-latest"))
    _expect_tile(page, "Spend (USD)", f"${expected:,.2f}")
    sync_api.expect(page).to_have_url(re.compile("model=mistral-large-latest"), timeout=60_000)
    assert page.locator('[data-testid="stAlert"]', has_text="no price").count() == 0
    _expect_legend(page, ["mistral-large-latest"], window_models)
    assert page.evaluate(_CHART_KEPT), "the spend chart was drawn afresh: its spec changed, or an element above it"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "overview-filtered.png"), full_page=True)
    page.close()


@pytest.mark.slow
def test_a_deep_link_as_the_first_visit_gets_the_page_with_its_frame(fresh_server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    page.goto(f"{fresh_server}/reliability?range=7d")
    settle(page)
    _assert_no_exception(page, "reliability by deep link")
    sync_api.expect(page.locator("h1").first).to_have_text("Reliability", timeout=60_000)
    sync_api.expect(page.get_by_text("money in USD").first).to_be_visible(timeout=60_000)
    sync_api.expect(page.locator('[data-testid="stSidebarNav"]')).not_to_contain_text("frame")
    page.close()


_LINKS_TO = """(host) => Array.from(document.querySelectorAll('*')).filter(
    e => Array.from(e.attributes).some(a => /href|src/i.test(a.name) && a.value.includes(host))
).map(e => (e.closest('[data-testid]') || {}).getAttribute?.('data-testid') + ' '
             + (e.parentElement || e).outerHTML.slice(0, 400))"""
"""Elements with an href/src naming `host`, each with its Streamlit element and HTML (for the failure message)."""


@pytest.mark.slow
def test_hostile_names_fetch_nothing_and_make_no_link(hostile_server: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 2400})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    context.route(re.compile(re.escape(BEACON)), lambda route: route.abort())
    page = context.new_page()
    for name, path in {**PAGES, "reconciliation": "reconciliation"}.items():
        page.goto(f"{hostile_server}/{path}")
        settle(page)
        _assert_no_exception(page, name)
        assert page.evaluate(_LINKS_TO, BEACON) == [], name
    page.goto(f"{hostile_server}/spend")
    settle(page)
    sync_api.expect(page.get_by_text(f"{BEACON}/bare").first).to_be_visible(timeout=60_000)
    page.goto(hostile_server)
    settle(page)
    assert short(HOSTILE_TAG) == HOSTILE_TAG and len(HOSTILE_TAG) > 40  # a long name, whole in tables
    assert HOSTILE_TAG in page.evaluate(_CHART_TEXTS), "the legend names the model whole, as text"
    page.locator(f'{_VEGA} path[aria-label*="{BEACON}/t.png"]').first.hover(force=True)
    tooltip = page.locator("#vg-tooltip-element")
    sync_api.expect(tooltip).to_contain_text(HOSTILE_TAG, timeout=60_000)  # as text, not as tags
    assert tooltip.locator("img, b").count() == 0
    assert page.evaluate(_LINKS_TO, BEACON) == []
    assert [url for url in requested if BEACON in url] == []
    context.close()


_VEGA = '[data-testid="stVegaLiteChart"] svg'
_CHART_TEXTS = f"() => Array.from(document.querySelectorAll('{_VEGA} text')).map(t => t.textContent)"
"""Every text a Vega chart draws (legend, axes, title)."""


_VALUES = f"{TILE_VALUE}, {TILE_VALUE.replace(', ', ' *, ')} *"
_CUT = f"""() => Array.from(document.querySelectorAll('{_VALUES}'))
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""
"""The text of every metric value wider than its box (what the browser cuts with an ellipsis)."""


@pytest.mark.slow
def test_statement_reads_for_finance_and_overview_tiles_are_not_cut(server, browser, seeded):
    """The ledger's oldest month: its spend with 2 decimals, the month before it "no data"."""
    _, truth = seeded
    first_day = truth.table["timestamp"].to_pylist()
    oldest = min(first_day)
    month = f"{oldest:%Y-%m}"
    start = datetime(oldest.year, oldest.month, 1, tzinfo=UTC)
    following = datetime(oldest.year + oldest.month // 12, oldest.month % 12 + 1, 1, tzinfo=UTC)
    previous = f"{(start - timedelta(days=1)):%Y-%m}"
    page = browser.new_page(viewport={"width": 1440, "height": 1600})
    page.goto(server)
    settle(page)
    assert page.evaluate(_CUT) == []
    page.goto(f"{server}/statement")
    settle(page)
    picker = page.locator('[data-testid="stSelectbox"]', has_text="Month")
    picker.click()
    page.get_by_role("option", name=month).click()
    settle(page)
    _assert_no_exception(page, "statement")
    _expect_tile(page, f"Spend {month}", f"${truth.spend(truth.window(start, following)):,.2f}")
    _expect_tile(page, f"Spend {previous}", "no data")
    sync_api.expect(page.get_by_text(f"The ledger holds no day of {previous}").first).to_be_visible(timeout=60_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "statement-oldest-month.png"), full_page=True)
    page.close()


WIDEST = {"money": "$9,999.99", "compact money": "-$999.9k", "count": "999.9M", "rate": "100.00%", "latency": "99.99 s"}
"""The widest value of each kind a tile shows (pages/_ui.py: money in full below TILE_MONEY_EXACT_BELOW, compact
from it; counts compact; rates with 2 decimals; latency in seconds with 2)."""
_FILL = f"""(text) => Array.from(document.querySelectorAll('{TILE_VALUE}')).map(value => {{
    let inner = value; while (inner.firstElementChild) inner = inner.firstElementChild;
    inner.textContent = text; return inner.textContent; }}).length"""
"""Writes `text` into every tile's value (the run is over: nothing redraws it) and counts the tiles."""


@pytest.mark.slow
@pytest.mark.parametrize("path", ["", "savings", "statement", "reliability"])
def test_no_tile_cuts_the_widest_value_it_can_show(server, browser, path):
    """At 1280 px (a laptop), each tile of the page holds the widest value any tile may show: six tiles in one row
    cut "$1,380.45" to "$1,38…" on the Overview at 1440 px."""
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(f"{server}/{path}")
    settle(page)
    for kind, text in WIDEST.items():
        assert page.evaluate(_FILL, text) >= 3, path
        assert page.evaluate(_CUT) == [], f"{path or 'overview'}: {kind} {text} is cut"
    page.close()


@pytest.mark.slow
def test_explore_draws_an_unpriced_model_as_unpriced(server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1600})
    page.goto(f"{server}/explore")
    settle(page)
    _assert_no_exception(page, "explore")
    sync_api.expect(page.locator(f"{_VEGA} text", has_text="acme-finetune-1 (unpriced)").first).to_be_visible(
        timeout=60_000
    )  # the legend's name for it
    note = page.get_by_text("acme-finetune-1 has no price: shown as unpriced, never as 0")
    sync_api.expect(note.first).to_be_visible(timeout=60_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "explore-unpriced.png"), full_page=True)
    page.close()
