"""End to end against the real simulator (in-process server, collector as a subprocess):
bad records quarantined and counted, secrets never printed, re-pricing after a price change."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pyarrow.compute as pc
import pytest

from collector._reprice import reprice
from ledger import Price, PriceBook, read_ledger
from ledger.queries._rollups import built
from simulator import start_server
from tests.support.collectors import collector_once

pytestmark = pytest.mark.slow

TOKEN = "tok-9f8e7d6c5b4a-secret"
FIXED_NOW = time.time()


@pytest.fixture(scope="module")
def sim():
    with start_server(seed=5, days=1, rate=20, token=TOKEN, bad_every=97, clock=lambda: FIXED_NOW) as handle:
        yield handle


def served(url: str) -> list:
    out, cursor = [], None
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        while True:
            params = {"limit": 5000} | ({"after": cursor} if cursor else {})
            body = client.get("/v1/usage/requests", params=params).json()
            out += body["data"]
            cursor = body["next_cursor"]
            if not body["has_more"]:
                return out


def run_collector(tmp_path: Path, url: str, token: str | None) -> subprocess.CompletedProcess:
    config = tmp_path / "c.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[[sources]]\nname = "sim"\nkind = "usage_endpoint"\n'
        f'url = "{url}"\ntoken_env = "SIM_TOKEN"\npage_limit = 700\nmax_retries = 1\n'
    )
    env = {"PATH": "/usr/bin:/bin", "SIM_TOKEN": token or ""}
    return collector_once(config, env)


def test_bad_records_are_quarantined_and_nothing_is_lost(tmp_path, sim):
    proc = run_collector(tmp_path, sim.url, TOKEN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = served(sim.url)
    stored = read_ledger(tmp_path / "data").num_rows
    lines = [
        orjson.loads(line)
        for f in (tmp_path / "data" / "quarantine").rglob("*.jsonl")
        for line in f.read_bytes().splitlines()
    ]
    assert len(lines) > 0
    assert stored + len(lines) == len(records)
    assert all(line["reason"] and line["raw"] in records for line in lines)
    assert TOKEN not in proc.stderr
    days = {f"date={day.isoformat()}" for day, _ in built(tmp_path / "data", "totals")}
    assert days == {p.name for p in (tmp_path / "data" / "requests").glob("date=*")}
    assert '"event": "poll"' in proc.stderr or '"event":"poll"' in proc.stderr


def test_wrong_token_fails_with_one_clear_line_and_no_secret(tmp_path, sim):
    proc = run_collector(tmp_path, sim.url, "wrong-token-value-123")
    assert proc.returncode == 1
    assert "SIM_TOKEN" in proc.stderr and "401" in proc.stderr
    assert "wrong-token-value-123" not in proc.stderr and TOKEN not in proc.stderr


def test_reprice_after_a_price_change_rewrites_only_rows_whose_cost_moves(tmp_path, sim):
    assert run_collector(tmp_path, sim.url, TOKEN).returncode == 0
    data = tmp_path / "data"
    before = read_ledger(data)
    model = "mistral-large-2512"
    rows = before.filter(pc.equal(before["priced_model"], model))
    assert rows.num_rows > 0
    listed = PriceBook.load().price_at(model, rows["timestamp"][0].as_py(), "USD")
    assert listed is not None
    book = PriceBook.load(
        [
            Price(
                model=model,
                effective_from=listed.effective_from,
                currency="USD",
                input_per_1m=10.0,
                output_per_1m=20.0,
                cached_input_per_1m=1.0,
            )
        ]
    )
    billed = [r for r in rows.to_pylist() if r["prompt_tokens"] + r["completion_tokens"] > 0]
    assert reprice(data, book, "USD")["rows"] == len(billed)  # only rows whose cost moves; 0-token rows stay 0
    after = read_ledger(data)
    assert after.num_rows == before.num_rows
    changed = after.filter(pc.equal(after["priced_model"], model)).to_pylist()
    for row in changed:
        uncached = row["prompt_tokens"] - row["cached_tokens"]
        expected = (uncached * 10.0 + row["cached_tokens"] * 1.0 + row["completion_tokens"] * 20.0) / 1e6
        tier = 0.5 if row["batch"] else 1.75 if row["service_tier"] == "priority" else 1.0
        zone = 1.1 if row["api_zone"] in ("eu", "us") else 1.0
        assert row["cost"] == pytest.approx(0.0 if row["billable"] is False else expected * tier * zone)
    assert {row["price_version"] for row in changed} == {book.version}
    assert reprice(data, book, "USD") == {"days": 0, "rows": 0}
