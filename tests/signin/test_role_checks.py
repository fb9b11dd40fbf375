"""Role checks where the action happens: pages run with a signed-in principal in the session.

A viewer's Explore has no SQL box (no widget to send a crafted click to, and `sql_box` itself
refuses); a viewer's Budgets page has no editor and no test buttons; an editor gets those.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from access import Principal
from pages._auth import PRINCIPAL_KEY
from tests.support.dashboard import Truth

from .browser import REPO

pytestmark = pytest.mark.slow


def _frame_and_page(page_path: str) -> None:
    import runpy

    from pages._frame import draw_frame

    if draw_frame() is not None:
        runpy.run_path(page_path, run_name="__page__")


@pytest.fixture
def signed_in_env(seeded: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sign-in mode (trusted header configured), so no session counts as the open mode's anyone."""
    access = tmp_path / "access.toml"
    access.write_text('[trusted_header]\nheader = "X-Email"\nproxies = ["127.0.0.1"]\n')
    monkeypatch.setenv("DATA_DIR", str(seeded[0]))
    monkeypatch.setenv("MONITOR_TIMEZONE", "UTC")
    monkeypatch.setenv("MONITOR_ACCESS", str(access))
    monkeypatch.setenv("MONITOR_SIGNIN", "header")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return seeded[0]


def run_as(page: str, who: Principal | None) -> AppTest:
    at = AppTest.from_function(_frame_and_page, args=(str(REPO / page),), default_timeout=90)
    if who is not None:
        at.session_state[PRINCIPAL_KEY] = who
    return at.run()


def has_button(at: AppTest, key: str) -> bool:
    try:
        at.button(key=key)
    except KeyError:
        return False
    return True


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (Principal("v@example.com", "viewer"), False),
        (Principal("e@example.com", "editor"), False),
        (Principal("a@example.com", "admin"), True),
        (None, False),
    ],
)
def test_only_admins_get_the_sql_box(signed_in_env: Path, who: Principal | None, allowed: bool) -> None:
    at = run_as("pages/explore.py", who)
    assert not at.exception, at.exception
    assert has_button(at, "ex_run") is allowed
    assert any(s.value == "SQL (read-only)" for s in at.subheader) is allowed


@pytest.mark.parametrize(
    ("who", "allowed"), [(Principal("v@example.com", "viewer"), False), (Principal("e@example.com", "editor"), True)]
)
def test_only_editors_edit_budgets_and_send_tests(signed_in_env: Path, who: Principal, allowed: bool) -> None:
    at = AppTest.from_file(str(REPO / "pages" / "budgets.py"), default_timeout=90)
    at.session_state[PRINCIPAL_KEY] = who
    at.run()
    assert not at.exception, at.exception
    headers = [h.value for h in at.header]
    assert ("Edit budgets" in headers) is allowed
    assert ("Test email" in headers) is allowed
    assert "Alert history" in headers
