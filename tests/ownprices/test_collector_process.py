"""End to end: the collector as a real process against a fake Admin API on loopback.

`--once` with `pricing = "billed"` fetches this month's sheet and re-prices its days; then
switching `pricing` and running `python -m collector reprice` rewrites exactly those days.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.billing import fake_admin
from tests.paths import REPO
from tests.support.billing import ENV, SECRET

from .sheet import DISCOUNTED, costs, files_of, list_cost, sheet, sheet_cost, usage, write_at_list

pytestmark = pytest.mark.process


@pytest.fixture
def admin() -> Iterator[fake_admin.FakeAdmin]:
    with fake_admin.serve() as fake:
        yield fake


def config(tmp_path: Path, url: str, pricing: str) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(f'''data_dir = "{tmp_path / "data"}"
currency = "EUR"
pricing = "{pricing}"

[[sources]]
name = "mistral_admin"
kind = "mistral_admin"
url = "{url}"
token_env = "{ENV}"
max_retries = 0
''')
    return path


def collector(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ENV: SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "collector", "--config", str(cfg), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.slow
def test_collector_process_prices_with_the_sheet_and_reprice_rewrites_exactly_its_days(tmp_path, admin):
    today = datetime.now(UTC).date()
    first = today.replace(day=1)
    month = first.strftime("%Y-%m")
    this_month = [first, first + timedelta(days=1)]
    last_month = [first - timedelta(days=2), first - timedelta(days=1)]  # no sheet served for it
    days = last_month + this_month
    data = tmp_path / "data"
    write_at_list(data, days)
    admin.usage[month] = usage(month, sheet(0.8))

    collector(config(tmp_path, admin.url, "billed"), "--once")
    priced = costs(data)
    for key, cost in priced.items():
        model, day = key.split("|")
        in_sheet = model == DISCOUNTED and date.fromisoformat(day) in this_month
        assert cost == pytest.approx(sheet_cost(sheet(0.8)) if in_sheet else list_cost(model)), key

    for pricing, expected in (("list", list_cost(DISCOUNTED)), ("billed", sheet_cost(sheet(0.8)))):
        before = files_of(data, days)
        done = collector(config(tmp_path, admin.url, pricing), "reprice")
        assert ast.literal_eval(done.stdout.strip().splitlines()[-1]) == {"days": 2, "rows": 2}
        after = files_of(data, days)
        assert {d for d in days if after[d] != before[d]} == set(this_month)
        now = costs(data)
        assert [now[f"{DISCOUNTED}|{d}"] for d in this_month] == pytest.approx([expected] * 2)
        assert {k: v for k, v in now.items() if DISCOUNTED not in k or k[-10:] not in map(str, this_month)} == {
            k: v for k, v in priced.items() if DISCOUNTED not in k or k[-10:] not in map(str, this_month)
        }
    again = collector(config(tmp_path, admin.url, "billed"), "reprice")
    assert ast.literal_eval(again.stdout.strip().splitlines()[-1]) == {"days": 0, "rows": 0}
