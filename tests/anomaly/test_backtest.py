"""Backtests on the simulator's traffic: no more than one false alarm in 30 normal days, and a
runaway key (x20 requests for an hour) caught within one alert interval, naming the key.

The 30 days are judged every hour on the hour's half (720 runs of the hour window, whose
rolling 60 minutes then tile the whole period) and every 3 hours for the 24-hour window,
through the engine's own rule and state machine; the runaway runs the whole engine every
`interval_seconds` with a real SMTP server.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerts import Engine, StateStore
from alerts._state import advance
from foundation.config import parse_config
from tests.anomaly.sim_ledger import DAYS, END, FLOOR, RUNAWAY_AT, RUNAWAY_KEY, copy_ledger

pytestmark = pytest.mark.slow

INTERVAL = timedelta(seconds=300)


def engine(data: Path, smtp_port: int | None = None, **alerts: object) -> Engine:
    (data / "budgets.toml").write_text(
        f'[key_labels]\n"{RUNAWAY_KEY}" = "nightly batch"\n\n[anomaly]\nfloor = {FLOOR}\n'
    )
    raw = {
        "data_dir": str(data),
        "timezone": "Europe/Paris",
        "currency": "USD",
        "dashboard_url": "http://dash.test:8501",
        "alerts": {"rules_enabled": ["anomaly"], "recipients": ["ops@example.com"], **alerts},
    }
    if smtp_port is not None:
        raw["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "security": "none", "sender": "monitor@example.com"}
    return Engine.from_config(parse_config(raw, base=data.parent))


@pytest.mark.timeout(900)
def test_thirty_normal_days_raise_at_most_one_alarm(normal_ledger, tmp_path):
    data = copy_ledger(normal_ledger, tmp_path / "data")
    rule, store = engine(data).anomaly_rule, StateStore(data)
    fired: dict[str, list[str]] = {}
    now = END - timedelta(days=DAYS) + timedelta(minutes=30)
    while now < END:
        observations = rule.observe(now, ("hour", "day") if now.hour % 3 == 0 else ("hour",))
        with store.locked() as state:
            notices = [n for obs in observations if (n := advance(state, obs, now, repeat_hours=0))]
            store.save(state)
        found = [n.observation.key for n in notices if n.kind == "fired"]
        if found:
            fired[now.isoformat()] = found
        now += timedelta(hours=1)
    print(f"backtest: {len(fired)} runs with a fired anomaly in {DAYS} days: {fired}")
    assert len(fired) <= 1, fired


def test_a_runaway_key_is_caught_within_one_interval_naming_it(runaway_ledger, smtp_server):
    eng = engine(runaway_ledger, smtp_server.port, interval_seconds=INTERVAL.total_seconds())
    caught = None
    now = RUNAWAY_AT - 6 * INTERVAL
    while now <= RUNAWAY_AT + 6 * INTERVAL and caught is None:
        keys = [n.observation.key for n in eng.run(now).notices if n.kind == "fired"]
        if f"anomaly_hour:api_key:{RUNAWAY_KEY}" in keys:
            caught = now
        else:
            assert now < RUNAWAY_AT or not keys or all(RUNAWAY_KEY not in k for k in keys)
        now += INTERVAL
    assert caught is not None, "the runaway was never caught"
    print(f"backtest: runaway at {RUNAWAY_AT:%H:%M} UTC caught at {caught:%H:%M} UTC ({caught - RUNAWAY_AT})")
    assert RUNAWAY_AT < caught <= RUNAWAY_AT + INTERVAL
    subjects = [m["Subject"] for m in smtp_server.messages]
    mine = [s for s in subjects if "nightly batch" in s]
    assert len(mine) == 1 and f"({RUNAWAY_KEY}), project data-pipeline" in mine[0], subjects
    [message] = [m for m in smtp_server.messages if "nightly batch" in m["Subject"]]
    text = message.get_body(("plain",)).get_content()
    assert f"API key: nightly batch (recorded as {RUNAWAY_KEY})" in text
    assert "Since: 2026-11-24 10:00 (Europe/Paris)" in text
    assert "Top models:" in text and "Top endpoints:" in text
    assert f"key={RUNAWAY_KEY}" in text  # the link opens the key's view
