"""The simulator's runaway incident: one key's requests x20 for an hour, every other record unchanged."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest

from simulator import KEY_IDS, Runaway
from simulator._catalog import TOKEN_ENDPOINTS
from simulator._generate import generate_hour
from simulator._incidents import HOUR_MS, MINUTE_MS
from tests.paths import REPO

START = datetime(2026, 11, 24, 9, tzinfo=UTC)
HOUR = int(START.timestamp() * 1000) // HOUR_MS
KEY = KEY_IDS.index("key_9e0f4c88")


def first_attempts(cols: dict[str, np.ndarray], key: int) -> np.ndarray:
    """First attempts of the token endpoints (OCR and audio calls are drawn apart, after them)."""
    token = cols["endpoint"] < len(TOKEN_ENDPOINTS)
    return cols["ts"][(cols["key"] == key) & (cols["attempt"] == 1) & token]


def test_the_key_sends_twenty_times_its_requests_for_the_hour_and_nothing_else_changes():
    runaway = Runaway.parse(f"key_9e0f4c88@{START.isoformat()}")
    normal, busy = generate_hour(5, HOUR, 6.0, None), generate_hour(5, HOUR, 6.0, runaway)
    usual, now = len(first_attempts(normal, KEY)), len(first_attempts(busy, KEY))
    assert usual > 50
    assert 20 * usual * 0.8 < now < 20 * usual * 1.2
    for other in range(len(KEY_IDS)):
        if other != KEY:  # every other key's calls are the same calls
            assert np.array_equal(np.sort(first_attempts(normal, other)), np.sort(first_attempts(busy, other)))
    for hour in (HOUR - 1, HOUR + 1):
        before, after = generate_hour(5, hour, 6.0, None), generate_hour(5, hour, 6.0, runaway)
        assert all(np.array_equal(before[c], after[c]) for c in before)


def test_a_runaway_from_half_past_adds_calls_only_after_it_starts():
    runaway = Runaway.parse(f"key_9e0f4c88@{START.replace(minute=30).isoformat()}")
    normal, busy = generate_hour(5, HOUR, 6.0, None), generate_hour(5, HOUR, 6.0, runaway)
    half = HOUR * HOUR_MS + 30 * MINUTE_MS
    early = [(ts < half).sum() for ts in (first_attempts(normal, KEY), first_attempts(busy, KEY))]
    assert early[0] == early[1]
    late = [(ts >= half).sum() for ts in (first_attempts(normal, KEY), first_attempts(busy, KEY))]
    assert late[1] > 10 * late[0]
    following = generate_hour(5, HOUR + 1, 6.0, runaway)  # the second half hour is in the next hour
    assert len(first_attempts(following, KEY)) > 5 * len(first_attempts(generate_hour(5, HOUR + 1, 6.0), KEY))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("key_nope@2026-11-24T09:00Z", "runaway: key 'key_nope' is not a simulator key; use one of key_3f9a1c2e"),
        ("key_9e0f4c88@2026-11-24T09:00", "runaway: '2026-11-24T09:00' is not an ISO instant with an offset"),
        ("key_9e0f4c88", "runaway: '' is not an ISO instant with an offset"),
    ],
)
def test_a_bad_runaway_is_refused_with_the_fix(text, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        Runaway.parse(text)


@pytest.mark.slow
def test_the_cli_refuses_a_bad_runaway_with_exit_2():
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "--runaway", "key_nope@2026-11-24T09:00Z", "--port", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--runaway key_nope@2026-11-24T09:00Z: runaway: key 'key_nope' is not a simulator key" in done.stderr


def test_the_demo_starts_the_simulator_with_a_runaway_ten_minutes_in():
    from monitor_cli._demo import _parser, simulator_args
    from simulator import Runaway

    now = datetime(2026, 11, 20, 10, 0, 30, 123, tzinfo=UTC)
    argv = simulator_args(_parser().parse_args(["--port", "9001"]), now)
    assert argv == ["--port", "9001", "--days", "30", "--runaway", "key_9e0f4c88@2026-11-20T10:10:30+00:00"]
    assert Runaway.parse(argv[-1]).start_ms == int(datetime(2026, 11, 20, 10, 10, 30, tzinfo=UTC).timestamp() * 1000)
    assert "--runaway" not in simulator_args(_parser().parse_args(["--runaway-in", "-1"]), now)
