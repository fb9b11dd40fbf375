"""Pages read the ledger through typed, cached functions: none by name, each as the ledger defines it."""

from __future__ import annotations

import ast
import importlib
import inspect
import types
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


DATA_PACKAGES = ("ledger", "alerts")
"""Where the data functions live (ledger.queries, .billing, .storage, the alerts engine's reads): each takes
`data_dir` first and reads the files (uncached)."""


def _data_function(value: object) -> bool:
    if not inspect.isfunction(value):
        return False
    params = list(inspect.signature(value).parameters)
    return bool(params) and params[0] == "data_dir"


def _ledger_module(name: str | None) -> types.ModuleType | None:
    return importlib.import_module(name) if name and name.startswith(DATA_PACKAGES) else None


def uncached_reads(path: Path) -> list[str]:
    """The data functions of the ledger and alerts a file imports or calls through a module name."""
    tree = ast.parse(path.read_text())
    found, modules = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (module := _ledger_module(alias.name)) is not None:
                    modules[alias.asname or alias.name] = module
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(DATA_PACKAGES):
            for alias in node.names:
                value = getattr(importlib.import_module(node.module or ""), alias.name, None)
                if isinstance(value, types.ModuleType) and _ledger_module(value.__name__) is not None:
                    modules[alias.asname or alias.name] = value
                elif _data_function(value) and _ledger_module(getattr(value, "__module__", "")) is not None:
                    found.append(f"{path.name}:{node.lineno} imports {node.module}.{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            if _data_function(getattr(modules[node.value.id], node.attr, None)):
                found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_no_page_reads_the_ledger_but_through_the_cached_data_module() -> None:
    """Every ledger read of a page is a cached call in pages/_data.py: a rerun of the same view costs nothing."""
    pages = [path for path in PAGE_FILES if path.name != "_data.py"]
    assert [read for path in pages for read in uncached_reads(path)] == []


def test_the_check_sees_an_imported_and_an_attribute_read(tmp_path: Path) -> None:
    page = tmp_path / "page.py"
    page.write_text(
        "from ledger import queries\n"
        "from ledger.queries import Filters, spend_summary\n"
        "from ledger.queries.statement import statement_months\n"
        "import ledger.billing as b\n"
        "from ledger import list_days\n"
        "import alerts\n"
        "queries.top_contributors(d, f)\n"
        "queries.OTHER, b.compare_prices, alerts.anomaly_episodes, alerts.Budget\n"
    )
    assert uncached_reads(page) == [
        "page.py:2 imports ledger.queries.spend_summary",
        "page.py:3 imports ledger.queries.statement.statement_months",
        "page.py:5 imports ledger.list_days",
        "page.py:7 uses queries.top_contributors",
        "page.py:8 uses b.compare_prices",
        "page.py:8 uses alerts.anomaly_episodes",
    ]
