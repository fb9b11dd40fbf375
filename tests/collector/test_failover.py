"""Collector failover (issue 22): two collectors, one Redis lease, one of them polls.

Real processes, a real redis-server and the real simulator on loopback with a frozen clock
(every read the same), lease_seconds = 2. The expected ids come from an independent scan of
the endpoint with plain httpx. The backfill is rate-limited so a kill or a stop lands mid-poll.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from collector._context import Context
from collector._lease import Failover, FencedAppender, Lease, failover_for
from collector._state import StatusBoard
from collector.errors import LeaseLost
from foundation.config import Config, LeaseConfig, parse_config
from foundation.errors import ConfigError
from ledger import read_ledger
from ledger.queries import freshness
from simulator import start_server
from tests.builders import build_ledger
from tests.support.collectors import Collector, assert_exactly_once, scan, wait_for
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.process

LEASE_SECONDS = 2
POLL_SECONDS = 5


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, set[str], str]]:
    frozen = time.time() // 60 * 60
    with start_server(seed=22, days=1, rate=96, clock=lambda: frozen, preload=True) as sim:
        yield sim.url, *scan(sim.url)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture
def started() -> Iterator[list[Collector]]:
    """Collectors a test starts; killed at its end, even when it fails (before Redis stops)."""
    running: list[Collector] = []
    yield running
    for one in running:
        if one.proc.poll() is None:
            os.kill(one.proc.pid, signal.SIGCONT)
            one.kill()


def write_config(tmp_path: Path, url: str, lease_url: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[collector]\nlease_url = "{lease_url}"\nlease_seconds = {LEASE_SECONDS}\n'
        f'[[sources]]\nname = "sim"\nkind = "usage_endpoint"\nurl = "{url}"\n'
        f"page_limit = 1000\nmax_requests_per_second = 10\npoll_seconds = {POLL_SECONDS}\n"
    )
    return path


def parts(data_dir: Path) -> set[str]:
    return {p.name for p in data_dir.glob("requests/*/part-*.parquet")}


def lease_status(data_dir: Path) -> dict:
    try:
        return orjson.loads((data_dir / "state" / "collector.json").read_bytes()).get("lease") or {}
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}


def leader_of(pair: list[Collector], data_dir: Path) -> tuple[Collector, Collector] | None:
    """(leader, standby) once the status file names one of the two as the lease holder."""
    holder = lease_status(data_dir).get("holder") or ""
    for i, one in enumerate(pair):
        if holder.split(":")[1:2] == [str(one.proc.pid)]:
            return one, pair[1 - i]
    return None


def start_pair(config: Path, data_dir: Path, started: list[Collector]) -> tuple[Collector, Collector]:
    pair = [Collector(config), Collector(config)]
    started.extend(pair)
    wait_for(lambda: leader_of(pair, data_dir), "one collector to take the lease", timeout=60)
    found = leader_of(pair, data_dir)
    assert found is not None
    wait_for(lambda: found[1].logged("lease_standby"), "the other collector to stand by", timeout=60)
    return found


def test_only_the_leader_polls_and_a_standby_takes_over_a_sigkilled_one(tmp_path, endpoint, redis_server, started):
    url, expected, last = endpoint
    config, data_dir = write_config(tmp_path, url, redis_server.url), tmp_path / "data"
    leader, standby = start_pair(config, data_dir, started)
    wait_for(lambda: len(parts(data_dir)) >= 5, "the leader's first pages")
    assert standby.logged("lease_standby") and not standby.logged("lease_acquired")
    assert not standby.logged("poll") and not standby.logged("lock_wait")  # it does not even try the job locks
    written_before = parts(data_dir)
    token = lease_status(data_dir)["token"]

    leader.kill()
    killed = time.monotonic()
    wait_for(lambda: standby.logged("lease_acquired"), "the standby to take the lease", timeout=30)
    acquired = time.monotonic() - killed
    wait_for(lambda: parts(data_dir) - written_before or standby.logged("poll"), "the new leader's first write")
    first_write = time.monotonic() - killed
    print(f"takeover: lease after {acquired:.2f} s, first write after {first_write:.2f} s (lease {LEASE_SECONDS} s)")
    assert acquired < LEASE_SECONDS + 2  # the lease runs out, then the standby's next try (every 2/3 s)
    assert first_write < LEASE_SECONDS + POLL_SECONDS
    assert standby.logged("lease_acquired")[0]["token"] == token + 1
    assert lease_status(data_dir)["holder"].split(":")[1] == str(standby.proc.pid)

    wait_for(lambda: cursor(data_dir) == last, "the new leader to finish the backfill", timeout=300)
    standby.proc.send_signal(signal.SIGTERM)
    assert standby.proc.wait(timeout=60) == 0, standby.text()[-3000:]
    assert standby.logged("lease_released")
    assert redis_server.client().get("monitor:collector:lease") is None
    assert_exactly_once(data_dir, expected)


def cursor(data_dir: Path) -> str | None:
    try:
        return orjson.loads((data_dir / "state" / "cursors.json").read_bytes()).get("sim")
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None


def test_a_leader_stopped_past_its_lease_wakes_up_fenced_and_writes_nothing(tmp_path, endpoint, redis_server, started):
    url, expected, last = endpoint
    config, data_dir = write_config(tmp_path, url, redis_server.url), tmp_path / "data"
    old, new = start_pair(config, data_dir, started)
    wait_for(lambda: len(parts(data_dir)) >= 3, "the leader's first pages")
    assert not old.logged("poll")  # still in its backfill (about 6 s at 10 requests/s): stopped mid-poll
    os.kill(old.proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: new.logged("lease_acquired"), "the standby to take the lease", timeout=30)
    finally:
        os.kill(old.proc.pid, signal.SIGCONT)
    aborted = lambda: [e for e in old.logged("lease_lost") if e.get("job") == "poll:sim"]  # noqa: E731
    wait_for(aborted, "the old leader's poll to stop at its next commit", timeout=60)
    assert aborted()[0]["token"] == new.logged("lease_acquired")[0]["token"] - 1
    assert "is no longer current; not writing" in aborted()[0]["reason"]
    wait_for(lambda: cursor(data_dir) == last and new.logged("poll"), "the new leader's backfill", timeout=300)
    print("old leader aborted:", aborted()[0]["reason"])
    assert not old.logged("poll")  # the old leader's backfill never completed: the new one did it
    assert [e["records"] > 0 for e in new.logged("poll")][:1] == [True]
    assert len(old.logged("lease_acquired")) == 1  # back to standby, not leader again
    for one in (old, new):
        one.kill()
    assert_exactly_once(data_dir, expected)


def test_the_fence_refuses_a_write_once_another_holder_took_the_lease(tmp_path, redis_server):
    config = LeaseConfig(url=redis_server.url, seconds=LEASE_SECONDS)
    now = [0.0]
    stop = threading.Event()
    status = StatusBoard(tmp_path / "data")
    first = Failover(Lease(config, holder="a:1:x"), status, stop, clock=lambda: now[0])
    first.tick()
    assert first.leader and first.token == 1
    first.fence()
    redis_server.client().delete("monitor:collector:lease")  # as if it expired while `first` was stopped
    second = Failover(Lease(config, holder="b:2:y"), status, stop, clock=lambda: now[0])
    second.tick()
    assert second.token == 2
    assert first.leader  # its own clock has not moved: only Redis knows
    appender = FencedAppender(tmp_path / "data", first.fence)
    build_ledger(tmp_path / "seed", n_records=50, days=1, seed=3)
    rows = read_ledger(tmp_path / "seed")
    with pytest.raises(LeaseLost, match="token 1 is no longer current"):
        appender.append(rows)
    now[0] = 0.5  # ... and after its keeper noticed, with a job of its term still running
    first.tick()
    assert first.token is None
    with pytest.raises(LeaseLost):
        appender.append(rows)
    assert not parts(tmp_path / "data")
    assert FencedAppender(tmp_path / "data", second.fence).append(rows) == rows.num_rows > 0
    assert not first.leader
    assert lease_status(tmp_path / "data")["holder"] == "b:2:y"
    assert freshness(tmp_path / "data").active_collector == "b:2:y"


def test_a_leader_that_cannot_renew_stops_leading_when_its_lease_runs_out(tmp_path, redis_server):
    now = [0.0]
    failover = Failover(
        Lease(LeaseConfig(url=redis_server.url, seconds=LEASE_SECONDS), holder="a:1:x"),
        StatusBoard(tmp_path / "data"),
        threading.Event(),
        clock=lambda: now[0],
    )
    failover.tick()
    redis_server.kill()
    now[0] = LEASE_SECONDS - 0.1
    failover.tick()  # the renew fails but the lease still runs
    assert failover.leader
    now[0] = LEASE_SECONDS + 0.1
    assert not failover.leader
    with pytest.raises(LeaseLost, match="cannot check the lease"):
        failover.fence()
    failover.tick()
    assert failover.token is None


def test_without_lease_url_nothing_changes():
    context = Context.build(Config(data_dir=Path("unused")))
    assert failover_for(context) is None


@pytest.mark.parametrize(
    "collector, message",
    [
        ({"lease_url": "http://10.0.0.5:6379"}, "collector.lease_url: 'http://10.0.0.5:6379' is not a redis://"),
        ({"lease_url": "redis://:s3cret@10.0.0.5:6379"}, "collector.lease_url: no password"),
        ({"lease_url": "redis://10.0.0.5:6379", "lease_seconds": 1}, "collector.lease_seconds"),
    ],
)
def test_a_bad_lease_setting_names_its_key(collector, message):
    with pytest.raises(ConfigError) as caught:
        parse_config({"collector": collector}, base=Path("."))
    assert str(caught.value).startswith(message)
    assert "s3cret" not in str(caught.value)


def test_the_lease_settings_reach_the_config():
    config = parse_config({"collector": {"lease_url": "redis://10.0.0.5:6379/2"}}, base=Path("."))
    assert config.lease == LeaseConfig(url="redis://10.0.0.5:6379/2", seconds=15)


def test_once_runs_only_with_the_lease_and_hands_it_back(tmp_path, endpoint):
    """`--once` beside an active collector does nothing; alone it collects and releases; the password comes from env."""
    url, expected, _ = endpoint
    server = RedisServer(tmp_path / "redis", password="lease-pass-22").start()
    try:
        config, data_dir = write_config(tmp_path, url, server.url), tmp_path / "data"
        env = {"COLLECTOR_LEASE_PASSWORD": "lease-pass-22"}
        server.client().set("monitor:collector:lease", "other-host:1:abc", px=60_000)
        busy = Collector(config, "--once", env=env)
        assert "another collector holds the lease" in busy.finish()
        assert not parts(data_dir)
        server.client().delete("monitor:collector:lease")
        alone = Collector(config, "--once", env=env)
        log = alone.finish()
        assert alone.logged("lease_acquired") and alone.logged("lease_released"), log[-2000:]
        assert "lease-pass-22" not in log
        assert server.client().get("monitor:collector:lease") is None
        assert lease_status(data_dir)["holder"] is None
        assert_exactly_once(data_dir, expected)
        refused = Collector(config, "--once")  # no password: Redis refuses, and the run says so
        assert refused.proc.wait(timeout=60) == 1
        assert "collector: lease_url: cannot take the lease (" in refused.text()
        assert "$COLLECTOR_LEASE_PASSWORD" in refused.text()
    finally:
        server.kill()
