"""Suite-wide: a test leaves the interpreter's `__main__` module as it found it, and runs the dashboard in
the demo's sign-in mode (MONITOR_SIGNIN=open) unless it sets another.

Why: Streamlit's `AppTest.from_function` runs its script as `__main__` and leaves that module
in place; a later test whose code starts a `spawn` process (the gateway's pricing process) then
has the child re-run that temporary script, which dies with a NameError (BrokenProcessPool).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

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
