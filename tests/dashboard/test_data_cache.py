"""The dashboard's cached figures (pages/_data.py) follow the ledger: computed again at once after a commit,
served from the cache while the ledger does not move, past the 30 s they used to live (Streamlit's TTL clock
and the mark's one-second probe clock injected, no sleep)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.caching import cache_utils

from ledger import queries, storage
from ledger.queries import Filters, Summary
from ledger.storage import write_rows
from pages import _data as data
from tests.builders import priced_batch
from tests.paths import REPO

VIEW = Filters.for_dates(date(2026, 11, 1), date(2026, 11, 1), "UTC")


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """One clock for Streamlit's time to live and the mark's probe (both monotonic seconds); fresh caches."""
    found = Clock()
    monkeypatch.setattr(cache_utils, "TTLCACHE_TIMER", found)
    monkeypatch.setattr(storage.recent_mark, "clock", found)
    st.cache_data.clear()  # caches made from now on take the injected timer
    storage.recent_mark.forget()
    yield found
    st.cache_data.clear()
    storage.recent_mark.forget()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The data_dirs `ledger.queries.spend_summary` was called with (each call a computation)."""
    calls: list[Path] = []
    real = queries.spend_summary

    def counted(data_dir: Path, filters: Filters) -> Summary:
        calls.append(data_dir)
        return real(data_dir, filters)

    monkeypatch.setattr(queries, "spend_summary", counted)
    return calls


def test_a_figure_is_computed_again_right_after_a_commit(data_dir: Path, clock: Clock, reads: list[Path]) -> None:
    """On local disk, and on S3 (the table's version probed in the bucket)."""
    write_rows(data_dir, priced_batch(0, 20))
    assert data.spend_summary(data_dir, VIEW).requests == 20
    write_rows(data_dir, priced_batch(20, 5))
    clock.now += storage.mark.PROBE_SECONDS  # the next probe, not a time to live
    assert data.spend_summary(data_dir, VIEW).requests == 25
    assert len(reads) == 2


def test_a_figure_is_served_from_the_cache_while_the_ledger_does_not_move(
    tmp_path: Path, clock: Clock, reads: list[Path]
) -> None:
    write_rows(tmp_path, priced_batch(0, 20))
    first = data.spend_summary(tmp_path, VIEW)
    for _ in range(5):
        clock.now += 60.0  # twice the old time to live, each time
        assert data.spend_summary(tmp_path, VIEW) == first
    assert len(reads) == 1
    clock.now += data.LEDGER_TTL_SECONDS  # what the mark cannot see is bounded still
    data.spend_summary(tmp_path, VIEW)
    assert len(reads) == 2


def test_a_figure_built_on_another_cached_figure_follows_the_commit_too(tmp_path: Path, clock: Clock) -> None:
    """`overview_figures` sums `overview_groups`: both keys move with the mark, so neither serves the old ledger."""
    write_rows(tmp_path, priced_batch(0, 20))
    assert data.overview_figures(tmp_path, VIEW).current.requests == 20
    write_rows(tmp_path, priced_batch(20, 5))
    clock.now += storage.mark.PROBE_SECONDS
    assert data.overview_figures(tmp_path, VIEW).current.requests == 25


def test_every_cached_figure_of_the_pages_is_keyed_on_the_ledger_mark() -> None:
    """One rule in one place: `pages/_data.cached` is the pages' only `st.cache_data`."""
    found = {
        path.name: path.read_text().count("st.cache_data(")
        for path in sorted((REPO / "pages").glob("*.py"))
        if "st.cache_data(" in path.read_text()
    }
    assert found == {"_data.py": 1}
    assert data.HASH_FUNCS[type(Path())] is data.ledger_key
