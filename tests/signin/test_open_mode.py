"""Open mode (no `[auth]`, no trusted header): the demo runs as before, with the notice on every page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from access.mode import NO_MODE
from pages._auth import OPEN_NOTICE
from pages._text import md
from tests.support.dashboard import Truth, tiles

from .browser import CHROMIUM, REPO, chromium, nav_titles, serve, settle

pytestmark = pytest.mark.slow

PAGES = ["", "spend", "reliability", "explore", "budgets", "reconciliation", "statement", "audit"]


@pytest.fixture
def open_env(seeded: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATA_DIR", str(seeded[0]))
    monkeypatch.setenv("MONITOR_TIMEZONE", "UTC")
    monkeypatch.setenv("MONITOR_ACCESS", str(tmp_path / "no-access.toml"))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return seeded[0]


def test_the_demo_keeps_every_tool_with_the_notice(open_env: Path) -> None:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90).run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning if "Open dashboard" in w.value] == [md(OPEN_NOTICE, 500)]
    assert at.title[0].value == "Overview" and tiles(at)


@pytest.fixture(scope="module")
def open_server(seeded: tuple[Path, Truth], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(seeded[0], tmp_path_factory.mktemp("open") / "no-access.toml")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium")
def test_every_page_says_it_is_open_and_nothing_else_from_app_py(open_server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with chromium(sync_api) as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 1400})
        for path in PAGES:
            page.goto(f"{open_server}/{path}")
            settle(page)
            alert = page.locator('[data-testid="stAlert"]', has_text="Open dashboard")
            sync_api.expect(alert).to_have_text("lock_open" + OPEN_NOTICE, timeout=60_000)  # the icon is a glyph name
            assert page.locator('[data-testid="stAlert"] a').count() == 0, path
            main = page.locator('[data-testid="stMain"]').inner_text()
            assert "hidden menu" not in main and "sign-in screen" not in main, path
            assert nav_titles(page)[-1] == "Audit log", path
        page.goto(f"{open_server}/explore")
        settle(page)
        sync_api.expect(page.get_by_text("SQL (read-only)")).to_be_visible()


def test_a_wrong_access_file_stops_every_page_with_one_line(
    open_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "access.toml"
    bad.write_text('[users."ana@example.com"]\nrole = "owner"\n')
    monkeypatch.setenv("MONITOR_ACCESS", str(bad))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90).run()
    assert not at.exception
    assert len(at.error) == 1 and "use one of viewer, editor, admin" in at.error[0].value
    assert not tiles(at) and not at.sidebar.multiselect


def test_open_mode_only_when_asked_for_by_name(open_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No MONITOR_SIGNIN, no [auth], no access file: it used to open every page; now one line names the fix."""
    monkeypatch.delenv("MONITOR_SIGNIN")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90).run()
    assert not at.exception
    assert [e.value for e in at.error] == [md(NO_MODE, 1_000)]
    assert not any("Open dashboard" in w.value for w in at.warning)
    assert not tiles(at) and not at.sidebar.multiselect
