"""Pages read the ledger through typed, cached functions: none by name, each as the ledger defines it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from ledger import queries
from pages import _data as data
from tests.paths import REPO

PAGE_FILES = sorted((REPO / "pages").glob("*.py")) + [REPO / "app.py"]
QUERY_NAMES = {name for name, value in vars(queries).items() if inspect.isfunction(value)}
WRAPPED = sorted(name for name in QUERY_NAMES if callable(getattr(data, name, None)))


def _string_calls(path: Path) -> list[str]:
    """Calls whose first argument is a string naming a ledger query (`fetch("spend_summary", ...)`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            if node.args[0].value in QUERY_NAMES:
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)[:80]}")
    return found


def test_no_page_calls_a_query_by_its_name() -> None:
    assert [call for path in PAGE_FILES for call in _string_calls(path)] == []
    assert "fetch" not in vars(__import__("pages._ui", fromlist=["_"]))


def test_the_data_module_wraps_the_queries_the_pages_use() -> None:
    assert {"spend_summary", "spend_over_time", "dimension_values", "breakdown", "conversion"} <= set(WRAPPED)


@pytest.mark.parametrize("name", WRAPPED)
def test_each_wrapper_keeps_the_ledgers_parameters_and_defaults(name: str) -> None:
    mine = inspect.signature(getattr(data, name))
    theirs = inspect.signature(getattr(queries, name))
    for param in mine.parameters.values():
        assert param.name in theirs.parameters, f"{name}({param.name}) is not a parameter of ledger.queries.{name}"
        assert param.default == theirs.parameters[param.name].default, f"{name}({param.name}) default differs"
    assert mine.return_annotation == theirs.return_annotation
