"""The SQL box under hostile queries: bounded in time, memory and result size, blind to files
and to rows outside the sidebar's filters. Each expected figure is computed independently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ledger.queries import Filters, SqlRefused, run_sql
from tests.builders import build_ledger
from tests.paths import REPO
from tests.support.dashboard import Truth

from .test_queries import END, october

pytestmark = pytest.mark.slow

BOMB = "SELECT repeat('x', 50000000) AS s FROM range(100)"
SAFETY_LIMIT_BYTES = 8 * 2**30
"""A hard data limit on the test's own subprocess, so a regression cannot take the machine down."""
SQL_MEMORY_MB = 256
"""The SQL box's memory cap for this test (LEDGER_SQL_MEMORY_MB); the worker's own imports come on top."""
RSS_CEILING_MB = 2_000
"""The worker's data limit is its imports' reserved memory (about 1 GB, mostly untouched) plus the cap,
so its peak RSS stays between 0.26 and 1.2 GB (measured); the unbounded query took 9.7 GB."""
TIME_CEILING_S = 60


@pytest.fixture(scope="module")
def small_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    data_dir = tmp_path_factory.mktemp("sqlbox")
    build_ledger(data_dir, n_records=3_000, days=20, seed=5, end=END)
    return data_dir, Truth.read(data_dir)


def test_sql_bomb_is_refused_within_time_and_memory(small_ledger):
    script = textwrap.dedent(f"""
        import json, resource, sys, time
        from datetime import date
        from pathlib import Path
        resource.setrlimit(resource.RLIMIT_DATA, ({SAFETY_LIMIT_BYTES}, {SAFETY_LIMIT_BYTES}))
        sys.path.insert(0, {str(REPO)!r})
        from ledger.queries import Filters, SqlRefused, run_sql
        f = Filters.for_dates(date(2026, 10, 20), date(2026, 10, 31), "Europe/Paris")
        started = time.monotonic()
        try:
            run_sql(Path({str(small_ledger[0])!r}), f, {BOMB!r}, row_limit=100)
            outcome = "ran"
        except SqlRefused as exc:
            outcome = "refused: " + str(exc)
        except Exception as exc:
            outcome = "crashed: " + repr(exc)[:300]
        peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        print("\\n" + json.dumps({{"outcome": outcome, "seconds": time.monotonic() - started, "peak_mb": peak / 1024}}))
    """)
    env = {**os.environ, "LEDGER_SQL_MEMORY_MB": str(SQL_MEMORY_MB)}
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    assert done.stdout.strip(), done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["outcome"].startswith("refused: "), report
    # Either limit may stop it first (on a loaded machine the clock can win); both are refusals.
    assert ("memory" in report["outcome"] and "MB" in report["outcome"]) or "stopped after" in report["outcome"], report
    assert report["peak_mb"] < RSS_CEILING_MB, report
    assert report["seconds"] < TIME_CEILING_S, report


def test_sql_result_is_capped_in_bytes(small_ledger):
    got = run_sql(small_ledger[0], october(), "SELECT repeat('x', 1000000) AS s FROM range(100)", max_bytes=10_000_000)
    assert 0 < len(got) <= 10
    assert got.attrs["truncated"] == "bytes"


def test_sql_row_limit_is_reported(small_ledger):
    got = run_sql(small_ledger[0], october(), "SELECT range FROM range(100)", row_limit=7)
    assert list(got["range"]) == list(range(7)) and got.attrs["truncated"] == "rows"
    whole = run_sql(small_ledger[0], october(), "SELECT range FROM range(5)", row_limit=7)
    assert len(whole) == 5 and whole.attrs["truncated"] == ""


def test_sql_box_cannot_read_duckdb_temp_directory(small_ledger, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "spill.bin").write_text("another query's rows")
    for path in (".tmp/spill.bin", str(tmp_path / ".tmp" / "spill.bin")):
        with pytest.raises(SqlRefused, match="query failed"):
            run_sql(small_ledger[0], october(), f"SELECT content FROM read_text('{path}')")


@pytest.mark.parametrize("table", ["ledger", "ledger_files"])
def test_no_table_of_the_sql_box_shows_rows_outside_the_filters(small_ledger, table):
    data_dir, truth = small_ledger
    f = october(projects=("search", "(no project)"), sources=("gateway",))
    rows = truth.window(f.start_at, f.end_at, source="gateway")
    expected = sum(1 for p in rows["project"].to_pylist() if p in ("search", None))
    try:
        got = run_sql(data_dir, f, f"SELECT count(*) AS n, min(timestamp) AS first FROM {table}")
    except SqlRefused:
        assert table != "ledger"
        return
    assert int(got["n"].iloc[0]) == expected
    assert got["first"].iloc[0] >= f.start_at


def test_sql_box_error_names_the_memory_limit_and_the_fix(small_ledger):
    with pytest.raises(SqlRefused, match="memory"):
        run_sql(small_ledger[0], october(), "SELECT repeat('x', 50000000) AS s FROM range(100)", memory_mb=512)


def test_filters_are_still_applied_to_window_boundaries(small_ledger):
    data_dir, truth = small_ledger
    f = Filters(start=END.replace(hour=0) - (END - END), end=END)
    got = run_sql(data_dir, f, "SELECT count(*) AS n FROM ledger")
    assert int(got["n"].iloc[0]) == truth.window(f.start_at, f.end_at).num_rows
