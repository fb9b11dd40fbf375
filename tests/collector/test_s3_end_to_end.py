"""`python -m collector --once` from the simulator into `s3://` (the loopback S3 server), then the
dashboard's data functions over it: the same figures as over a local ledger of the same records,
and a fresh host (an empty working folder) reads them too (issue 21)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest

from foundation import location
from ledger import read_ledger
from ledger.queries import Filters, breakdown, run_sql, spend_summary
from ledger.queries.statement import statement
from ledger.storage.store import list_days
from simulator import start_server
from tests.support.collectors import collector_once
from tests.support.s3 import working_folder

pytestmark = pytest.mark.slow

FIXED_NOW = time.time()


@pytest.fixture(scope="module")
def sim():
    with start_server(seed=9, days=1, rate=20, clock=lambda: FIXED_NOW) as handle:
        yield handle


def collect(tmp_path: Path, where: str, url: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(where + f'[[sources]]\nname = "sim"\nkind = "usage_endpoint"\nurl = "{url}"\npage_limit = 2000\n')
    env = {"PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k.startswith(("AWS_", "XDG_"))}}
    proc = collector_once(config, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "AWS_SECRET" not in proc.stderr and "test-secret-key" not in proc.stderr


def figures(data_dir: Path) -> tuple[dict, dict]:
    """(exact figures, money figures by name): money is compared to 1e-9, as sums of the same
    costs in another order may differ in the last bit."""
    days = list_days(data_dir)
    window = Filters(start=days[0], end=days[-1])
    summary = spend_summary(data_dir, window)
    lines = statement(data_dir, days[-1].strftime("%Y-%m"), "UTC", "USD").lines
    by_model = breakdown(data_dir, window, ["model"])
    sql = run_sql(data_dir, window, "SELECT count(*) AS n, sum(cost) AS cost FROM ledger")
    exact = {
        "days": days,
        "requests": summary.requests,
        "tokens": summary.prompt_tokens,
        "sql rows": int(sql["n"].iloc[0]),
    }
    money = {"spend": summary.spend, "sql cost": float(sql["cost"].iloc[0])}
    money |= {
        f"statement {p} {m}": float(v) for p, m, v in zip(lines["project"], lines["model"], lines["spend"], strict=True)
    }
    money |= {f"breakdown {m}": float(v) for m, v in zip(by_model["model"], by_model["spend"], strict=True)}
    return exact, money


def same(found: tuple[dict, dict], expected: tuple[dict, dict]) -> bool:
    return found[0] == expected[0] and found[1] == pytest.approx(expected[1], rel=1e-9, nan_ok=True)


def test_a_collector_into_s3_gives_the_dashboard_the_figures_of_a_local_ledger(tmp_path, s3, sim):
    local = tmp_path / "local"
    collect(tmp_path, f'data_dir = "{local}"\n', sim.url)
    collect(tmp_path, f'data_dir = "{s3.url()}"\n', sim.url)  # its working folder: the default, under XDG_CACHE_HOME
    assert any(k.startswith("monitor/requests/_delta_log/") for k in s3.keys())
    host_a = location.default_cache(s3.url())
    assert location.url_of(host_a) == s3.url()
    rows = read_ledger(local)
    assert rows.num_rows > 1000
    assert sorted(read_ledger(host_a)["id"].to_pylist()) == sorted(rows["id"].to_pylist())
    expected = figures(local)
    assert expected[1]["spend"] == pytest.approx(pc.sum(rows["cost"]).as_py())  # the figures are not empty
    assert len(expected[1]) > 10
    assert same(figures(host_a), expected)
    assert same(figures(working_folder(s3, tmp_path, "fresh-host")), expected)
