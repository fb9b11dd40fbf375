"""Limits the gateway enforces, driven by the official mistralai SDK against the fake upstream.

The gateway runs in this process (uvicorn in a thread) so its clock can be moved across the
budget's midnight; the fake upstream's SEEN log says which calls really went upstream. Costs are
computed here from the price table's numbers (mistral-large-2411: $2 / $0.2 cached / $6 per 1M
tokens), not read from the gateway.
"""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import fake_upstream
import httpx
import orjson
import pytest
from mistralai.client import Mistral
from mistralai.client.errors import MistralError
from mistralai.client.models import UserMessageTypedDict
from test_gateway_sdk import fingerprint

from gateway import Secrets, create_app, parse_config
from tests.gateway.harness import REPO, SALT, TOKEN, Clock, ThreadServer, in_process
from tests.support.waits import wait_until

PARIS = ZoneInfo("Europe/Paris")
API_KEY = "sk-limits-0123456789abcdef"
ODD_NAME = 'capped "daily" \\ </script>'
MODEL = "mistral-large-2411"
MAX_TOKENS = 100_000
BUDGETS = f"""
[key_labels]
"{fingerprint(API_KEY)}" = "search prod"

[[limits]]
name = '{ODD_NAME}'
project = "capped"
period = "day"
amount = 1

[[limits]]
name = "three a minute"
project = "rated"
api_key = "search prod"
requests_per_minute = 3

[[limits]]
name = "soft one"
project = "softy"
requests_per_minute = 1
hard = false
"""


def call_cost(content: str) -> float:
    """The fake upstream bills prompt = characters of the message (half of them cached), completion = max_tokens;
    mistral-large-2411 costs $2 input, $0.2 cached input, $6 output per 1M tokens (ledger/pricing/prices.csv)."""
    prompt = len(content)
    cached = prompt // 2
    return ((prompt - cached) * 2 + cached * 0.2 + MAX_TOKENS * 6) / 1e6


@pytest.fixture()
def served(upstream: ThreadServer, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Clock, Path]]:
    """A gateway whose every admission is the state's: a lock wait on a loaded machine refuses (503) rather
    than passing a request a limit should refuse; a test of the failure itself passes its own settings."""
    (tmp_path / "budgets.toml").write_text(BUDGETS)
    clock = Clock(datetime(2026, 3, 10, 23, 50, 20, tzinfo=PARIS))
    raw = {
        "upstream_url": upstream.url,
        "db_path": "buffer.sqlite3",
        "budgets_file": "budgets.toml",
        "limits_state_path": "limits.sqlite3",
        "limits_timezone": "Europe/Paris",
        "limits_fail_closed": True,
        "limits_state_timeout_ms": 5000,
        **getattr(request, "param", {}),
    }
    with in_process(tmp_path, raw, clock) as server:
        yield server.url, clock, tmp_path


def chat(url: str, project: str, content: str) -> object:
    client = Mistral(api_key=API_KEY, server_url=url)
    messages: list[UserMessageTypedDict] = [{"role": "user", "content": content}]
    return client.chat.complete(
        model=MODEL,
        messages=messages,
        max_tokens=MAX_TOKENS,
        http_headers={"X-Project": project},
    )


def spent(state: Path) -> float:
    with closing(sqlite3.connect(state)) as db:
        return float(db.execute("SELECT coalesce(sum(amount), 0) FROM spend").fetchone()[0])


def wait_spend(state: Path, expected: float) -> None:
    """Until the shared state holds `expected` spend (the worker prices answers every 0.2 s; the pricing process's
    first start can take seconds). The spend replaces the call's reservation in the same transaction, so the next
    admission sees it: nothing more to wait for."""
    wait_until(lambda: spent(state) >= expected - 1e-9, f"the state reaching {expected} of spend", timeout=150)


def upstream_calls(tag: str) -> int:
    return sum(tag.encode() in seen["body"] for seen in fake_upstream.SEEN)


@pytest.mark.slow
def test_daily_hard_limit_refuses_after_crossing_and_resets_at_the_budget_midnight(
    served: tuple[str, Clock, Path],
) -> None:
    url, clock, root = served
    content = "capped call, please answer at length"
    allowed = math.ceil(1 / call_cost(content))  # calls until the spend reaches $1: the last one crosses it
    for index in range(allowed):
        chat(url, "capped", content)
        wait_spend(root / "limits.sqlite3", (index + 1) * call_cost(content))
    before = upstream_calls(content)
    with pytest.raises(MistralError) as refused:
        chat(url, "capped", content)
    assert upstream_calls(content) == before == allowed, "the refused call must not reach the upstream"
    error = refused.value
    assert error.status_code == 429
    body = orjson.loads(error.body)
    assert body["object"] == "error" and body["type"] == "limit_exceeded" and body["code"] == "429"
    assert body["message"].startswith(ODD_NAME + ": spend limit of USD 1.00 per day for project capped reached")
    assert f"(USD {allowed * call_cost(content):,.2f} spent)" in body["message"]  # priced as the ledger prices
    assert "resets at 2026-03-11T00:00:00+01:00" in body["message"]
    retry = int(error.raw_response.headers["retry-after"])
    assert retry == 9 * 60 + 40  # 23:50:20 to midnight in Paris
    chat(url, "other", content + " other")  # another project is unaffected
    assert upstream_calls(content + " other") == 1
    clock.now = datetime(2026, 3, 11, 0, 0, 5, tzinfo=PARIS).timestamp()
    chat(url, "capped", content)  # a new day in the budget's time zone
    assert upstream_calls(content) == allowed + 2  # the "other" call's text contains it too


@pytest.mark.slow
def test_rate_limit_lets_n_through_and_refuses_the_next_with_retry_after(served: tuple[str, Clock, Path]) -> None:
    url, clock, _ = served
    for index in range(3):
        chat(url, "rated", f"rated call {index}")
    with pytest.raises(MistralError) as refused:
        chat(url, "rated", "rated call 3")
    assert upstream_calls("rated call 3") == 0
    assert refused.value.status_code == 429
    assert int(refused.value.raw_response.headers["retry-after"]) == 40  # 23:50:20 -> 23:51:00
    message = orjson.loads(refused.value.body)["message"]
    assert message.startswith(
        "three a minute: rate limit of 3 requests per minute for project rated, API key search prod reached"
    )
    clock.now += 40
    chat(url, "rated", "rated call 4")
    assert upstream_calls("rated call 4") == 1


@pytest.mark.slow
def test_a_soft_limit_only_adds_a_header(served: tuple[str, Clock, Path]) -> None:
    url, _, _ = served
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Project": "softy"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "soft"}], "max_tokens": 5}
    first = httpx.post(url + "/v1/chat/completions", json=body, headers=headers)
    second = httpx.post(url + "/v1/chat/completions", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert "x-gateway-limit-warning" not in first.headers
    assert second.headers["x-gateway-limit-warning"].startswith("soft one: rate limit of 1 requests per minute")
    metrics = httpx.get(url + "/metrics").text
    assert 'gateway_limit_warnings_total{limit="soft one"} 1' in metrics


@pytest.mark.slow
@pytest.mark.parametrize("served", [{"limits_fail_closed": False, "limits_state_timeout_ms": 50}], indirect=True)
def test_state_unavailable_fails_open_and_is_counted(served: tuple[str, Clock, Path]) -> None:
    url, _, root = served
    locker = sqlite3.connect(root / "limits.sqlite3", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        for index in range(5):  # over the limit of 3, but the state cannot be read
            chat(url, "rated", f"open call {index}")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert upstream_calls("open call") == 5
    assert "gateway_limit_state_failures_total 5" in httpx.get(url + "/metrics").text


@pytest.mark.slow
def test_state_unavailable_fails_closed_when_configured(upstream: ThreadServer, tmp_path: Path) -> None:
    (tmp_path / "budgets.toml").write_text(BUDGETS)
    config = parse_config(
        {
            "upstream_url": upstream.url,
            "db_path": "buffer.sqlite3",
            "budgets_file": "budgets.toml",
            "limits_state_path": "limits.sqlite3",
            "limits_fail_closed": True,
            "limits_state_timeout_ms": 50,
        },
        base=tmp_path,
    )
    with ThreadServer(create_app(config, Secrets(TOKEN, SALT.encode()))) as server:
        locker = sqlite3.connect(tmp_path / "limits.sqlite3", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(MistralError) as refused:
                chat(server.url, "rated", "closed call")
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert refused.value.status_code == 503
        assert orjson.loads(refused.value.body)["type"] == "limits_unavailable"
        assert upstream_calls("closed call") == 0
        chat(server.url, "elsewhere", "closed elsewhere")  # no limit applies: nothing to check
        assert upstream_calls("closed elsewhere") == 1


@pytest.mark.slow
def test_two_gateways_enforce_one_limit_together(upstream: ThreadServer, tmp_path: Path) -> None:
    """Two gateways (two limiters, each with its own buffer) on one state file, at one instant of one minute."""
    (tmp_path / "budgets.toml").write_text('[[limits]]\nname = "shared"\nproject = "shared"\nrequests_per_minute = 5\n')
    clock = Clock(datetime(2026, 3, 10, 12, 0, 0, tzinfo=PARIS))  # the ten calls fall in one minute
    shared = {  # every admission is the state's: a lock wait past the timeout refuses (503), never passes
        "upstream_url": upstream.url,
        "budgets_file": "budgets.toml",
        "limits_state_path": "limits.sqlite3",
        "limits_fail_closed": True,
        "limits_state_timeout_ms": 5000,
    }
    body = {"model": MODEL, "messages": [{"role": "user", "content": "shared call"}], "max_tokens": 5}
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Project": "shared"}
    with (
        in_process(tmp_path, {**shared, "db_path": "a.sqlite3"}, clock) as first,
        in_process(tmp_path, {**shared, "db_path": "b.sqlite3"}, clock) as second,
    ):
        codes = [
            httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=10).status_code
            for gw in (first, second) * 5
        ]
    assert codes == [200] * 5 + [429] * 5
    assert upstream_calls("shared call") == 5


@pytest.mark.slow
def test_a_control_character_in_a_limit_name_stops_the_start_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "budgets.toml").write_text('[[limits]]\nname = "bad\\u0007name"\nrequests_per_minute = 5\n')
    (tmp_path / "gateway.toml").write_text(f'budgets_file = "budgets.toml"\ndb_path = "{tmp_path / "b.sqlite3"}"\n')
    env = {"GATEWAY_USAGE_TOKEN": TOKEN, "GATEWAY_KEY_SALT": SALT, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(tmp_path / "gateway.toml")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "limits[0].name" in lines[0] and "control character" in lines[0]


@pytest.mark.slow
def test_an_edited_budgets_file_is_enforced_without_a_restart(
    served: tuple[str, Clock, Path], caplog: pytest.LogCaptureFixture
) -> None:
    url, _, root = served
    chat(url, "late", "late call 0")
    chat(url, "late", "late call 1")
    late = '\n[[limits]]\nname = "late"\nproject = "late"\nrequests_per_minute = 1\n'
    (root / "budgets.toml").write_text(BUDGETS + late)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            chat(url, "late", "late call again")
        except MistralError as refused:
            assert refused.status_code == 429
            assert orjson.loads(refused.body)["message"].startswith("late: rate limit of 1 requests per minute")
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the new limit was never enforced")
    (root / "budgets.toml").write_text('[[limits]]\nname = "broken\\u0007"\nrequests_per_minute = 1\n')
    wait_until(lambda: "limits_not_reloaded" in caplog.messages, "the broken edit being read", timeout=20)
    with pytest.raises(MistralError):
        chat(url, "late", "late call kept")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"limits_timezone": "Mars/Olympus"}, "limits_timezone: 'Mars/Olympus' is not a time zone"),
        ({"limits_fail_closed": "yes"}, "limits_fail_closed: expected bool"),
        ({"limits_state_timeout_ms": 0}, "limits_state_timeout_ms: 0 is out of range"),
        ({"limits_state_url": "http://cache:6379/0"}, "limits_state_url: 'http://cache:6379/0' is not a redis://"),
        ({"limits_state_url": "redis://:hunter2@cache:6379/0"}, "limits_state_url: no password, query or fragment"),
        ({"limits_state_url": "redis://cache:6379/zero"}, "limits_state_url: the database 'zero' is not a number"),
        ({"limits_state_url": "redis://cache:99999/0"}, "limits_state_url: 'redis://cache:99999/0' has no valid port"),
    ],
)
def test_bad_limit_keys_name_the_key(tmp_path: Path, raw: dict[str, object], expected: str) -> None:
    from gateway import ConfigError

    with pytest.raises(ConfigError) as raised:
        parse_config(raw, base=tmp_path)
    assert str(raised.value).startswith(expected)
