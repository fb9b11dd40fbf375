"""A fast client calling in sequence cannot outrun a hard spend limit (issue 22: "fits 9, admitted 21").

The gateway is a real process on the fake upstream; the client calls as fast as answers come.
Each call's cost is computed here from the price table's numbers (mistral-large-2411: $2 input,
$0.2 cached input, $6 output per 1M tokens; the fake bills prompt = characters, half of them
cached, and completion = max_tokens), not read from the gateway. The limit fits 9 calls; the
bound is 9, plus the one call in flight when the 9th answer's spend was still reserved.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import fake_upstream
import httpx
import pytest

from tests.gateway.harness import Gateway, ThreadServer

pytestmark = pytest.mark.process

MODEL = "mistral-large-2411"
MAX_TOKENS = 1000
CONTENT = "reserve!"


def call_cost(content: str) -> float:
    prompt = len(content)
    cached = prompt // 2
    return ((prompt - cached) * 2 + cached * 0.2 + MAX_TOKENS * 6) / 1e6


def budgets(amount: float) -> str:
    return f"""
[[limits]]
name = "fits nine"
project = "fast"
period = "day"
amount = {amount!r}

[[limits]]
name = "warm"
project = "warm"
period = "day"
amount = 1000
"""


def wait_priced(state: Path, limit: str, timeout: float = 150.0) -> None:
    """Until the pricing process has priced a call under `limit` (its first start can take seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(state) as db:
            found = db.execute("SELECT count(*) FROM spend WHERE lim = ?", (limit,)).fetchone()[0]
        if found:
            return
        time.sleep(0.1)
    raise AssertionError(f"no call under {limit!r} was priced within {timeout:.0f} s")


@pytest.mark.slow
def test_a_fast_sequential_client_cannot_outrun_a_hard_spend_limit(upstream: ThreadServer, tmp_path: Path) -> None:
    cost = call_cost(CONTENT)
    (tmp_path / "budgets.toml").write_text(budgets(9 * cost))
    state = tmp_path / "limits.sqlite3"
    gw = Gateway(
        root=tmp_path / "gw",
        upstream_url=upstream.url,
        extra={"budgets_file": str(tmp_path / "budgets.toml"), "limits_state_path": str(state)},
    )
    gw.root.mkdir()
    gw.start()
    try:
        headers = {"Authorization": "Bearer sk-reserve-0123456789", "X-Project": "warm"}
        body = {"model": MODEL, "messages": [{"role": "user", "content": "warm up"}], "max_tokens": 5}
        with httpx.Client(base_url=gw.url, timeout=10) as client:
            assert client.post("/v1/chat/completions", json=body, headers=headers).status_code == 200
            wait_priced(state, "warm")  # the pricing process is up: what follows is the steady state
            headers["X-Project"] = "fast"
            body = {"model": MODEL, "messages": [{"role": "user", "content": CONTENT}], "max_tokens": MAX_TOKENS}
            codes = [client.post("/v1/chat/completions", json=body, headers=headers).status_code for _ in range(40)]
            metrics = client.get("/metrics").text
    finally:
        gw.stop()
    admitted = sum(1 for seen in fake_upstream.SEEN if CONTENT.encode() in seen["body"])
    assert codes.count(200) == admitted
    assert 9 <= admitted <= 10, f"a limit that fits 9 calls admitted {admitted}: {codes}"
    assert codes[admitted:] == [429] * (40 - admitted)
    assert 'gateway_limit_reserved{limit="fits nine"}' in metrics
    assert 'gateway_limit_refusals_total{limit="fits nine"} ' + str(40 - admitted) in metrics
