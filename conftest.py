"""Doctest setup: every docstring example runs in a fresh temporary working directory.

Why: examples read like real use (`Path("data")`), and must never write into the repository's
own `data/` (the demo's ledger) or depend on what an earlier example left behind. So an
example's `Path("data")` is `<tmp_path>/data`, fresh for each docstring.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

collect_ignore = ["app.py", "pages", "bench", "scripts"]


@pytest.fixture(autouse=True)
def _doctest_in_tmp_dir(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    if getattr(request.node, "dtest", None) is not None:
        monkeypatch.chdir(tmp_path)
    yield
