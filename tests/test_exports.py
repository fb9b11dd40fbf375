"""Each package's facade (`__init__`), as httpx's test_exported_members checks its own: every name
in `__all__` resolves, once, and every public name the facade holds is in it. (Its order is
ruff's RUF022, in pyproject.toml: constants, classes, then functions, each sorted.)"""

from __future__ import annotations

import importlib
import types

import pytest

from tests.test_layers import ALLOWED, REPO

FACADES = sorted(
    ".".join(path.parent.relative_to(REPO).parts)
    for package in ALLOWED
    if (REPO / package).is_dir()
    for path in (REPO / package).rglob("__init__.py")
)
TYPING = {"annotations", "TYPE_CHECKING", "Any"}
"""Names a facade holds for itself (`from __future__ import annotations`, lazy-import typing)."""


def held(module: types.ModuleType) -> set[str]:
    """The public names a facade holds: neither private, nor a module, nor typing plumbing."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name not in TYPING
    }


@pytest.mark.parametrize("name", FACADES)
def test_all_is_sorted_complete_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ names a member twice"
    for member in exported:
        getattr(module, member)  # a lazy facade loads it here
    assert held(importlib.import_module(name)) <= set(exported), f"{name} holds public names missing from __all__"


def test_the_check_sees_a_public_name_missing_from_all() -> None:
    fake = types.ModuleType("fake")
    fake.__dict__.update(__all__=["a"], a=1, b=2, _c=3, annotations=None)
    assert held(fake) - set(fake.__all__) == {"b"}
