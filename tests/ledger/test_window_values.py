"""The sidebar's choices, the model colours and the simulated badge from one frame per window.

`window_values` is one query per window (every model, project, key and source with its spend, requests and
simulated rows); `values_in` and `holds_simulated` answer from it what `dimension_values` and
`spend_summary(...).simulated_rows > 0` answer with a query each. Compared here on a ledger with simulated
rows (the simulator's source) and real ones (the gateway's, usage-API buckets), per dimension, with and
without a limit, in UTC and Paris, within a scope, and for a window before the ledger.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from ledger import queries as q
from tests.builders import build_ledger
from tests.ledger.test_rollup_parity import END, same

WINDOWS = {
    "utc": q.Filters.for_dates(date(2026, 10, 18), date(2026, 10, 29), "UTC"),
    "paris": q.Filters.for_dates(date(2026, 10, 24), date(2026, 10, 26), "Europe/Paris"),
    "scoped": q.Filters.for_dates(date(2026, 10, 18), date(2026, 10, 29), "UTC", scope=("search", "analytics")),
    "before the ledger": q.Filters.for_dates(date(2025, 1, 1), date(2025, 1, 31), "UTC"),
}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("values") / "data"
    build_ledger(data_dir, n_records=5_000, days=14, seed=12, end=END)
    assert q.update_rollups(data_dir)
    return data_dir


@pytest.mark.parametrize("limit", [None, 3])
@pytest.mark.parametrize("dim", q.VALUE_DIMS)
@pytest.mark.parametrize("window", list(WINDOWS))
def test_values_in_is_dimension_values(ledger: Path, window: str, dim: str, limit: int | None) -> None:
    f = WINDOWS[window]
    frame = q.window_values(ledger, f)
    assert q.values_in(frame, dim, limit) == q.dimension_values(ledger, f, dim, limit)


def test_the_window_is_the_same_whatever_the_filters(ledger: Path) -> None:
    f = WINDOWS["utc"]
    picked = q.Filters.for_dates(f.start_at.date(), date(2026, 10, 29), "UTC", models=("mistral-large-latest",))
    same(q.window_values(ledger, picked), q.window_values(ledger, f))


def _views(f: q.Filters) -> list[q.Filters]:
    return [
        f,
        replace(f, sources=("gateway",)),
        replace(f, sources=("simulator",)),
        replace(f, models=("mistral-large-latest",), sources=("gateway",)),
        replace(f, projects=("search",), api_keys=("key_02c9d0",)),
        replace(f, models=("no-such-model",)),
        replace(f, scope=("no-such-project",), projects=()),
    ]


@pytest.mark.parametrize("window", list(WINDOWS))
def test_holds_simulated_is_the_summarys_simulated_rows(ledger: Path, window: str) -> None:
    frame = q.window_values(ledger, WINDOWS[window])
    answers = []
    for view in _views(WINDOWS[window]):
        want = q.spend_summary(ledger, view).simulated_rows > 0
        assert q.holds_simulated(frame, view) is want, view
        answers.append(want)
    if window != "before the ledger":
        assert True in answers and False in answers  # the views tell the two apart
