"""The simulator over real HTTP on loopback: paging, cursors across restarts, errors, the CLI.

Every server here runs on a fixed (or hand-advanced) clock, so what is visible is known and
the expected records come from `generate_records`, which shares no paging code with the server.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from simulator import MAX_LIMIT, Position, decode, encode, generate_records, start_server
from tests.support.servers import free_port, wait_up

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 25, 10, 37, 12, 345000, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)
USAGE = "/v1/usage/requests"


def history_start(now: datetime, days: float) -> datetime:
    """Where the server's retention begins: `days` before now, floored to the minute."""
    return (now - timedelta(days=days)).replace(second=0, microsecond=0)


def page_all(client: httpx.Client, after: str | None = None, limit: int = 1000) -> tuple[list[dict], str, int]:
    """Every record from `after` on; returns (records, last next_cursor, number of pages)."""
    records, pages = [], 0
    while True:
        params = {"limit": limit} | ({"after": after} if after else {})
        response = client.get(USAGE, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["object"] == "list"
        records += body["data"]
        after, pages = body["next_cursor"], pages + 1
        if not body["has_more"]:
            return records, after, pages


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now.timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.mark.slow
def test_paging_returns_every_record_exactly_once(clock: Clock) -> None:
    with start_server(seed=21, days=1.5, rate=6.0, clock=clock) as sim, httpx.Client(base_url=sim.url) as client:
        records, _, pages = page_all(client, limit=997)
    expected = generate_records(21, history_start(NOW, 1.5), NOW + ONE_MS, rate=6.0)
    assert len(expected) > 5000 and pages == -(-len(expected) // 997)
    assert records == expected


@pytest.mark.slow
def test_a_restarted_server_accepts_cursors_from_the_earlier_run(clock: Clock) -> None:
    with start_server(seed=8, days=1, rate=6.0, clock=clock) as first, httpx.Client(base_url=first.url) as client:
        head = client.get(USAGE, params={"limit": 2500}).json()
        rest, caught_up, _ = page_all(client, head["next_cursor"])
    clock.now = NOW + timedelta(minutes=20)
    with start_server(seed=8, days=1, rate=6.0, clock=clock) as second, httpx.Client(base_url=second.url) as client:
        rest_again, _, _ = page_all(client, head["next_cursor"])
        news, _, _ = page_all(client, caught_up)
    assert rest_again[: len(rest)] == rest
    assert news == generate_records(8, NOW + ONE_MS, clock.now + ONE_MS, rate=6.0)
    assert len(news) > 20 and rest_again[len(rest) :] == news


@pytest.mark.slow
def test_live_trickle_appears_as_the_clock_moves(clock: Clock) -> None:
    with start_server(seed=2, days=0.1, rate=30.0, clock=clock) as sim, httpx.Client(base_url=sim.url) as client:
        _, cursor, _ = page_all(client)
        empty = client.get(USAGE, params={"after": cursor}).json()
        assert empty == {"object": "list", "data": [], "next_cursor": cursor, "has_more": False}
        clock.now = NOW + timedelta(seconds=50)
        news, later, _ = page_all(client, cursor, limit=5)
    assert news == generate_records(2, NOW + ONE_MS, clock.now + ONE_MS, rate=30.0)
    assert decode(later) > decode(cursor)


@pytest.mark.slow
def test_limit_is_clamped_and_defaults_to_1000(clock: Clock) -> None:
    with start_server(seed=3, days=3, rate=6.0, clock=clock) as sim, httpx.Client(base_url=sim.url) as client:
        assert len(client.get(USAGE).json()["data"]) == 1000
        big = client.get(USAGE, params={"limit": 50_000}).json()
        huge = client.get(USAGE, params={"limit": "9" * 5000})  # past int()'s 4300-digit limit
    assert len(big["data"]) == MAX_LIMIT and big["has_more"] is True
    assert huge.status_code == 200 and len(huge.json()["data"]) == MAX_LIMIT


@pytest.mark.slow
@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": encode(Position(1, 0))[:-2] + "!!"}, "after"),
        ({"after": "99999999999999999999999"}, "after"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "\u00b2"}, "limit"),
        ({"limit": "\u0663"}, "limit"),
        ({"after": base64.urlsafe_b64encode("v1:\u0663:0".encode()).decode()}, "after"),
        ({"after": base64.urlsafe_b64encode(b"v1:1_0:0").decode()}, "after"),
        ({"after": base64.urlsafe_b64encode(b"v1:" + b"9" * 5000 + b":0").decode()}, "after"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(clock: Clock, params: dict, named: str) -> None:
    with start_server(seed=3, days=0.05, clock=clock) as sim:
        response = httpx.get(sim.url + USAGE, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["object"] == "error" and body["type"] == "invalid_request_error"
    assert body["message"].startswith(f"{named}:")


@pytest.mark.slow
def test_a_cursor_older_than_the_history_starts_at_the_history(clock: Clock) -> None:
    with start_server(seed=4, days=0.2, rate=6.0, clock=clock) as sim:
        body = httpx.get(sim.url + USAGE, params={"after": encode(Position(1000, 3)), "limit": 10}).json()
    assert body["data"] == generate_records(4, history_start(NOW, 0.2), NOW + ONE_MS, rate=6.0)[:10]


@pytest.mark.slow
def test_token_is_required_when_configured(clock: Clock) -> None:
    with start_server(seed=1, days=0.05, token="s3cret-token", clock=clock) as sim:
        missing = httpx.get(sim.url + USAGE)
        wrong = httpx.get(sim.url + USAGE, headers={"Authorization": "Bearer nope"})
        right = httpx.get(sim.url + USAGE, headers={"Authorization": "Bearer s3cret-token"})
        health = httpx.get(sim.url + "/healthz")
    for response in (missing, wrong):
        assert response.status_code == 401
        body = response.json()
        assert body["object"] == "error" and body["type"] == "unauthorized" and "Bearer" in body["message"]
        assert "s3cret" not in response.text
    assert right.status_code == 200 and right.json()["data"]
    assert health.json() == {"status": "ok"}


@pytest.mark.slow
def test_unknown_paths_are_a_json_404(clock: Clock) -> None:
    with start_server(seed=1, days=0.05, clock=clock) as sim:
        response = httpx.get(sim.url + "/v1/usage/request")
    assert response.status_code == 404 and response.json()["object"] == "error"


def test_cursor_round_trip_and_opacity() -> None:
    pos = Position(29_900_000, 12)
    cursor = encode(pos)
    assert decode(cursor) == pos and "29900000" not in cursor


@pytest.mark.slow
def test_cli_serves_with_a_token_from_the_environment_and_never_logs_it() -> None:
    port, token = free_port(), "tok-cli-7f1e9b"
    env = os.environ | {"SIM_TEST_TOKEN": token}
    cmd = [
        sys.executable,
        "-m",
        "simulator",
        "--port",
        str(port),
        "--days",
        "0.5",
        "--seed",
        "6",
        "--token-env",
        "SIM_TEST_TOKEN",
        "--bad-every",
        "10",
        "--verbose",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(url + "/healthz", proc, "the simulator", every=0.05)
        assert httpx.get(url + USAGE).status_code == 401
        page = httpx.get(url + USAGE, params={"limit": 200}, headers={"Authorization": f"Bearer {token}"}).json()
        assert sum("id" not in r for r in page["data"]) >= 1
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert token not in (out + err).decode()
    assert b"/v1/usage/requests" in err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "named"),
    [(["--token-env", "SIM_TEST_UNSET_VAR"], "--token-env"), (["--rate", "0"], "--rate"), (["--seed", "-1"], "--seed")],
)
def test_cli_rejects_bad_settings_in_one_line(args: list[str], named: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SIM_TEST_UNSET_VAR"}
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "--port", "0", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert f"error: {named}" in done.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_history_start_stays_put_while_the_server_runs(clock: Clock) -> None:
    """Two scans of one running simulator agree on the oldest records."""
    with start_server(seed=12, days=0.5, rate=6.0, clock=clock) as sim:
        clock.now = NOW + timedelta(hours=2)
        first = httpx.get(sim.url + USAGE, params={"limit": 5}).json()["data"]
    assert first == generate_records(12, history_start(NOW, 0.5), NOW, rate=6.0)[:5]
