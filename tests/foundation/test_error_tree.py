"""Every exception the product defines is a MonitorError and is drawn in foundation.errors' tree."""

from __future__ import annotations

import importlib
import inspect

import foundation.errors
from tests.paths import REPO

PACKAGES = ("foundation", "ledger", "collector", "gateway", "alerts", "access", "simulator", "monitor_cli")


def defined_errors() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__main__":
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            module = importlib.import_module(name)
            for attr, value in vars(module).items():
                public = not attr.startswith("_")  # a private control-flow signal never leaves its module
                if public and inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name:
                    found[f"{name}.{attr}"] = value
    return found


def test_every_error_is_a_monitor_error_in_the_drawn_tree() -> None:
    errors = defined_errors()
    assert len(errors) >= 20  # the walk found the product's errors
    outside = [name for name, cls in errors.items() if not issubclass(cls, foundation.errors.MonitorError)]
    assert not outside, f"not MonitorErrors: {outside}"
    tree = foundation.errors.__doc__ or ""
    undrawn = [name for name, cls in errors.items() if f" {cls.__name__} " not in tree.replace("\n", " ")]
    assert not undrawn, f"missing from foundation/errors.py's tree: {undrawn}"
