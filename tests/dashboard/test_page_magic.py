"""Streamlit's magic draws every bare expression of a page script: a string meant as an attribute
docstring shows on the page (Reconciliation showed one under its header)."""

import ast

import pytest

from tests.paths import REPO

SCRIPTS = sorted(p for p in (REPO / "pages").glob("*.py") if not p.name.startswith("_")) + [REPO / "app.py"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_page_script_has_no_bare_string_but_its_docstring(script):
    body = ast.parse(script.read_text()).body
    bare = [
        node.lineno
        for node in body[1:]
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    ]
    assert bare == [], f"{script.name}: bare strings at lines {bare} would be drawn on the page"
