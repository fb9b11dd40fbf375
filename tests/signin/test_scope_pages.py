"""Every page a project-scoped person may open shows no figure from outside their projects.

The Overview's unpriced-model banner counted every project's requests (144 against the scoped 40);
this renders each read page (frame and page, as app.py runs them) as a scoped viewer and looks for
any request count or spend that only the other projects make, in every text, tile, table and chart.
Forbidden figures come from pyarrow over the parquet files (Truth), never from ledger.queries.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from streamlit.testing.v1 import AppTest

from access import Principal
from pages._auth import PRINCIPAL_KEY
from pages._routing import CONTEXT_KEY
from tests.builders import build_ledger
from tests.support.dashboard import Truth, tiles, utc_midnight, vega_charts, write_status

from .browser import REPO

pytestmark = pytest.mark.slow

SCOPE = ("analytics", "search")
LEAD = Principal("lead@example.com", "viewer", SCOPE)
READ_PAGES = ["pages/overview.py", "pages/spend.py", "pages/reliability.py", "pages/explore.py", "pages/savings.py"]


def _frame_and_page(page_path: str, scope: tuple[str, ...]) -> None:
    import runpy

    from pages._frame import draw_frame

    if draw_frame(scope) is not None:
        runpy.run_path(page_path, run_name="__page__")


END = datetime(2026, 11, 1, tzinfo=UTC)
"""The seeded ledger's end: its 40 days, and so every figure, are the same whatever today is."""
WINDOW = {"range": "custom", "from": "2026-10-02", "to": "2026-10-31"}
"""The sidebar's window, pinned through the URL (the default, the last 30 days, moves with the date)."""


@pytest.fixture(scope="module")
def fixed_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    data_dir = tmp_path_factory.mktemp("scoped")
    build_ledger(data_dir, n_records=40_000, days=40, seed=12, end=END)
    write_status(data_dir, END)
    return data_dir, Truth.read(data_dir)


@pytest.fixture
def scoped_env(fixed_ledger: tuple[Path, Truth], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Truth]:
    seeded = fixed_ledger
    monkeypatch.setenv("DATA_DIR", str(seeded[0]))
    monkeypatch.setenv("MONITOR_TIMEZONE", "UTC")
    monkeypatch.setenv("MONITOR_ACCESS", str(tmp_path / "no-access.toml"))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return seeded


def everything_shown(at: AppTest) -> str:
    """Every text, tile, table cell and chart of the run, as one string."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "warning", "info", "error", "success", "title", "header", "subheader", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{t.label} {t.value} {t.delta}" for t in tiles(at)]
    parts += [e.value.to_csv(index=False) for e in at.dataframe]
    parts += [str(e.proto) for e in at.get("plotly_chart")]
    parts += [f"{spec}\n{rows.to_pandas().to_csv(index=False)}" for spec, rows in vega_charts(at)]
    return "\n".join(parts)


def figures(rows: pa.Table) -> set[str]:
    """A slice's request count and spend as a page would print them (and as a table or chart holds them)."""
    requests, spend = Truth.requests(rows), Truth.spend(rows)
    return {f"{requests:,}", str(requests), f"{spend:,.2f}"}


def outside_only(truth: Truth, start: datetime, end: datetime) -> set[str]:
    """Figures of every project together, and of each other project, that no in-scope slice has."""
    rows = truth.window(start, end)
    unpriced = rows.filter(pc.is_null(rows["cost"]))
    inside = rows.filter(pc.is_in(rows["project"], pa.array(list(SCOPE))))
    others = set(pc.unique(rows["project"].drop_null()).to_pylist()) - set(SCOPE)
    bad = figures(rows) | figures(unpriced)
    for project in others:
        bad |= figures(rows.filter(pc.equal(rows["project"], project)))
    allowed = figures(inside) | figures(inside.filter(pc.is_null(inside["cost"])))
    for project in SCOPE:
        allowed |= figures(inside.filter(pc.equal(inside["project"], project)))
    return {f for f in bad - allowed if len(f.replace(",", "")) >= 3 and f not in ("0.00",)}


@pytest.mark.parametrize("page", READ_PAGES)
def test_a_scoped_viewer_sees_no_figure_from_other_projects(scoped_env: tuple[Path, Truth], page: str) -> None:
    _, truth = scoped_env
    at = AppTest.from_function(_frame_and_page, args=(str(REPO / page), SCOPE), default_timeout=90)
    at.session_state[PRINCIPAL_KEY] = LEAD
    at.query_params.update(WINDOW)
    at.run()
    assert not at.exception, at.exception
    shown = everything_shown(at)
    filters = at.session_state[CONTEXT_KEY].filters
    forbidden = outside_only(truth, filters.start_at, filters.end_at) | outside_only(
        truth, utc_midnight(31, END), utc_midnight(-1, END)
    )
    assert forbidden, "the fixture needs figures that only other projects make"
    # A count or a spend is never followed by a unit: "3.77%" or "3.77 s" is a rate or a latency that
    # happens to share the digits.
    unit = r"\s?(?:%|ms\b|s\b)"
    leaks = sorted(f for f in forbidden if re.search(rf"(?<![\d,.]){re.escape(f)}(?![\d,]|\.\d|{unit})", shown))
    assert not leaks, f"{page} shows figures from outside {SCOPE}: {leaks}"
    assert set(SCOPE) & set(pc.unique(truth.window(filters.start_at, filters.end_at)["project"]).to_pylist())
