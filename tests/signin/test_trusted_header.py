"""Trusted-header mode against a real server and browser: the header counts only from the proxy's address.

The browser connects from 127.0.0.1. With the access file naming another proxy address, the same
header is ignored (sign-in screen only); naming 127.0.0.1, it signs the user in with their role.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import TILE
from tests.support.dashboard import Truth

from .browser import CHROMIUM, chromium, nav_titles, serve, settle

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api")
HEADER = "X-Forwarded-Email"


def write_access(path: Path, proxy: str) -> None:
    path.write_text(
        f'allowed_domains = ["example.com"]\n[users."ana@example.com"]\nrole = "admin"\n'
        f'[trusted_header]\nheader = "{HEADER}"\nproxies = ["{proxy}"]\n'
    )


@pytest.fixture(scope="module")
def access(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("access") / "access.toml"
    write_access(path, "127.0.0.9")
    return path


@pytest.fixture(scope="module")
def server(seeded: tuple[Path, Truth], access: Path) -> Iterator[str]:
    yield from serve(seeded[0], access, env={"MONITOR_SIGNIN": "header"})


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(sync_api) as browser:
        yield browser


def visit(browser: Browser, url: str, email: str | None) -> Page:
    headers = {HEADER: email} if email else {}
    context = browser.new_context(viewport={"width": 1440, "height": 1400}, extra_http_headers=headers)
    page = context.new_page()
    page.goto(url)
    settle(page)
    return page


@pytest.mark.slow
def test_header_from_a_non_proxy_address_is_ignored(server: str, browser: Browser, access: Path) -> None:
    write_access(access, "127.0.0.9")
    page = visit(browser, f"{server}/explore", "ana@example.com")
    sync_api.expect(page.get_by_text("Sign in through your organisation's sign-in proxy")).to_be_visible()
    assert nav_titles(page) == []
    assert page.locator(TILE).count() == 0
    assert "Explore" not in page.locator("h1").all_inner_texts()
    page.context.close()


@pytest.mark.slow
def test_header_from_the_proxy_signs_the_user_in(server: str, browser: Browser, access: Path) -> None:
    write_access(access, "127.0.0.1")
    page = visit(browser, f"{server}/explore", "Ana@Example.com")
    sync_api.expect(page.locator("h1").first).to_have_text("Explore", timeout=60_000)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sync_api.expect(sidebar).to_contain_text("ana@", timeout=60_000)
    sync_api.expect(sidebar).to_contain_text("admin")
    assert "Audit log" in nav_titles(page)
    sync_api.expect(page.get_by_text("SQL (read-only)")).to_be_visible()
    page.context.close()


@pytest.mark.slow
def test_no_header_or_an_outsider_gets_no_page(server: str, browser: Browser, access: Path) -> None:
    write_access(access, "127.0.0.1")
    page = visit(browser, server, None)
    sync_api.expect(page.get_by_text("Sign in through your organisation's sign-in proxy")).to_be_visible()
    assert nav_titles(page) == []
    page.context.close()
    page = visit(browser, server, "mallory@evil.test")
    sync_api.expect(page.get_by_text("may not use this dashboard")).to_be_visible()
    assert nav_titles(page) == [] and page.locator(TILE).count() == 0
    page.context.close()
