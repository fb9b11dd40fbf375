"""The Budgets page's limits and key-label section under AppTest: refuses bad values with the key,
saves good ones to the budgets file (budgets kept) in a form the gateway loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from alerts import load_budgets
from foundation.limit_rules import load_limit_file
from tests.paths import REPO

pytestmark = pytest.mark.slow

BUDGETS = """
[[budgets]]
name = "search monthly"
amount = 200
project = "search"
"""


@pytest.fixture
def budgets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "budgets.toml").write_text(BUDGETS)
    config = tmp_path / "monitor.toml"
    config.write_text('data_dir = "data"\ntimezone = "Europe/Paris"\ncurrency = "EUR"\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    return data / "budgets.toml"


def page() -> AppTest:
    return AppTest.from_file(str(REPO / "pages" / "budgets.py"), default_timeout=60).run()


def limit_form(at: AppTest) -> Block:
    return form_with_button(at, "Save limit")


def label_form(at: AppTest) -> Block:
    return form_with_button(at, "Save label")


def form_with_button(at: AppTest, label: str) -> Block:
    """The form whose button reads `label` (AppTest types its nodes loosely; forms are Blocks)."""
    form = next(f for f in at.get("form") if any(b.label == label for b in f.button))
    assert isinstance(form, Block), form
    return form


def test_a_limit_and_a_label_are_saved_where_the_gateway_reads_them(budgets_file: Path) -> None:
    at = page()
    assert not at.exception, at.exception
    form = label_form(at)
    form.text_input[0].set_value("key-0123456789abcdef")
    form.text_input[1].set_value("search prod")
    form.button[0].click().run()
    assert not at.exception, at.exception
    form = limit_form(at)
    form.text_input[0].set_value("prod rpm")
    form.text_input[2].set_value("search prod")
    form.number_input[1].set_value(120)
    form.button[0].click().run()
    assert not at.exception, at.exception
    limits, labels = load_limit_file(budgets_file)
    assert labels == {"key-0123456789abcdef": "search prod"}
    assert [(lim.name, lim.api_key, lim.requests_per_minute, lim.amount, lim.hard) for lim in limits] == [
        ("prod rpm", "search prod", 120, None, True)
    ]
    assert limits[0].key_ids == frozenset({"key-0123456789abcdef"})
    assert [b.name for b in load_budgets(budgets_file)] == ["search monthly"]


def test_bad_limits_are_refused_with_the_key(budgets_file: Path) -> None:
    at = page()
    form = limit_form(at)
    form.text_input[0].set_value("bell\x07")
    form.number_input[1].set_value(5)
    form.button[0].click().run()
    assert any(e.value.startswith("Not saved: name: 'bell") and "control character" in e.value for e in at.error)
    form = limit_form(at)
    form.text_input[0].set_value("nothing")
    form.number_input[1].set_value(0)
    form.button[0].click().run()
    assert any("Not saved: amount: a limit needs amount" in e.value for e in at.error)
    assert load_limit_file(budgets_file) == ([], {})
