"""The issue-20 attacks on sign-in, against real `streamlit run` processes, a browser and a second source address.

127.0.0.2 plays "not the proxy" (tests/signin/relay.py connects from it); the proxy is 127.0.0.1. Each
test failed on the code before the fix: a lost access file opened every page; the agent API signed in
whoever sent the header; a header sent twice took the client's copy; a removed user's live tiles kept
refreshing; exports had /media/ URLs fetchable with no session and no audit record; denied sign-ins
were not recorded.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from access import AuditLog, audit_path
from tests.support.browser import TILE
from tests.support.dashboard import Truth

from .browser import CHROMIUM, chromium, download, nav_titles, serve, settle
from .relay import relay

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api")
HEADER = "X-Forwarded-Email"
HEADER_MODE = {"MONITOR_SIGNIN": "header"}
PROXY = '[trusted_header]\nheader = "X-Forwarded-Email"\nproxies = ["127.0.0.1"]\n'
USERS = '[users."ana@example.com"]\nrole = "admin"\n'
WITH_VERA = f'allowed_emails = ["vera@example.com"]\n{USERS}{PROXY}'
WITHOUT_VERA = f"{USERS}{PROXY}"
SIGN_IN = "Sign in through your organisation's sign-in proxy"
MEDIA = re.compile(rb"/media/[0-9a-f]+\.[a-z]+")


def sign_ins(data_dir: Path) -> list[tuple[str, str]]:
    return [(r["who"], r["detail"]) for r in AuditLog(audit_path(data_dir)).read() if r["action"] == "sign_in"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(sync_api) as browser:
        yield browser


def visit(browser: Browser, url: str, email: str | None, frames: list[bytes] | None = None) -> Page:
    headers = {HEADER: email} if email else {}
    context = browser.new_context(
        viewport={"width": 1440, "height": 1400}, extra_http_headers=headers, accept_downloads=True
    )
    page = context.new_page()
    if frames is not None:
        page.on(
            "websocket",
            lambda ws: ws.on("framereceived", lambda p: frames.append(p if isinstance(p, bytes) else p.encode())),
        )
    page.goto(url)
    settle(page)
    return page


@pytest.fixture(scope="module")
def lost(seeded: tuple[Path, Truth], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Header mode asked for by name, with MONITOR_ACCESS pointing at a file that is not there (yet)."""
    access = tmp_path_factory.mktemp("lost") / "access.toml"
    for url in serve(seeded[0], access, env=HEADER_MODE):
        yield url, access


@pytest.mark.slow
def test_a_lost_access_file_or_section_stops_header_mode_never_opens_it(
    lost: tuple[str, Path], browser: Browser
) -> None:
    url, access = lost
    with relay(url) as elsewhere:
        page = visit(browser, f"{elsewhere}/explore", None)
        sync_api.expect(page.locator('[data-testid="stAlert"]').first).to_contain_text("does not exist", timeout=60_000)
        assert "Open dashboard" not in page.locator('[data-testid="stMain"]').inner_text()
        assert nav_titles(page) == [] and page.locator(TILE).count() == 0
        page.context.close()
        access.write_text(USERS)
        page = visit(browser, f"{elsewhere}/audit", None)
        sync_api.expect(page.locator('[data-testid="stAlert"]').first).to_contain_text("has no [trusted_header]")
        assert "Open dashboard" not in page.locator('[data-testid="stMain"]').inner_text()
        assert nav_titles(page) == [] and page.locator('[data-testid="stDataFrame"]').count() == 0
        page.context.close()


@pytest.fixture(scope="module")
def agent(seeded: tuple[Path, Truth], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    access = tmp_path_factory.mktemp("agent") / "access.toml"
    access.write_text(WITH_VERA)
    yield from serve(seeded[0], access, "--server.enableAgentApi", "true", env=HEADER_MODE)


@pytest.mark.slow
def test_the_agent_api_signs_nobody_in_through_the_header(agent: str) -> None:
    """POST /_stcore/agent/interact with an admin's header, from 127.0.0.2 and from the proxy's own address."""
    for source in ("127.0.0.2", "127.0.0.1"):
        with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=90) as client:
            reply = client.post(
                f"{agent}/_stcore/agent/interact", json={"page": "explore"}, headers={HEADER: "ana@example.com"}
            )
        body = reply.text
        assert reply.status_code < 500, body[:500]
        assert "SQL (read-only)" not in body and "Signed in as" not in body, source
        assert "refuses to run with Streamlit" in body and "agent API on" in body, body[:1000]


@pytest.fixture(scope="module")
def header_site(seeded: tuple[Path, Truth], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    access = tmp_path_factory.mktemp("header") / "access.toml"
    access.write_text(WITH_VERA)
    for url in serve(seeded[0], access, env=HEADER_MODE):
        yield url, access


@pytest.mark.slow
def test_a_header_sent_twice_is_refused(
    header_site: tuple[str, Path], browser: Browser, seeded: tuple[Path, Truth]
) -> None:
    """The proxy (here the relay, from 127.0.0.1) appends vera's header after the client's forged admin one."""
    url, access = header_site
    access.write_text(WITH_VERA)
    with relay(url, source="127.0.0.1", add=[(HEADER, "vera@example.com")]) as proxy:
        page = visit(browser, f"{proxy}/explore", "ana@example.com")
        sync_api.expect(page.get_by_text(SIGN_IN)).to_be_visible(timeout=60_000)
        assert nav_titles(page) == [] and "SQL (read-only)" not in page.content()
        page.context.close()
    assert any("sent 2 times" in detail for _, detail in sign_ins(seeded[0]))


@pytest.mark.slow
def test_denied_sign_ins_are_in_the_audit_log(
    header_site: tuple[str, Path], browser: Browser, seeded: tuple[Path, Truth]
) -> None:
    url, access = header_site
    access.write_text(WITH_VERA)
    with relay(url) as elsewhere:
        page = visit(browser, elsewhere, "ana@example.com")
        sync_api.expect(page.get_by_text(SIGN_IN)).to_be_visible(timeout=60_000)
        page.context.close()
    page = visit(browser, url, "mallory@evil.test")
    sync_api.expect(page.get_by_text("may not use this dashboard")).to_be_visible(timeout=60_000)
    page.context.close()
    page = visit(browser, url, "vera@example.com")
    sync_api.expect(page.locator("h1").first).to_have_text("Overview", timeout=60_000)
    page.context.close()
    found = sign_ins(seeded[0])
    assert any("ana@example.com from 127.0.0.2, not a proxy" in detail for _, detail in found), found
    assert ("mallory@evil.test", "denied (header): not in the access file") in found
    assert ("vera@example.com", "allowed (header)") in found
    assert AuditLog(audit_path(seeded[0])).verify().ok


@pytest.mark.slow
def test_a_removed_user_stops_getting_live_tiles(header_site: tuple[str, Path], browser: Browser) -> None:
    url, access = header_site
    access.write_text(WITH_VERA)
    page = visit(browser, url, "vera@example.com")
    caption = page.get_by_text(re.compile(r"· updated \d\d:\d\d:\d\d"))
    sync_api.expect(caption).to_be_visible(timeout=60_000)
    assert page.locator(TILE).count() >= 6
    before = caption.inner_text()
    access.write_text(WITHOUT_VERA)
    denied = page.get_by_text("may not use this dashboard")
    deadline = time.monotonic() + 90  # the tiles' fragment runs every 30 s
    while time.monotonic() < deadline and not denied.is_visible():
        if any(text != before for text in caption.all_inner_texts()):
            break  # a fragment run happened and still drew figures
        page.wait_for_timeout(500)
    assert denied.is_visible(), "the live tiles refreshed for a user no longer in the access file"
    assert page.locator(TILE).count() == 0 and nav_titles(page) == []
    page.context.close()


@pytest.mark.slow
def test_exports_exist_only_once_a_signed_in_person_asks_and_that_is_audited(
    header_site: tuple[str, Path], browser: Browser, seeded: tuple[Path, Truth]
) -> None:
    url, access = header_site
    access.write_text(WITH_VERA)
    frames: list[bytes] = []
    page = visit(browser, f"{url}/explore", "vera@example.com", frames)
    sync_api.expect(page.get_by_role("button", name="Download CSV")).to_be_visible(timeout=60_000)
    page.goto(f"{url}/statement")
    settle(page)
    sync_api.expect(page.get_by_role("button", name="Download CSV (every line)")).to_be_visible(timeout=60_000)
    handed_out = sorted({m.decode() for frame in frames for m in MEDIA.findall(frame)})
    served = []
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30) as outsider:
        for path in handed_out:
            reply = outsider.get(f"{url}{path}")
            served.append((path, reply.status_code, len(reply.content)))
    exports = [r for r in AuditLog(audit_path(seeded[0])).read() if r["action"] == "export"]
    assert handed_out == [], (
        f"export URLs before any click, fetched from 127.0.0.2 with no session: {served}; audited: {exports}"
    )
    got = download(page, page.get_by_role("button", name="Download CSV (every line)"))
    assert got.read_bytes().startswith(b"project,") or got.stat().st_size > 0
    after = [r for r in AuditLog(audit_path(seeded[0])).read() if r["action"] == "export"]
    assert len(after) == len(exports) + 1
    assert (after[0]["who"], after[0]["role"]) == ("vera@example.com", "viewer")
    assert after[0]["detail"].startswith("statement ")
    page.context.close()
