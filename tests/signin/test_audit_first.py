"""Every change made from the Budgets page is in the audit log first, and is not made when that write fails.

Budget save and delete used to happen before (and regardless of) their audit record; gateway-limit and
key-label edits were never audited at all. The audit log is blocked by a file where its folder goes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from access import AuditLog, audit_path
from alerts import load_budgets, load_limits
from ledger.queries import Filters
from pages._frame import Context
from pages._routing import CONTEXT_KEY
from tests.paths import REPO

pytestmark = pytest.mark.slow

BUDGETS = """
[[budgets]]
name = "search monthly"
amount = 200
project = "search"

[[limits]]
name = "search rpm"
project = "search"
requests_per_minute = 60
"""


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "budgets.toml").write_text(BUDGETS)
    config = tmp_path / "monitor.toml"
    config.write_text('data_dir = "data"\ntimezone = "UTC"\ncurrency = "EUR"\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    monkeypatch.setenv("MONITOR_ACCESS", str(tmp_path / "no-access.toml"))
    return data


def block_audit(data: Path) -> None:
    """A file where the audit folder goes: every append fails (as on a full or read-only disk)."""
    (data / "audit").write_text("not a folder")


def page() -> AppTest:
    at = AppTest.from_file(str(REPO / "pages" / "budgets.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def form(at: AppTest, button: str) -> Block:
    found = next(f for f in at.get("form") if any(b.label == button for b in f.button))
    assert isinstance(found, Block)
    return found


def actions(data: Path) -> list[tuple[str, str]]:
    return [(r["action"], r["detail"]) for r in reversed(AuditLog(audit_path(data)).read())]


def refused(at: AppTest) -> bool:
    assert not at.exception, at.exception
    return any("the audit log cannot be written" in e.value for e in at.error)


def save_budget(at: AppTest, name: str) -> None:
    budget = form(at, "Save budget")
    budget.text_input[0].set_value(name)
    budget.number_input[0].set_value(25.0)
    budget.button[0].click().run()


def test_budget_save_and_delete_are_not_made_without_their_record(data: Path) -> None:
    before = (data / "budgets.toml").read_text()
    block_audit(data)
    at = page()
    save_budget(at, "support daily")
    assert refused(at)
    assert (data / "budgets.toml").read_text() == before
    at.selectbox(key="edit_pick").set_value("search monthly").run()
    at.button(key="delete").click().run()
    assert refused(at)
    assert [b.name for b in load_budgets(data / "budgets.toml")] == ["search monthly"]


def test_budget_save_and_delete_are_audited(data: Path) -> None:
    at = page()
    save_budget(at, "support daily")
    assert not at.exception, at.exception
    assert [b.name for b in load_budgets(data / "budgets.toml")] == ["search monthly", "support daily"]
    at.selectbox(key="edit_pick").set_value("search monthly").run()
    at.button(key="delete").click().run()
    assert [b.name for b in load_budgets(data / "budgets.toml")] == ["support daily"]
    assert [a for a, _ in actions(data)] == ["budget_edit", "budget_delete"]
    assert actions(data)[1][1] == "search monthly"


def test_limit_and_key_label_edits_are_audited(data: Path) -> None:
    at = page()
    limit = form(at, "Save limit")
    limit.text_input[0].set_value("support rpm")
    limit.text_input[1].set_value("support-bot")
    limit.number_input[1].set_value(30)
    limit.button[0].click().run()
    label = form(at, "Save label")
    label.text_input[0].set_value("key-0123456789abcdef")
    label.text_input[1].set_value("search prod")
    label.button[0].click().run()
    at.selectbox(key="limit_pick").set_value("search rpm").run()
    at.button(key="delete_limit").click().run()
    assert not at.exception, at.exception
    limits, labels = load_limits(data / "budgets.toml")
    assert [lim.name for lim in limits] == ["support rpm"] and labels == {"key-0123456789abcdef": "search prod"}
    done = actions(data)
    assert [a for a, _ in done] == ["limit_edit", "key_label", "limit_delete"]
    assert "support rpm" in done[0][1] and "search prod" in done[1][1] and done[2][1] == "search rpm"


def test_limit_and_key_label_edits_are_not_made_without_their_record(data: Path) -> None:
    before = (data / "budgets.toml").read_text()
    block_audit(data)
    at = page()
    limit = form(at, "Save limit")
    limit.text_input[0].set_value("support rpm")
    limit.number_input[1].set_value(30)
    limit.button[0].click().run()
    assert refused(at)
    label = form(at, "Save label")
    label.text_input[0].set_value("key-0123456789abcdef")
    label.text_input[1].set_value("search prod")
    label.button[0].click().run()
    assert refused(at)
    at.selectbox(key="limit_pick").set_value("search rpm").run()
    at.button(key="delete_limit").click().run()
    assert refused(at)
    assert (data / "budgets.toml").read_text() == before


def test_the_audit_page_says_whether_the_chain_verifies(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(data))
    log = AuditLog(audit_path(data))
    for n in range(3):
        log.append("ana@example.com", "admin", "sql", f"SELECT {n}")
    at = AppTest.from_file(str(REPO / "pages" / "audit.py"), default_timeout=60)
    at.session_state[CONTEXT_KEY] = Context(
        data_dir=data,
        filters=Filters.for_dates(date(2026, 1, 1), date(2026, 1, 2)),
        currency="EUR",
        colours={},
        range_label="",
    )
    at.run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["The hash chain verifies over 3 records."]
    log.path.write_text(log.path.read_text().replace("SELECT 1", "SELECT 7"))
    at.run()
    assert [e.value for e in at.error] == [
        "The hash chain is broken at line 3: the file was edited after it was written."
    ]
