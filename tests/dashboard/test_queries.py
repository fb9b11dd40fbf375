"""The data layer without Streamlit: figures equal plain pyarrow/pandas over the same files,
rollups never change an answer, and bad input gets a one-line error naming the fix."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ledger import SCHEMA, compact_day, list_days, write_rows
from ledger.queries import (
    Filters,
    SqlRefused,
    csv_bytes,
    freshness,
    hourly_spend,
    latency_percentiles,
    month_forecast,
    ratelimit_headroom,
    run_sql,
    spend_over_time,
    spend_summary,
    top_contributors,
    update_rollups,
)
from tests.builders import build_ledger
from tests.support.dashboard import Truth, write_status

END = datetime(2026, 11, 5, 12, tzinfo=UTC)
PARIS = "Europe/Paris"


@pytest.fixture(scope="module")
def dst_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    """20 days ending 5 Nov 2026: spans the 25 Oct 2026 DST change in Europe/Paris."""
    data_dir = tmp_path_factory.mktemp("dst")
    build_ledger(data_dir, n_records=20_000, days=20, seed=5, end=END)
    return data_dir, Truth.read(data_dir)


def october(**dims: tuple[str, ...]) -> Filters:
    return Filters.for_dates(date(2026, 10, 20), date(2026, 10, 31), PARIS, **dims)


@pytest.mark.slow
def test_summary_equals_pyarrow(dst_ledger):
    data_dir, truth = dst_ledger
    f = october(models=("mistral-large-latest", "acme-finetune-1"))
    rows = pa.concat_tables(
        [truth.window(f.start_at, f.end_at, model=m) for m in ("mistral-large-latest", "acme-finetune-1")]
    )
    s = spend_summary(data_dir, f)
    measured = truth.per_request(rows)
    limited = measured.filter(pc.equal(measured["status_code"], 429))
    assert s.spend == pytest.approx(truth.spend(rows), rel=1e-9)
    assert s.requests == truth.requests(rows)
    assert s.unpriced_requests == truth.requests(rows.filter(pc.is_null(rows["cost"])))
    assert (s.rate_limited, s.spend_cap) == (limited.num_rows, pc.sum(limited["spend_limit_reached"]).as_py())
    assert s.error_rate == pytest.approx(truth.error_rate(rows))
    assert s.p95_ms == pytest.approx(truth.p95(rows))


@pytest.mark.slow
def test_rollups_change_no_answer_and_go_stale_on_write(tmp_path):
    data_dir = tmp_path
    build_ledger(data_dir, n_records=5_000, days=20, seed=6, end=END)
    f = october()
    before = spend_summary(data_dir, f), spend_over_time(data_dir, f, "project", "day")
    assert update_rollups(data_dir, list_days(data_dir))
    after = spend_summary(data_dir, f), spend_over_time(data_dir, f, "project", "day")
    assert after[0].requests == before[0].requests and after[0].spend == pytest.approx(before[0].spend, rel=1e-9)
    pd.testing.assert_frame_equal(after[1], before[1], check_dtype=False, rtol=1e-9)
    late = Truth.read(data_dir).window(datetime(2026, 10, 21, 8, tzinfo=UTC), datetime(2026, 10, 21, 9, tzinfo=UTC))
    extra = late.slice(0, 1).set_column(1, "id", pa.array(["late-row"]))
    write_rows(data_dir, extra)
    assert spend_summary(data_dir, f).requests == before[0].requests + extra["request_count"][0].as_py()


@pytest.mark.slow
def test_compaction_hides_superseded_files(tmp_path):
    build_ledger(tmp_path, n_records=3_000, days=2, seed=2, end=END)
    day = list_days(tmp_path)[0]
    f = Filters(start=datetime(2026, 11, 1, tzinfo=UTC), end=datetime(2026, 11, 10, tzinfo=UTC))
    first = spend_summary(tmp_path, f).requests
    write_rows(tmp_path, Truth.read(tmp_path).table.slice(0, 10))  # a replayed page: duplicates
    assert compact_day(tmp_path, day)
    assert spend_summary(tmp_path, f).requests == first


def test_spend_by_local_day_across_dst(dst_ledger):
    data_dir, truth = dst_ledger
    f = october()
    got = spend_over_time(data_dir, f, dim=None, grain="day")
    frame = truth.window(f.start_at, f.end_at).select(["timestamp", "cost"]).to_pandas()
    local_day = frame["timestamp"].dt.tz_convert(PARIS).dt.date
    expected = frame.groupby(local_day)["cost"].sum()
    assert [b.date() for b in got["bucket"]] == list(expected.index)
    assert got["spend"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-9)
    assert all(b.tzinfo is not None and b.hour == 0 for b in got["bucket"])


def test_hourly_spend_is_zero_filled_with_25_hours_on_dst_day(dst_ledger):
    data_dir, _ = dst_ledger
    f = Filters.for_dates(date(2026, 10, 25), date(2026, 10, 25), PARIS)
    hours = hourly_spend(data_dir, f)
    assert len(hours) == 25
    assert hours["hour"].is_monotonic_increasing


def test_top_contributors_rank_and_share(dst_ledger):
    data_dir, truth = dst_ledger
    f = october()
    frame = truth.window(f.start_at, f.end_at).select(["api_key_id", "cost"]).to_pandas()
    expected = frame.groupby(frame["api_key_id"].fillna("(no key recorded)"))["cost"].sum().sort_values(ascending=False)
    got = top_contributors(data_dir, f, "api_key", 3)
    assert list(got["api_key"]) == list(expected.index[:3])
    assert got["share"].iloc[0] == pytest.approx(expected.iloc[0] / expected.sum())


def _day_rows(day: date, cost: float) -> dict[str, object]:
    return {
        "source": "t",
        "id": f"{day}",
        "timestamp": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        "model": "m",
        "status_code": 200,
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "cached_tokens": 0,
        "request_count": 1,
        "aggregated": False,
        "simulated": False,
        "cost": cost,
        "currency": "USD",
        "ingested_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
    }


@pytest.mark.slow
def test_forecast_knows_weekdays_from_weekends(tmp_path):
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(18)]
    rows = [_day_rows(d, 2.0 if d.weekday() >= 5 else 10.0) for d in days]
    write_rows(tmp_path, pa.Table.from_pylist(rows, schema=SCHEMA))
    now = datetime(2026, 11, 19, 0, 0, tzinfo=UTC)  # Thursday, nothing spent yet today
    fc = month_forecast(tmp_path, Filters(start=date(2026, 11, 1), end=date(2026, 11, 18)), now=now)
    left = [date(2026, 11, 19) + timedelta(days=i) for i in range(12)]
    expected = sum(r["cost"] for r in rows) + sum(2.0 if d.weekday() >= 5 else 10.0 for d in left)
    assert (fc.weekday_rate, fc.weekend_rate) == (10.0, 2.0)
    assert fc.forecast == pytest.approx(expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("DELETE FROM ledger", "only SELECT is allowed"),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "only SELECT is allowed"),
        ("SELECT * FROM read_csv('/etc/passwd')", "query failed"),
        ("SELEC 1", "does not parse"),
    ],
)
def test_sql_box_refuses_with_a_clear_message(dst_ledger, sql, message):
    with pytest.raises(SqlRefused, match=message):
        run_sql(dst_ledger[0], october(), sql)


@pytest.mark.slow
def test_sql_box_sees_only_the_filtered_rows_and_limits_them(dst_ledger):
    data_dir, truth = dst_ledger
    f = october(projects=("search",))
    got = run_sql(data_dir, f, "SELECT count(*) AS n FROM ledger")
    assert got["n"].iloc[0] == truth.window(f.start_at, f.end_at, project="search").num_rows
    assert len(run_sql(data_dir, f, "SELECT * FROM ledger", row_limit=7)) == 7


def test_sql_box_time_limit(dst_ledger):
    heavy = "SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b"
    with pytest.raises(SqlRefused, match="stopped after"):
        run_sql(dst_ledger[0], october(), heavy, timeout_s=0.2)


def test_csv_neutralises_formula_cells():
    frame = pd.DataFrame({"project": ["=cmd", "+1", "-x", "@a", "\tq", "\rr", "ok"], "n": [-1, 2, 3, 4, 5, 6, 7]})
    lines = csv_bytes(frame).decode().split("\r\n")
    assert lines[1:8] == ["'=cmd,-1", "'+1,2", "'-x,3", "'@a,4", "'\tq,5", '"\'\rr",6', "ok,7"]


def test_filters_reject_bad_input_with_the_fix():
    with pytest.raises(ValueError, match="has no time zone"):
        Filters(start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="IANA name"):
        Filters(start=date(2026, 1, 1), end=date(2026, 1, 2), timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="not after start"):
        Filters(start=date(2026, 1, 5), end=date(2026, 1, 1))
    with pytest.raises(ValueError, match="use one of"):
        spend_over_time(Path("."), october(), "colour", "day")


def test_filters_previous_is_the_equal_period_before():
    f = Filters.for_dates(date(2026, 11, 1), date(2026, 11, 30), PARIS)
    prev = f.previous()
    assert (prev.end_at, prev.end_at - prev.start_at) == (f.start_at, f.end_at - f.start_at)
    assert f.start_at == datetime(2026, 11, 1, tzinfo=ZoneInfo(PARIS))


def test_freshness_is_stale_after_three_missed_polls(tmp_path):
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    write_status(tmp_path, now - timedelta(seconds=200), poll_seconds=60)
    assert freshness(tmp_path, now=now).stale
    write_status(tmp_path, now - timedelta(seconds=100), poll_seconds=60)
    status = freshness(tmp_path, now=now)
    assert not status.stale and status.collected_at == now - timedelta(seconds=100)
    assert status.data_up_to is None


@pytest.mark.slow
def test_large_slices_read_latency_from_histograms_within_the_bin_bound(dst_ledger, monkeypatch):
    import ledger.queries._latency as latency

    data_dir, truth = dst_ledger
    f = october()
    update_rollups(data_dir)
    monkeypatch.setattr(latency, "EXACT_MAX_ROWS", 0)
    rows = truth.window(f.start_at, f.end_at)
    binned = spend_summary(data_dir, f)
    assert binned.p95_ms == pytest.approx(truth.p95(rows), rel=0.075)
    by_model = latency_percentiles(data_dir, f)
    large = truth.interactive(rows.filter(pc.equal(rows["model"], "mistral-large-latest")))
    got = by_model.set_index("model").loc["mistral-large-latest"]
    latencies = large["latency_ms"].drop_null().to_numpy()
    assert got["requests"] == len(latencies)
    assert got["p99_ms"] == pytest.approx(float(np.percentile(latencies, 99)), rel=0.075)


@pytest.mark.slow
def test_a_small_slice_of_a_window_too_big_to_scan_reads_the_histogram(dst_ledger, monkeypatch):
    """Exact only where reading the raw rows is cheap: the same small slice is exact under the scan
    bound, and from the histogram (within the bin bound, not exact) once the window's rows exceed it."""
    import ledger.queries._latency as latency

    data_dir, truth = dst_ledger
    update_rollups(data_dir)
    f = Filters(start=october().start_at, end=october().end_at, models=("mistral-large-latest",))
    rows = truth.window(f.start_at, f.end_at, model="mistral-large-latest")
    exact = truth.p95(rows)
    assert (
        latency.window_rows(data_dir, f)
        == truth.table.filter(
            pc.is_in(pc.cast(pc.cast(truth.table["timestamp"], pa.timestamp("us")), pa.date32()), pa.array(day_list(f)))
        ).num_rows
    )
    assert spend_summary(data_dir, f).p95_ms == pytest.approx(exact, rel=1e-9)
    monkeypatch.setattr(latency, "EXACT_MAX_SCAN", latency.window_rows(data_dir, f) - 1)
    binned = spend_summary(data_dir, f).p95_ms
    assert binned == pytest.approx(exact, rel=0.075)
    assert binned != pytest.approx(exact, rel=1e-9)


def day_list(f: Filters) -> list[date]:
    first, last = f.utc_days()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_histogram_quantile_interpolates_inside_the_bin():
    from ledger.queries._latency import from_histogram

    counts = np.zeros(96, dtype=np.int64)
    counts[32] = 100  # 100 ms .. 115.5 ms
    assert 100 <= from_histogram(counts, 0.5) <= 10 ** (33 / 16)
    assert from_histogram(np.zeros(96, dtype=np.int64), 0.5) is None


def test_ratelimit_headroom_is_the_lowest_remaining_share(dst_ledger):
    data_dir, truth = dst_ledger
    update_rollups(data_dir)
    f = Filters.for_dates(date(2026, 10, 22), date(2026, 10, 22), "UTC", api_keys=("key_01b7c2",))
    rows = truth.window(f.start_at, f.end_at, api_key_id="key_01b7c2")
    rows = rows.filter(pc.is_valid(rows["rl_limit_tokens_minute"]))
    share = pc.divide(pc.cast(rows["rl_remaining_tokens_minute"], pa.float64()), rows["rl_limit_tokens_minute"])
    got = ratelimit_headroom(data_dir, f, "day")
    assert list(got["samples"]) == [rows.num_rows]
    assert got["min_tokens_headroom"].iloc[0] == pytest.approx(pc.min(share).as_py())


def test_unaligned_windows_bin_latency_from_raw_rows(dst_ledger, monkeypatch):
    import ledger.queries._latency as latency

    data_dir, truth = dst_ledger
    monkeypatch.setattr(latency, "EXACT_MAX_ROWS", 0)
    start, end = datetime(2026, 10, 21, 6, 30, tzinfo=UTC), datetime(2026, 10, 23, 18, 45, tzinfo=UTC)
    summary = spend_summary(data_dir, Filters(start=start, end=end))
    assert summary.p95_ms == pytest.approx(truth.p95(truth.window(start, end)), rel=0.075)


@pytest.mark.slow
def test_data_up_to_is_the_newest_row_with_or_without_rollups(tmp_path):
    build_ledger(tmp_path, n_records=2_000, days=3, seed=4, end=END)
    newest = pc.max(Truth.read(tmp_path).table["timestamp"]).as_py()
    assert freshness(tmp_path).data_up_to == newest
    update_rollups(tmp_path)
    assert freshness(tmp_path).data_up_to == newest


def test_a_rollup_replaced_between_plan_and_read_is_replanned(tmp_path, monkeypatch):
    import ledger.queries._engine as engine

    build_ledger(tmp_path, n_records=2_000, days=3, seed=4, end=END)
    update_rollups(tmp_path)
    f = Filters(start=date(2026, 11, 3), end=date(2026, 11, 5))
    expected = spend_summary(tmp_path, f).requests
    real_plan, calls = engine.plan, []

    def stale_first(*args: object) -> tuple[list[Path], list[Path]]:
        calls.append(args)
        fresh, raw = real_plan(*args)
        return ([tmp_path / "gone.parquet", *fresh], raw) if len(calls) == 1 else (fresh, raw)

    monkeypatch.setattr(engine, "plan", stale_first)
    assert spend_summary(tmp_path, f).requests == expected
    assert len(calls) >= 2


def test_unit_costs_leave_unpriced_models_unknown_not_free(dst_ledger):
    from ledger.queries import unit_costs

    data_dir, truth = dst_ledger
    f = october()
    got = unit_costs(data_dir, f).set_index("model")
    assert got.loc["acme-finetune-1", ["spend", "cost_per_1k_requests"]].isna().all()
    large = truth.window(f.start_at, f.end_at, model="mistral-large-latest")
    priced = large.filter(pc.is_valid(large["cost"]))
    expected = truth.spend(priced) / truth.requests(priced) * 1000
    assert got.loc["mistral-large-latest", "cost_per_1k_requests"] == pytest.approx(expected)
