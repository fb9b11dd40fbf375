"""The monthly statement's figures against an independent pyarrow computation over the same files."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ledger import read_ledger
from ledger.queries import update_rollups
from ledger.queries.statement import statement, statement_csv
from tests.builders import build_ledger

TZ = "Europe/Paris"
LABELS = {"project": ("project", "(no project)"), "api_key": ("api_key_id", "(no key recorded)")}


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("ledger")
    build_ledger(data, n_records=30_000, days=50, seed=11, end=datetime(2026, 11, 12, 9, 30, tzinfo=UTC))
    return data


def _month(table: pa.Table, first: datetime, following: datetime) -> pa.Table:
    ts = table["timestamp"]
    return table.filter(
        pc.and_(
            pc.greater_equal(ts, pa.scalar(first, pa.timestamp("us", tz="UTC"))),
            pc.less(ts, pa.scalar(following, pa.timestamp("us", tz="UTC"))),
        )
    )


def expected(data, by: str, first: datetime, following: datetime) -> dict[tuple[str, str, str], dict[str, float]]:
    """(scope, model, currency) -> spend, requests, errors, unpriced, straight from the parquet rows."""
    table = _month(read_ledger(data), first, following)
    column, label = LABELS[by]
    scope = pc.fill_null(table[column], label)
    per_request = pc.invert(table["aggregated"])
    t = pa.table(
        {
            "scope": scope,
            "model": table["model"],
            "currency": table["currency"],
            "cost": pc.fill_null(table["cost"], 0.0),
            "requests": table["request_count"],
            "errors": pc.cast(pc.and_(per_request, pc.greater_equal(table["status_code"], 400)), pa.int64()),
            "unpriced": pc.if_else(pc.is_null(table["cost"]), table["request_count"], 0),
        }
    )
    grouped = t.group_by(["scope", "model", "currency"]).aggregate(
        [("cost", "sum"), ("requests", "sum"), ("errors", "sum"), ("unpriced", "sum")]
    )
    return {
        (r["scope"], r["model"], r["currency"]): {
            "spend": r["cost_sum"],
            "requests": r["requests_sum"],
            "errors": r["errors_sum"],
            "unpriced": r["unpriced_sum"],
        }
        for r in grouped.to_pylist()
    }


def paris(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=ZoneInfo(TZ))


@pytest.mark.slow
@pytest.mark.parametrize("rollups", [False, True])
@pytest.mark.parametrize("by", ["project", "api_key"])
def test_statement_equals_pyarrow(ledger_dir, by, rollups):
    if rollups:
        update_rollups(ledger_dir)
    october = expected(ledger_dir, by, paris(2026, 10), paris(2026, 11))
    september = expected(ledger_dir, by, paris(2026, 9), paris(2026, 10))
    stmt = statement(ledger_dir, "2026-10", TZ, "USD", by=by)
    assert stmt.month == "2026-10" and stmt.previous == "2026-09" and stmt.rate is None
    assert "no conversion applied" in stmt.rate_note and "USD" in stmt.rate_note
    lines = {(r[by], r["model"], r["currency"]): r for r in stmt.lines.to_dict("records")}
    assert set(lines) == set(october) | set(september)
    for key, line in lines.items():
        now = october.get(key, {"spend": 0.0, "requests": 0, "errors": 0, "unpriced": 0})
        before = september.get(key, {"spend": 0.0})["spend"]
        assert line["spend"] == pytest.approx(now["spend"], abs=1e-9), key
        assert (line["requests"], line["errors"], line["unpriced_requests"]) == (
            now["requests"],
            now["errors"],
            now["unpriced"],
        ), key
        assert line["previous_spend"] == pytest.approx(before, abs=1e-9), key
        assert line["change"] == pytest.approx(now["spend"] - before, abs=1e-9), key
    for total in stmt.totals.to_dict("records"):
        mine = [v for k, v in october.items() if k[0] == total[by] and k[2] == total["currency"]]
        then = [v for k, v in september.items() if k[0] == total[by] and k[2] == total["currency"]]
        spend, previous = sum(v["spend"] for v in mine), sum(v["spend"] for v in then)
        assert total["spend"] == pytest.approx(spend, abs=1e-9)
        assert total["requests"] == sum(v["requests"] for v in mine)
        assert total["change_pct"] == pytest.approx(100 * (spend - previous) / previous)
    assert len(stmt.totals) >= 5


def test_one_project_and_unknown_month(ledger_dir):
    stmt = statement(ledger_dir, "2026-10", TZ, "USD").only("search")
    assert set(stmt.lines["project"]) == {"search"} and len(stmt.totals) == 1
    empty = statement(ledger_dir, "2025-01", TZ, "USD")
    assert empty.lines.empty and empty.totals.empty
    with pytest.raises(ValueError, match="write it as YYYY-MM"):
        statement(ledger_dir, "2026-1", TZ, "USD")
    with pytest.raises(ValueError, match="statement scope 'team' is not supported"):
        statement(ledger_dir, "2026-10", TZ, "USD", by="team")


def test_csv_neutralises_formulas(tmp_path):
    from tests.support.alerts import rows

    rows(
        tmp_path,
        [
            {
                "timestamp": datetime(2026, 10, 5, 10, tzinfo=UTC),
                "cost": 2.0,
                "project": '=HYPERLINK("http://evil")',
                "model": "+cmd|' /C calc'!A0",
            },
            {"timestamp": datetime(2026, 10, 6, 10, tzinfo=UTC), "cost": 1.0, "project": "@SUM(1)"},
        ],
    )
    text = statement_csv(statement(tmp_path, "2026-10", TZ, "EUR")).decode()
    body = text.splitlines()[1:]
    assert any(line.startswith("2026-10,'@SUM(1),") for line in body), text
    assert any(line.startswith('2026-10,"\'=HYPERLINK(""http://evil"")",\'+cmd|') for line in body), text
    assert "\n=" not in text and ",=" not in text and ",+" not in text and ",@" not in text
