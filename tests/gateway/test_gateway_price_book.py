"""Spend limits price with the collector's price book (issue 23): its `[[prices]]` overrides and,
with `pricing = "billed"`, its stored price sheets, for the spend a request settles and for what
it reserves before it goes upstream.

The gateway is a real server on loopback (uvicorn in a thread; its clock, for the limits and the
records' timestamps, fixed at NOW), in front of the fake upstream, which bills prompt = characters
(half cached) and completion = max_tokens. Every expected cost is computed here from those token
counts and the prices the test wrote (list prices read from prices.csv with the csv module), never
read from the gateway.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import Secrets, create_app, parse_config
from ledger.billing import PriceEntry, write_price_sheet
from tests.gateway.harness import SALT, TOKEN, ThreadServer
from tests.paths import REPO
from tests.support.waits import wait_until

pytestmark = pytest.mark.slow

NOW = datetime(2026, 5, 12, 12, 0, 30, tzinfo=UTC)
MODEL = "mistral-large-2512"
CONTENT = "x" * 40  # 40 prompt tokens, 20 of them cached
MAX_TOKENS = 50
BUDGETS = """
[[limits]]
name = "team daily"
project = "team"
period = "day"
amount = {amount!r}
"""
OVERRIDE = {"input": 100.0, "cached": 10.0, "output": 300.0}


def list_prices(model: str) -> dict[str, float]:
    """The model's newest USD token prices per 1M, straight from the CSV."""
    with (REPO / "ledger" / "pricing" / "prices.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["model"] == model and r["currency"] == "USD"]
    row = max(rows, key=lambda r: r["effective_from"])
    return {
        k: float(row[f"{c}_per_1m"]) for k, c in (("input", "input"), ("cached", "cached_input"), ("output", "output"))
    }


def call_cost(per_1m: dict[str, float]) -> float:
    prompt = len(CONTENT)
    cached = prompt // 2
    return ((prompt - cached) * per_1m["input"] + cached * per_1m["cached"] + MAX_TOKENS * per_1m["output"]) / 1e6


Serve = Callable[..., str]


@pytest.fixture()
def serve(upstream: ThreadServer, tmp_path: Path) -> Iterator[Serve]:
    """A gateway on a spend limit of `amount`, pricing with the collector config `collector` (TOML text) if given."""
    servers: list[ThreadServer] = []

    def start(amount: float, collector: str | None = None) -> str:
        (tmp_path / "budgets.toml").write_text(BUDGETS.format(amount=amount))
        raw: dict[str, Any] = {
            "upstream_url": upstream.url,
            "db_path": "buffer.sqlite3",
            "budgets_file": "budgets.toml",
            "limits_state_path": "limits.sqlite3",
        }
        if collector is not None:
            (tmp_path / "collector.toml").write_text(collector)
            raw["collector_config"] = "collector.toml"
        config = parse_config(raw, base=tmp_path)
        server = ThreadServer(create_app(config, Secrets(TOKEN, SALT.encode()), clock=NOW.timestamp))
        servers.append(server.__enter__())
        wait_prices_loaded(server.url)
        return server.url

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def wait_prices_loaded(url: str, timeout: float = 150.0) -> None:
    """Until the pricing process has sent the token prices a reservation needs (its first start takes seconds)."""

    def priced() -> bool:
        found = re.search(r"^gateway_limit_models_priced (\d+)", httpx.get(url + "/metrics").text, re.M)
        return found is not None and int(found.group(1)) > 0

    wait_until(priced, "the token prices loaded", timeout, every=0.1)


def chat(url: str) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": CONTENT}], "max_tokens": MAX_TOKENS}
    headers = {"Authorization": "Bearer sk-pricebook-0123456789", "X-Project": "team"}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=10)


def settled_spend(state: Path, timeout: float = 60.0) -> float:
    """The spend the limit's state holds once the call was priced."""

    def spend() -> float:
        with sqlite3.connect(state) as db:
            return float(db.execute("SELECT sum(amount) FROM spend WHERE lim = 'team daily'").fetchone()[0] or 0)

    return wait_until(spend, "a settled spend", timeout, every=0.1)


def collector_config(extra: str = "") -> str:
    return f'data_dir = "data"\ncurrency = "USD"\n{extra}'


def test_a_price_override_is_what_a_request_costs_against_a_spend_limit(serve: Serve, tmp_path: Path) -> None:
    override = (
        f'[[prices]]\nmodel = "{MODEL}"\neffective_from = "2026-01-01"\ninput_per_1m = {OVERRIDE["input"]}\n'
        f"output_per_1m = {OVERRIDE['output']}\ncached_input_per_1m = {OVERRIDE['cached']}\n"
    )
    url = serve(1000.0, collector_config(override))
    assert chat(url).status_code == 200
    spent = settled_spend(tmp_path / "limits.sqlite3")
    assert spent == pytest.approx(call_cost(OVERRIDE), rel=1e-9)
    assert spent != pytest.approx(call_cost(list_prices(MODEL)), rel=1e-3)


@pytest.mark.parametrize("priced", ["list", "override"])
def test_a_price_override_decides_whether_the_next_request_passes(serve: Serve, priced: str) -> None:
    """A limit is reached when spent plus reserved reaches it: between the first call's worst case (and
    its cost) at list prices and at the override's, only the override refuses the second call."""
    listed = list_prices(MODEL)
    worst = {name: MAX_TOKENS * price["output"] / 1e6 for name, price in (("list", listed), ("override", OVERRIDE))}
    amount = (max(worst["list"], call_cost(listed)) * 10 + worst["override"]) / 2
    assert max(worst["list"], call_cost(listed)) * 10 < amount < min(worst["override"], call_cost(OVERRIDE))
    override = (
        f'[[prices]]\nmodel = "{MODEL}"\neffective_from = "2026-01-01"\n'
        f"input_per_1m = {OVERRIDE['input']}\noutput_per_1m = {OVERRIDE['output']}\n"
    )
    url = serve(amount, collector_config(override if priced == "override" else ""))
    assert chat(url).status_code == 200
    answer = chat(url)
    assert answer.status_code == (429 if priced == "override" else 200), answer.text


def test_a_billed_price_sheet_is_what_a_request_costs_against_a_spend_limit(serve: Serve, tmp_path: Path) -> None:
    listed = list_prices(MODEL)
    mine = {kind: price * 0.5 for kind, price in listed.items()}  # a negotiated half price, this month
    metrics = {"input": "input_tokens", "cached": "cached_input_tokens", "output": "output_tokens"}
    entries = [
        PriceEntry(
            event_type=MODEL,
            billing_metric=metrics[kind],
            billing_group="completion",
            api_zone="global",
            service_tier="standard",
            model=None,
            price=mine[kind] / 1e6,
            price_text=f"{mine[kind] / 1e6:.12f}",
        )
        for kind in metrics
    ]
    write_price_sheet(tmp_path / "data", "admin", f"{NOW:%Y-%m}", None, entries, "USD", NOW)  # records are stamped NOW
    url = serve(1000.0, collector_config('pricing = "billed"\n'))
    assert chat(url).status_code == 200
    spent = settled_spend(tmp_path / "limits.sqlite3")
    assert spent == pytest.approx(call_cost(mine), rel=1e-6)
    assert spent != pytest.approx(call_cost(listed), rel=1e-3)


def test_a_collector_config_that_does_not_read_is_named(tmp_path: Path) -> None:
    from gateway import ConfigError

    (tmp_path / "collector.toml").write_text('data_dir = "data"\npricing = "cheap"\n')
    with pytest.raises(ConfigError, match=r"^collector_config: .*collector\.toml: pricing"):
        parse_config({"collector_config": "collector.toml"}, base=tmp_path)
    with pytest.raises(ConfigError, match=r"^collector_config: .*missing\.toml is not a file"):
        parse_config({"collector_config": "missing.toml"}, base=tmp_path)
    (tmp_path / "euros.toml").write_text('data_dir = "data"\ncurrency = "EUR"\n')
    with pytest.raises(ConfigError, match=r'^limits_currency: USD is not the collector.s currency EUR .*"EUR"$'):
        parse_config({"collector_config": "euros.toml"}, base=tmp_path)
    assert (
        parse_config({"collector_config": "euros.toml", "limits_currency": "EUR"}, base=tmp_path).ledger_dir
        == (tmp_path / "data").resolve()
    )
