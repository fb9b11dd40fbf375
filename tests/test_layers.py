"""The layering rule, checked: each package imports only the packages below it, and no module
imports another package's private (`_name`) modules or names, nor another subpackage's of its
own package (`ledger.billing` may not import `ledger.queries._engine`; `app.py` is the
dashboard's entry point, so it counts as part of `pages`).

    foundation            (imports none of ours)
    ledger, access        -> foundation
    simulator             -> foundation, ledger          (list prices for its Admin API)
    gateway               -> foundation, ledger
    collector             -> foundation, ledger          (collector.__main__ also wires alerts)
    alerts                -> foundation, ledger       (never gateway: the limits parser is foundation's)
    pages, app            -> foundation, ledger, alerts, access
    monitor_cli           -> every package               (the `mistral-monitor` command runs each one)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.test_import_graph import REPO, absolute

ALLOWED: dict[str, set[str]] = {
    "foundation": set(),
    "ledger": {"foundation"},
    "access": {"foundation"},
    "simulator": {"foundation", "ledger"},
    "gateway": {"foundation", "ledger"},
    "collector": {"foundation", "ledger"},
    "alerts": {"foundation", "ledger"},
    "pages": {"foundation", "ledger", "alerts", "access"},
    "app": {"foundation", "ledger", "alerts", "access", "pages"},
    "monitor_cli": {"foundation", "ledger", "access", "simulator", "gateway", "collector", "alerts", "pages", "app"},
}
WIRING = {"collector.__main__": {"alerts"}}
"""The one place allowed to reach up: `python -m collector` runs the alert jobs."""


def sources() -> dict[str, Path]:
    found = {"app": REPO / "app.py"}
    for package in ALLOWED:
        for path in (REPO / package).rglob("*.py") if (REPO / package).is_dir() else ():
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(module: str, path: Path) -> list[tuple[str, str]]:
    """(module path, name) pairs for every import; name is "" for `import x`."""
    out: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out += [(absolute(module, path, node), alias.name) for alias in node.names]
    return out


def private(part: str) -> bool:
    """`_name` is private; a dunder such as `__main__` (what `python -m pkg` runs) is not."""
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def subpackage(module: str) -> str | None:
    """`ledger.queries` for `ledger.queries._core` (a folder of its own under the package), else None."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and (REPO / parts[0] / parts[1]).is_dir() else None


def problems() -> list[str]:
    found = []
    for module, path in sorted(sources().items()):
        package = "pages" if module == "app" else module.split(".")[0]
        allowed = ALLOWED[module.split(".")[0]] | WIRING.get(module, set()) | {package}
        for target, name in imported(module, path):
            top = target.split(".")[0]
            if top not in ALLOWED:
                continue
            if top not in allowed:
                found.append(f"{module} imports {target} ({package} may import {sorted(ALLOWED[package])})")
            elif top != package and any(private(p) for p in [*target.split(".")[1:], name]):
                found.append(f"{module} imports a private name of {top}: {target} {name}".rstrip())
            elif (sub := subpackage(target)) not in (None, subpackage(module)) and any(
                private(p) for p in [*target.split(".")[2:], name]
            ):
                found.append(f"{module} imports a private name of {sub}: {target} {name}".rstrip())
    return found


@pytest.mark.slow
def test_every_package_imports_only_the_layers_below_it():
    assert not problems(), "\n".join(problems())


def test_the_checker_sees_an_upward_and_a_private_import(tmp_path):
    path = tmp_path / "x.py"
    path.write_text("from collector._context import Context\nimport pages\n")
    assert imported("ledger.x", path) == [("collector._context", "Context"), ("pages", "")]


def test_a_subpackage_is_found_by_its_folder():
    assert [subpackage(m) for m in ("ledger.queries._core", "ledger.queries", "ledger", "collector._http")] == [
        "ledger.queries",
        "ledger.queries",
        None,
        None,
    ]


def test_a_dunder_module_is_public_and_an_underscore_one_private():
    assert [private(p) for p in ("__main__", "_context", "config", "")] == [False, True, False, False]


@pytest.mark.slow
def test_no_test_imports_another_folders_conftest():
    """Shared helpers live in tests/support; a conftest.py only serves its own folder."""
    found = []
    for path in (REPO / "tests").rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("conftest"):
                if node.level != 1 or node.module != "conftest":
                    found.append(f"{path.relative_to(REPO)} imports {'.' * node.level}{node.module}")
    assert not found, "\n".join(found)
