"""Rollups change no answer: every data function the pages and the alerts engine call gives the same
figures from raw rows, from rollups built on the fly, and from rollup files on disk.

One seeded ledger (tests/builders.py: 14 days over the Paris DST change, six models, five
projects, eight keys, errors, 429s, spend-cap 429s, retries, an unpriced model, usage-API
rows; a third of the rows re-priced in EUR, with no USD rate for its first days) is copied
twice: `raw` is read with LEDGER_ROLLUPS=0 and `fly` with no rollup file (both before any
rollup exists), `built` after `update_rollups` (then one late row per copy leaves one day
stale, so `built` mixes rollup files and on-the-fly days). Counts must match exactly, money
to 1e-9; a failure names the function and its arguments.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ledger import billing, list_days, rewrite_day, write_rows
from ledger import queries as q
from ledger.queries import budgets as budget_queries
from ledger.queries import statement as st
from ledger.queries._measures import MEASURES_BY_NAME
from ledger.queries._rollups import plan
from ledger.storage.store import read_ledger
from tests.builders import build_ledger

END = datetime(2026, 10, 30, 14, tzinfo=UTC)
DAYS = 14
PARIS = "Europe/Paris"
NOW = datetime(2026, 10, 30, 9, tzinfo=UTC)
"""A whole hour, so windows that end now are read from rollups."""
RATES_FROM = date(2026, 10, 20)
"""The first day with a USD-per-EUR rate: EUR rows before it are unconverted."""

Call = Callable[[Path], Any]
P = ParamSpec("P")


def bind(query: Callable[Concatenate[Path, P], Any], *args: P.args, **kwargs: P.kwargs) -> Call:
    """`query` with every argument but the ledger directory fixed now (a loop's values, not its last).

    Example: `bind(q.unit_costs, MONTH, top=3)(data)` is `q.unit_costs(data, MONTH, top=3)`.
    """
    return lambda data: query(data, *args, **kwargs)


def _euro(table: pa.Table) -> pa.Table | None:
    """A third of the keys' rows priced in EUR (at 0.9 of their USD cost)."""
    keys = table["api_key_id"]
    mask = pc.fill_null(pc.is_in(keys, value_set=pa.array(["key_00a1f3", "key_03d4e8", "key_06a8b1"])), False)
    cost = pc.if_else(mask, pc.multiply(table["cost"], 0.9), table["cost"])
    currency = pc.if_else(mask, "EUR", table["currency"])
    table = table.set_column(table.schema.get_field_index("cost"), "cost", cost)
    return table.set_column(table.schema.get_field_index("currency"), "currency", currency)


def _rates(data_dir: Path) -> None:
    days = [RATES_FROM + timedelta(days=i) for i in range(12)]
    lines = ["date,currency,per_eur,source", *(f"{d},USD,{1.05 + d.day / 1000!r},test" for d in days)]
    (data_dir / "fx").mkdir(parents=True, exist_ok=True)
    (data_dir / "fx" / "rates.csv").write_text("\n".join(lines) + "\n")


def _late_row(data_dir: Path, day: date) -> None:
    """One more part file on `day` (its rollup, if any, goes stale)."""
    rows = read_ledger(data_dir, day, day).slice(0, 3)
    ids = pa.array([f"late-{i}" for i in range(rows.num_rows)])
    write_rows(data_dir, rows.set_column(rows.schema.get_field_index("id"), "id", ids))


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("parity")
    plain = base / "plain"
    build_ledger(plain, n_records=6_000, days=DAYS, seed=10, end=END)
    for day in list_days(plain):
        rewrite_day(plain, day, _euro)
    _late_row(plain, date(2026, 10, 24))  # a day of two files
    _rates(plain)
    rolled = base / "rolled"
    shutil.copytree(plain, rolled)
    assert q.update_rollups(rolled)
    stale = date(2026, 10, 27)
    for data_dir in (plain, rolled):
        _late_row(data_dir, stale)
    fresh, raw = plan(rolled, END.date() - timedelta(days=DAYS), END.date())
    assert len(fresh) == DAYS - 1 and raw, "the built copy should mix rollup files and one stale day"
    return {"plain": plain, "rolled": rolled}


def _groups_in_order(data: Path, f: q.Filters) -> pd.DataFrame | None:
    """`overview_groups`' frame in one order (a GROUP BY's rows come in any)."""
    groups = q.overview_groups(data, f, "day", now=NOW).frame
    frame = None if groups is None else groups.to_pandas()
    return None if frame is None else frame.sort_values(list(frame.columns), ignore_index=True)


def _window(tz: str = PARIS, **dims: Any) -> q.Filters:
    return q.Filters.for_dates(date(2026, 10, 18), date(2026, 10, 29), tz, **dims)


WINDOWS = {
    "paris": _window(),
    "utc": _window("UTC"),
    "filtered": _window(models=("mistral-large-latest", "acme-finetune-1"), projects=("search", "support-bot")),
    "scoped": _window(scope=("analytics", "search")),
}
DIMS = tuple(q.DIMENSIONS)
MONTH = q.Filters.for_dates(date(2026, 10, 1), date(2026, 10, 31), PARIS)
WEEK = q.Filters.for_dates(date(2026, 10, 26), date(2026, 11, 1), PARIS, projects=("search",))


def _cases() -> Iterator[tuple[str, Call]]:
    for wname, f in WINDOWS.items():
        yield f"spend_summary[{wname}]", bind(q.spend_summary, f)
        yield f"spend_summary.previous[{wname}]", bind(q.spend_summary, f.previous())
        yield f"latency_summary[{wname}]", bind(q.latency_summary, f)
        yield f"hourly_spend[{wname}]", bind(q.hourly_spend, f)
        yield f"conversion[{wname}]", bind(q.conversion, f)
        yield f"conversion.EUR[{wname}]", bind(q.conversion, f, "EUR")
        yield f"unit_costs[{wname}]", bind(q.unit_costs, f)
        yield f"unit_costs.top3[{wname}]", bind(q.unit_costs, f, top=3)
        yield f"unpriced_models[{wname}]", bind(q.unpriced_models, f)
        yield f"retry_impact[{wname}]", bind(q.retry_impact, f)
        yield f"top_errors[{wname}]", bind(q.top_errors, f, 10)
        yield f"month_forecast[{wname}]", bind(q.month_forecast, f, now=NOW)
        yield f"overview_figures[{wname}]", bind(q.overview_figures, f, "day", 3, 4, now=NOW)
        yield f"overview_groups[{wname}]", bind(_groups_in_order, f)
        yield f"window_values[{wname}]", bind(q.window_values, f)
        for grain in q.GRAINS:
            yield f"spend_over_time[{wname},None,{grain}]", bind(q.spend_over_time, f, None, grain)
            yield f"reliability_over_time[{wname},{grain}]", bind(q.reliability_over_time, f, grain)
            yield f"ratelimit_headroom[{wname},{grain}]", bind(q.ratelimit_headroom, f, grain)
            for by in ("status_class", "error_type") if grain in ("hour", "day") else ():
                yield (
                    f"reliability_over_time[{wname},{grain},by={by}]",
                    bind(q.reliability_over_time, f, grain, by, top=3),
                )
        for dim in DIMS if wname in ("paris", "filtered") else ("model",):
            for grain in q.GRAINS if dim == "model" else ("day",):
                yield (
                    f"spend_over_time[{wname},{dim},{grain}]",
                    bind(q.spend_over_time, f, dim, grain),
                )
            yield f"spend_over_time.top3[{wname},{dim}]", bind(q.spend_over_time, f, dim, "day", 3)
            yield f"top_contributors[{wname},{dim}]", bind(q.top_contributors, f, dim, 4)
            yield f"latency_percentiles[{wname},{dim}]", bind(q.latency_percentiles, f, dim)
            yield f"latency_percentiles.top3[{wname},{dim}]", bind(q.latency_percentiles, f, dim, 3)
            yield f"dimension_values[{wname},{dim}]", bind(q.dimension_values, f, dim)
            yield f"dimension_values.limit3[{wname},{dim}]", bind(q.dimension_values, f, dim, 3)
    yield from _breakdowns()
    yield from _budget_and_statement()


def _breakdowns() -> Iterator[tuple[str, Call]]:
    groups: list[list[str]] = [[], *([d] for d in DIMS), ["project", "model"]]
    for wname, grains, sets in (("paris", (None, "hour", "day"), groups), ("filtered", ("week",), groups[:2])):
        f = WINDOWS[wname]
        for measure in q.MEASURES:
            for group_by in sets:
                for grain in grains:
                    yield (
                        f"breakdown[{wname},{measure},{'+'.join(group_by) or '-'},{grain}]",
                        bind(q.breakdown, f, group_by, measure, grain),
                    )


def _budget_and_statement() -> Iterator[tuple[str, Call]]:
    for name, f, monthly in (("month", MONTH, True), ("week", WEEK, False)):
        yield f"period_forecast[{name}]", bind(budget_queries.period_forecast, f, NOW, monthly)
        yield f"burn_down[{name}]", bind(budget_queries.burn_down, f, NOW, 100.0)
    for grain in ("hour", "day"):
        yield f"usual_spend[{grain}]", bind(budget_queries.usual_spend, MONTH, NOW, grain)
    for by in st.SCOPES:
        for currency in ("USD", "EUR"):
            for tz in (PARIS, "UTC"):
                yield (
                    f"statement[{by},{currency},{tz}]",
                    bind(st.statement, "2026-10", tz, currency, by),
                )
    yield "reconcile[2026-10]", lambda d: billing.reconcile(d, ["2026-10"], "USD")
    yield "newest_row", lambda d: q.newest_row(d)


CASES = dict(_cases())
NOT_DATA = {"check_select", "csv_bytes", "neutralise", "parquet_bytes", "run_sql", "update_rollups", "freshness"}
NOT_DATA |= {"count_429s", "measured_by_model", "peak_minute_tokens"}
NOT_DATA |= {"largest", "limit_causes", "priced_only", "token_mix", "unpriced_values", "with_other"}
NOT_DATA |= {"with_price_note", "with_tokens", "slowest", "unpriced_total", "value_count", "values_in"}
NOT_DATA |= {"holds_simulated"}
"""Public names of ledger.queries that are not figures served from rollups (run_sql, the three
reads ledger.billing holds against the provider's readings, read raw rows by design, and the page
shapes of ledger/queries/_shapes.py, which read no file: they reshape the frames of the cases above)."""


ESTIMATE_RTOL = 0.02
"""For a measure the registry marks inexact (a t-digest p95): its digest depends on the order rows
arrive in from parallel threads, so two runs over the very same raw rows differ in the 4th digit."""


def _rtol(case: str) -> float:
    if case.startswith("breakdown["):
        return 1e-9 if MEASURES_BY_NAME[case.split(",")[1]].exact else ESTIMATE_RTOL
    return 1e-9


def same(got: Any, want: Any, where: str = "", rtol: float = 1e-9) -> None:
    """Equal, counts exactly and floats to `rtol` (relative, or 1e-9 absolute near 0); frames with their dtypes."""
    if isinstance(want, pd.DataFrame):
        assert isinstance(got, pd.DataFrame), where
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=rtol, atol=1e-9, obj=where or "frame")
    elif dataclasses.is_dataclass(want) and not isinstance(want, type):
        assert type(got) is type(want), where
        for field in dataclasses.fields(want):
            same(getattr(got, field.name), getattr(want, field.name), f"{where}.{field.name}", rtol)
    elif isinstance(want, list | tuple):
        assert isinstance(got, list | tuple) and len(got) == len(want), f"{where}: {got!r} != {want!r}"
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            same(a, b, f"{where}[{i}]", rtol)
    elif isinstance(want, float):
        assert isinstance(got, float), f"{where}: {got!r} != {want!r}"
        close = math.isclose(got, want, rel_tol=rtol, abs_tol=1e-9) or (math.isnan(got) and math.isnan(want))
        assert close, f"{where}: {got!r} != {want!r}"
    else:
        assert got == want and type(got) is type(want), f"{where}: {got!r} != {want!r}"


@dataclasses.dataclass(frozen=True)
class Failed:
    """A case that raised: kept as its answer, so the case (not the whole module) fails."""

    error: str


def _answer(call: Call, data_dir: Path) -> Any:
    try:
        return call(data_dir)
    except Exception as e:  # noqa: BLE001 - reported by the case that made it
        return Failed(f"{type(e).__name__}: {e}".splitlines()[0])


@pytest.fixture
def on_plain(ledgers: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Any]:
    """A case's answer from raw rows (`"0"`) or from on-the-fly rollups (`"1"`), on the copy no rollup file is
    ever built for. Each test computes its own (a module-wide precomputation of every case outgrew the
    per-test timeout on a loaded machine)."""

    def answer(flag: str, case: str) -> Any:
        monkeypatch.setenv("LEDGER_ROLLUPS", flag)
        return _answer(CASES[case], ledgers["plain"])

    return answer


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_rollups_change_no_answer(
    case: str, ledgers: dict[str, Path], on_plain: Callable[[str, str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = on_plain("0", case)
    assert not isinstance(raw, Failed), f"{case} from raw rows: {raw.error}"
    rtol = _rtol(case)
    fly = on_plain("1", case)
    monkeypatch.setenv("LEDGER_ROLLUPS", "1")
    built = _answer(CASES[case], ledgers["rolled"])
    if rtol != 1e-9:  # an estimate: rows sorted by it may swap, so compare them in key order
        raw, fly, built = (_by_keys(a, case.split(",")[1]) for a in (raw, fly, built))
    same(fly, raw, f"{case} on the fly vs raw", rtol)
    same(built, raw, f"{case} from rollup files vs raw", rtol)


def _by_keys(answer: Any, measure: str) -> Any:
    if not isinstance(answer, pd.DataFrame):
        return answer
    keys = [c for c in answer.columns if c != measure]
    return answer.sort_values(keys, ignore_index=True) if keys else answer


def test_the_cases_cover_every_public_data_function() -> None:
    """A new data function in ledger.queries must join the cases (or say why it is no figure)."""
    called = {name.split("[")[0].split(".")[0] for name in CASES}
    public = {n for n in q.__all__ if callable(getattr(q, n)) and n[0].islower()} - NOT_DATA
    assert public <= called, f"add parity cases for {sorted(public - called)}"


@pytest.mark.slow
def test_the_ledger_holds_what_the_figures_must_cover(ledgers: dict[str, Path]) -> None:
    """Not a vacuous test: the window has errors, 429s, spend-cap 429s, retries, unpriced,
    unconverted and usage-API rows, EUR and USD, every breakdown measure is non-zero somewhere."""
    s = q.spend_summary(ledgers["plain"], WINDOWS["paris"])
    assert min(s.errors, s.rate_limited, s.spend_cap, s.retries, s.unpriced_requests, s.unconverted_requests) > 0
    assert s.requests > s.measured_requests > 0 and s.spend > 0
    assert {r.currency for r in q.conversion(ledgers["plain"], WINDOWS["paris"])} == {"EUR"}
    for measure in q.MEASURES:
        assert q.breakdown(ledgers["plain"], WINDOWS["paris"], [], measure)[measure].iloc[0] > 0, measure
