"""Both stores of the limits' state keep one contract (gateway/_limit_store.py): the SQLite file and a
real redis-server. Reservations are held, lapse, settle and release; a state that lost its data refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway._limit_redis import RedisStore
from gateway._limit_state import LimitState
from gateway._limit_store import RESERVATION_SECONDS, Hold, LimitStore, StateReset, StateUnavailable
from tests.support.redis_server import REDIS_SERVER, RedisServer

NOW = 1_773_100_000.0
DAY = "2026-03-10"


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LimitStore]:
    if request.param == "sqlite":
        state = LimitState(tmp_path / "limits.sqlite3", timeout=1.0)
        yield state
        state.close()
        return
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server missing: scripts/setup.sh dev")
    server = RedisServer(tmp_path / "redis").start()
    client = RedisStore(server.url, password=None, timeout=2.0)
    try:
        yield client
    finally:
        client.close()
        server.kill()


def hold(cost: float, amount: float = 1.0, hard: bool = True, name: str = "daily") -> Hold:
    return Hold(name=name, period=DAY, amount=amount, cost=cost, hard=hard)


def test_a_reservation_counts_until_settled_at_the_real_cost(store: LimitStore) -> None:
    store.epoch()
    assert store.reserve("r1", [hold(0.6)], NOW) == {}
    assert store.reserved([("daily", DAY)], NOW) == {("daily", DAY): pytest.approx(0.6)}
    assert store.reserve("r2", [hold(0.6)], NOW) == {}  # 0.6 < 1: let through, it crosses the amount
    assert store.reserve("r3", [hold(0.6)], NOW) == {"daily": 0.0}  # 1.2 held, 0 spent: refused
    assert store.reserved([("daily", DAY)], NOW)[("daily", DAY)] == pytest.approx(1.2)
    store.add_usage([], [("daily", DAY, int(NOW // 60), 0.25)], [("r1", "daily", DAY)], epoch=store.epoch())
    assert store.spent([("daily", DAY)]) == {("daily", DAY): pytest.approx(0.25)}
    assert store.reserved([("daily", DAY)], NOW)[("daily", DAY)] == pytest.approx(0.6)
    store.release([("r2", "daily", DAY)])  # an upstream error: it cost nothing
    assert store.reserved([("daily", DAY)], NOW)[("daily", DAY)] == pytest.approx(0.0)
    assert store.reserve("r4", [hold(0.6)], NOW) == {}


def test_a_reservation_lapses_unless_renewed(store: LimitStore) -> None:
    store.epoch()
    store.reserve("kept", [hold(0.5)], NOW)
    store.reserve("lost", [hold(0.5)], NOW)  # its replica was killed: never renewed
    later = NOW + RESERVATION_SECONDS - 1
    store.renew([("kept", "daily", DAY)], later)
    after = NOW + RESERVATION_SECONDS + 1
    assert store.reserved([("daily", DAY)], after)[("daily", DAY)] == pytest.approx(0.5)
    assert store.reserve("next", [hold(0.4)], after) == {}  # 0.5 held, not 1.0


def test_a_soft_limit_reached_holds_and_a_hard_one_holds_nothing(store: LimitStore) -> None:
    store.epoch()
    store.add_usage([], [("soft", DAY, 1, 2.0)], [], epoch=store.epoch())
    assert store.reserve("a", [hold(0.1, name="soft", hard=False), hold(0.1)], NOW) == {"soft": pytest.approx(2.0)}
    assert store.reserved([("daily", DAY)], NOW)[("daily", DAY)] == pytest.approx(0.1)
    store.add_usage([], [("daily", DAY, 1, 5.0)], [], epoch=store.epoch())
    assert set(store.reserve("b", [hold(0.1, name="soft", hard=False), hold(0.1)], NOW)) == {"soft", "daily"}
    assert store.reserved([("soft", DAY)], NOW)[("soft", DAY)] == pytest.approx(0.1)  # only "a"'s


def test_the_ledger_figure_replaces_the_own_spend_before_its_minute(store: LimitStore) -> None:
    store.epoch()
    store.add_usage([], [("daily", DAY, 100, 0.5), ("daily", DAY, 105, 0.25)], [], epoch=store.epoch())
    store.set_ledger("daily", DAY, 3.0, 103)  # the ledger holds minute 100's 0.5 (and others' spend)
    store.add_usage([], [("daily", DAY, 101, 0.125)], [], epoch=store.epoch())  # a late record before as_of
    assert store.spent([("daily", DAY)])[("daily", DAY)] == pytest.approx(3.0 + 0.25)


def test_a_rate_limit_counts_all_or_none(store: LimitStore) -> None:
    store.epoch()
    rates = [("two", 2, None, True), ("wide", 100, None, True)]
    assert store.take_requests(rates, 5) == {}
    assert store.take_requests(rates, 5) == {}
    assert store.take_requests(rates, 5) == {"two": "requests"}
    assert store.take_requests([("wide", 3, None, True)], 5) == {}  # the refused one was not counted: 2, not 3
    assert store.take_requests([("wide", 3, None, True)], 5) == {"wide": "requests"}


def test_one_holder_at_a_time_refreshes_the_ledger(store: LimitStore) -> None:
    assert store.claim("ledger", "a", 60, NOW)
    assert not store.claim("ledger", "b", 60, NOW + 1)
    assert store.claim("ledger", "a", 60, NOW + 2)


def test_a_redis_restarted_empty_refuses_until_rebuilt(tmp_path: Path) -> None:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server missing: scripts/setup.sh dev")
    server = RedisServer(tmp_path / "redis").start()
    store = RedisStore(server.url, password=None, timeout=0.5)
    try:
        first = store.epoch()
        server.kill()
        with pytest.raises(StateUnavailable):
            store.reserve("r", [hold(0.1)], NOW)
        server.start(same_port=True)
        with pytest.raises(StateReset):  # nothing counted from zero
            store.reserve("r", [hold(0.1)], NOW)
        with pytest.raises(StateReset):
            store.take_requests([("two", 2, None, True)], 5)
        second = store.epoch()
        assert second != first
        with pytest.raises(StateReset):  # a replica's write into the old life
            store.add_usage([], [("daily", DAY, 1, 0.5)], [], epoch=first)
        assert store.spent([("daily", DAY)])[("daily", DAY)] == 0.0
        store.add_usage([], [("daily", DAY, 1, 0.5)], [], epoch=second)
        assert store.spent([("daily", DAY)])[("daily", DAY)] == pytest.approx(0.5)
    finally:
        store.close()
        server.kill()


def test_a_password_is_sent_from_the_environment_never_the_url(tmp_path: Path) -> None:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server missing: scripts/setup.sh dev")
    server = RedisServer(tmp_path / "redis", password="s3cret-limits").start()
    try:
        without = RedisStore(server.url, password=None, timeout=2.0)
        with pytest.raises(StateUnavailable) as refused:
            without.epoch()
        assert "s3cret" not in str(refused.value)
        store = RedisStore(server.url, password="s3cret-limits", timeout=2.0)
        store.epoch()
        assert store.reserve("r", [hold(0.1)], NOW) == {}
        without.close()
        store.close()
    finally:
        server.kill()
