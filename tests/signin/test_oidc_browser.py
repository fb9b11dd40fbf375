"""Sign-in through a real OpenID Connect provider (oidc-provider on loopback) with st.login, in Chromium.

Each role signs in through the provider's login form and sees what the role allows and no more;
a signed-out visit to any page URL shows only the sign-in screen; a project-scoped person's tiles,
charts, CSV export and SQL results hold only their projects (against pyarrow figures); sign-out
ends the session.
"""

from __future__ import annotations

import csv
import io
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from access import AuditLog, audit_path
from tests.support.browser import TILE, TILE_VALUE
from tests.support.dashboard import Truth, utc_midnight

from .browser import CHROMIUM, chromium, download, free_port, nav_titles, serve, settle
from .oidc import node_ready, provider, write_secrets

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"),
    pytest.mark.skipif(node_ready() is not None, reason=str(node_ready())),
]
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("authlib", reason="st.login needs Authlib (requirements.txt)")

SCOPE = ("analytics", "search")
ACCESS = f"""
allowed_domains = ["example.com"]
[users."ana@example.com"]
role = "admin"
[users."eddie@example.com"]
role = "editor"
[users."lead@example.com"]
projects = {list(SCOPE)!r}
[users."boss@example.com"]
role = "admin"
projects = {list(SCOPE)!r}
""".replace("'", '"')
READ_PAGES = ["Overview", "Spend", "Reliability", "Explore", "Savings"]
ALL_PAGES = [*READ_PAGES, "Budgets", "Reconciliation", "Statement"]
SIGN_IN = "Sign in to see the dashboard."
ALERT_LINK = "spend?range=custom&from=2026-11-01&to=2026-11-30&tz=Europe%2FParis&project=search+%26+co"
"""As alerts/_observation.dashboard_link writes it (a project name with `&` in it)."""
DATA_ELEMENTS = f'{TILE}, [data-testid="stPlotlyChart"], [data-testid="stVegaLiteChart"], [data-testid="stDataFrame"]'


@pytest.fixture(scope="module")
def site(seeded: tuple[Path, Truth], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    here = tmp_path_factory.mktemp("oidc")
    access = here / "access.toml"
    access.write_text(ACCESS)
    app_port, idp_port = free_port(), free_port()
    client_secret = secrets.token_hex(16)
    redirect_uri = f"http://127.0.0.1:{app_port}/oauth2callback"
    idp = provider(idp_port, client_secret, redirect_uri)
    issuer = next(idp)
    secrets_file = write_secrets(here / "secrets.toml", issuer, client_secret, redirect_uri)
    app = serve(seeded[0], access, "--secrets.files", str(secrets_file), port=app_port, env={"MONITOR_SIGNIN": "oidc"})
    url = next(app)
    yield url
    app.close()
    idp.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(sync_api) as browser:
        yield browser


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1440, "height": 1600}, accept_downloads=True)
    return context.new_page()


def sign_in(browser: Browser, site: str, login: str, path: str = "") -> Page:
    """Through the sign-in screen and the provider's own login and consent forms."""
    page = new_page(browser)
    page.goto(f"{site}/{path}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/interaction/**", timeout=60_000)
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any")
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()
    if "/interaction/" in page.url:
        page.locator("button[type=submit]").click()  # the consent form
    page.wait_for_url(f"{site}/**", timeout=60_000)
    settle(page)
    sync_api.expect(page.locator('[data-testid="stSidebar"]')).to_contain_text(login.split("@")[0], timeout=60_000)
    return page


def open_page(page: Page, site: str, path: str) -> None:
    page.goto(f"{site}/{path}")
    settle(page)


def heading(page: Page) -> str:
    return page.locator("h1").first.inner_text()


@pytest.mark.slow
def test_signed_out_visits_show_only_the_sign_in_screen(site: str, browser: Browser) -> None:
    page = new_page(browser)
    for path in ["", "spend", "explore?range=7d&project=search", "budgets", "audit", "statement", "nonexistent"]:
        open_page(page, site, path)
        sync_api.expect(page.get_by_text(SIGN_IN)).to_be_visible()
        assert nav_titles(page) == [], path
        assert page.locator(DATA_ELEMENTS).count() == 0, path
        assert page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').count() == 0, path
    page.context.close()


@pytest.mark.slow
def test_viewer_reads_every_page_but_edits_and_queries_nothing(site: str, browser: Browser) -> None:
    page = sign_in(browser, site, "vera@example.com", ALERT_LINK)
    assert heading(page) == "Spend"  # an alert email's link survives the sign-in, filters included
    query = parse_qs(urlsplit(page.url).query)
    assert query == {
        "range": ["custom"],
        "from": ["2026-11-01"],
        "to": ["2026-11-30"],
        "tz": ["Europe/Paris"],
        "project": ["search & co"],
    }
    assert nav_titles(page) == ALL_PAGES
    open_page(page, site, "explore")
    sync_api.expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("viewer")
    assert page.get_by_text("SQL (read-only)").count() == 0
    open_page(page, site, "budgets")
    assert heading(page) == "Budgets"
    assert page.get_by_text("Edit budgets").count() == 0 and page.get_by_text("Test email").count() == 0
    open_page(page, site, "audit")
    assert heading(page) == "Overview"  # not a page for viewers: Streamlit falls back to the default
    page.context.close()


@pytest.mark.slow
def test_editor_edits_budgets_but_runs_no_sql(site: str, browser: Browser) -> None:
    page = sign_in(browser, site, "eddie@example.com", "budgets")
    assert heading(page) == "Budgets"
    sync_api.expect(page.get_by_text("Edit budgets")).to_be_visible()
    assert "Audit log" not in nav_titles(page)
    open_page(page, site, "explore")
    assert page.get_by_text("SQL (read-only)").count() == 0
    page.context.close()


def audited(data_dir: Path, who: str, action: str, wait_s: float = 60.0) -> list[str]:
    """The audit entries of `who` doing `action`; waits for the first one, since the server appends it in
    the rerun after the click (a download can finish before that rerun does)."""
    deadline = time.monotonic() + wait_s
    while True:
        entries = AuditLog(audit_path(data_dir)).read()
        found = [r["detail"] for r in entries if r["who"] == who and r["action"] == action]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.mark.slow
def test_admin_runs_sql_and_sees_it_in_the_audit_log(site: str, browser: Browser, seeded: tuple[Path, Truth]) -> None:
    page = sign_in(browser, site, "ana@example.com", "explore")
    assert nav_titles(page) == [*ALL_PAGES, "Audit log"]
    page.get_by_role("button", name="Run query").click()
    settle(page)
    sync_api.expect(page.get_by_text("rows").first).to_be_visible()
    assert any("FROM ledger" in sql for sql in audited(seeded[0], "ana@example.com", "sql"))
    open_page(page, site, "audit")
    assert heading(page) == "Audit log"
    text = page.locator('[data-testid="stDataFrame"]').first
    sync_api.expect(text).to_be_visible()
    page.context.close()


def _in_scope(truth: Truth, start: datetime, end: datetime) -> pa.Table:
    rows = truth.window(start, end)
    return rows.filter(pc.is_in(rows["project"], pa.array(list(SCOPE))))


_TRACES = """() => {
    const list = v => Array.isArray(v) ? v.flat(2) : (typeof v === 'string' ? [v] : []);
    const keys = ['name', 'x', 'y', 'labels', 'text', 'hovertext', 'customdata', 'ids'];
    const plotly = Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap(
        p => (p.data || []).flatMap(t => keys.flatMap(k => list(t[k])).map(String)));
    const vega = Array.from(document.querySelectorAll('[data-testid="stVegaLiteChart"] svg')).flatMap(
        s => [...Array.from(s.querySelectorAll('text')).map(t => t.textContent),
              ...Array.from(s.querySelectorAll('[aria-label]')).map(e => e.getAttribute('aria-label'))]);
    return [...plotly, ...vega];
}"""
"""Every string a drawn chart holds: a plotly trace's names, categories, labels and hover text (numbers pass as
text), a Vega chart's texts (legend, axes) and its marks' descriptions (each bar's fields and values)."""


@pytest.mark.slow
def test_scoped_viewer_sees_only_their_projects(site: str, browser: Browser, seeded: tuple[Path, Truth]) -> None:
    _, truth = seeded
    now = datetime.now(UTC)
    rows = _in_scope(truth, utc_midnight(29, now), utc_midnight(-1, now))
    others = set(pc.unique(truth.table["project"]).drop_null().to_pylist()) - set(SCOPE)
    assert others
    page = sign_in(browser, site, "lead@example.com")
    assert nav_titles(page) == READ_PAGES
    tile = page.locator(TILE, has_text="Spend (USD)").first
    sync_api.expect(tile.locator(TILE_VALUE)).to_have_text(f"${Truth.spend(rows):,.2f}")
    for path in ("", "spend"):
        open_page(page, site, path)
        assert not set(page.evaluate(_TRACES)) & others, path
    page.locator('[data-testid="stSelectbox"]', has_text="Break down by").click()
    page.get_by_role("option", name="Project").click()
    settle(page)
    by_project = set(page.evaluate(_TRACES))
    assert set(SCOPE) <= by_project and not by_project & others
    open_page(page, site, "explore")
    got = download(page, page.get_by_role("button", name="Download CSV").first)
    lines = list(csv.DictReader(io.StringIO(got.read_text())))
    assert sum(float(r["spend"]) for r in lines if r["spend"]) == pytest.approx(Truth.spend(rows), rel=1e-6)
    assert audited(seeded[0], "lead@example.com", "export")
    open_page(page, site, "statement")
    assert heading(page) == "Overview"
    page.context.close()


@pytest.mark.slow
def test_scoped_admin_sql_returns_only_their_projects(site: str, browser: Browser) -> None:
    page = sign_in(browser, site, "boss@example.com", "explore")
    page.get_by_label("Query").fill("SELECT DISTINCT coalesce(project, '(none)') AS project FROM ledger ORDER BY 1")
    page.get_by_role("button", name="Run query").click()
    settle(page)
    got = download(page, page.locator('[data-testid="stDownloadButton"]').filter(has_text="Download CSV").last)
    lines = list(csv.DictReader(io.StringIO(got.read_text())))
    assert sorted(r["project"] for r in lines) == sorted(SCOPE)
    page.context.close()


@pytest.mark.slow
def test_sign_out_ends_the_session(site: str, browser: Browser) -> None:
    page = sign_in(browser, site, "vera@example.com")
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    # the app has dropped its session cookie once it sends the browser to the provider's end-session page: a
    # fixed 2 s wait raced that on a loaded machine (the spend page then opened still signed in)
    page.wait_for_url("**/session/end**", timeout=60_000)
    open_page(page, site, "spend")
    sync_api.expect(page.get_by_text(SIGN_IN)).to_be_visible(timeout=60_000)
    assert nav_titles(page) == []
    page.context.close()
