"""The limits' shared state in Redis (>= 6) or Valkey, for replicas on several hosts (`limits_state_url`).

Why Lua: a rate limit's check and count, and a spend limit's check and reservation, must each be
one step across replicas; a script runs alone on the server, so no read-then-write race is
possible (MULTI cannot branch on what it read). The keys share one hash tag, so a cluster keeps
them in one slot. Per (limit, period) a hash holds the replicas' own spend (`own`, and per minute
`m:<minute>`), the ledger's figure (`ledger`, `as_of`) and the own spend before `as_of` (`before`):
spent = own + ledger - before, as in the SQLite store. A request's reservation is a field of the
period's `held` hash (its cost) and a member of its `exp` sorted set (when it lapses).

Redis restarted empty: the `epoch` key is gone. Every script refuses to run without it
(StateReset, so the limiter applies fail-open or fail-closed, never a count from zero), and
`add_usage` writes only into the epoch its replica knows, so each replica writes its own spend
again exactly once per new epoch (Limiter._rebuild) and the ledger's figure is read again.

Example:
    >>> store = RedisStore("redis://127.0.0.1:6379/0", password=None, timeout=0.1)  # connects on first use
    >>> store.epoch()                                                                 # doctest: +SKIP
    '5f0c3d...'
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._limit_store import RESERVATION_SECONDS, Hold, Rate, Settled, SpendRow, StateReset, StateUnavailable, TokenRow

PREFIX = "{mistral-monitor-limits}:"
SPEND_TTL = 41 * 86_400
"""A period's spend outlives the longest period (a month) and the ledger's 40 days."""
HELD_TTL = int(4 * RESERVATION_SECONDS)
EPOCH = PREFIX + "epoch"

_ADMIT = """
if not redis.call('GET', KEYS[1]) then return redis.error_reply('reset: the limits state lost its data') end
local token, now, expires, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local holds, rates = tonumber(ARGV[5]), tonumber(ARGV[6])
local reached, full, refused = {}, {}, false
for i = 1, holds do
  local spend, held, exp = KEYS[3*i-1], KEYS[3*i], KEYS[3*i+1]
  local lapsed = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, 1000)
  for _, old in ipairs(lapsed) do
    redis.call('ZREM', exp, old)
    redis.call('HDEL', held, old)
  end
  local v = redis.call('HMGET', spend, 'own', 'ledger', 'before')
  local spent = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0) - (tonumber(v[3]) or 0)
  local reserved = 0
  for _, cost in ipairs(redis.call('HVALS', held)) do reserved = reserved + tonumber(cost) end
  if spent + reserved >= tonumber(ARGV[3*i+4]) then
    reached[#reached+1] = tostring(i)
    reached[#reached+1] = tostring(spent)
    if ARGV[3*i+6] == '1' then refused = true end
  end
end
if refused then return {reached, full} end
local first, base = 3 * holds + 2, 3 * holds + 6
for j = 1, rates do
  local key = KEYS[first + j - 1]
  local rpm, tpm = tonumber(ARGV[base + 3*j - 2]), tonumber(ARGV[base + 3*j - 1])
  local v = redis.call('HMGET', key, 'r', 't')
  local r, t = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  local what = ''
  if rpm > 0 and r >= rpm then what = 'requests' elseif tpm > 0 and t >= tpm then what = 'tokens' end
  if what ~= '' then
    full[#full+1] = tostring(j)
    full[#full+1] = what
    if ARGV[base + 3*j] == '1' then refused = true end
  end
end
if not refused then
  for i = 1, holds do
    redis.call('HSET', KEYS[3*i], token, ARGV[3*i+5])
    redis.call('ZADD', KEYS[3*i+1], expires, token)
    redis.call('EXPIRE', KEYS[3*i], ttl)
    redis.call('EXPIRE', KEYS[3*i+1], ttl)
  end
  for j = 1, rates do
    redis.call('HINCRBY', KEYS[first + j - 1], 'r', 1)
    redis.call('EXPIRE', KEYS[first + j - 1], 180)
  end
end
return {reached, full}
"""

_USAGE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('reset: the limits state lost its data') end
local ttl = ARGV[2]
local ops = cjson.decode(ARGV[3])
for _, t in ipairs(ops.t) do
  redis.call('HINCRBY', t[1], 't', t[2])
  redis.call('EXPIRE', t[1], 180)
end
for _, s in ipairs(ops.s) do
  local key, minute, cost = s[1], s[2], s[3]
  redis.call('HINCRBYFLOAT', key, 'own', cost)
  redis.call('HINCRBYFLOAT', key, 'm:' .. minute, cost)
  local as_of = tonumber(redis.call('HGET', key, 'as_of'))
  if as_of and as_of > minute then redis.call('HINCRBYFLOAT', key, 'before', cost) end
  redis.call('EXPIRE', key, ttl)
end
for _, x in ipairs(ops.x) do
  redis.call('HDEL', x[1], x[3])
  redis.call('ZREM', x[2], x[3])
end
return 1
"""

_LEDGER = """
local as_of = tonumber(ARGV[2])
local before = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local field = all[i]
  if string.sub(field, 1, 2) == 'm:' and tonumber(string.sub(field, 3)) < as_of then
    before = before + tonumber(all[i+1])
  end
end
redis.call('HSET', KEYS[1], 'ledger', ARGV[1], 'as_of', ARGV[2], 'before', tostring(before))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


def _rate_key(name: str, minute: int) -> str:
    return f"{PREFIX}rate:{minute}:{name}"


def _spend_key(name: str, period: str) -> str:
    return f"{PREFIX}spend:{period}:{name}"


def _held_keys(name: str, period: str) -> tuple[str, str]:
    return f"{PREFIX}held:{period}:{name}", f"{PREFIX}exp:{period}:{name}"


class RedisStore:
    def __init__(self, url: str, password: str | None, timeout: float) -> None:
        """A client of `url`; it connects on first use and again after any failure (no probe, no retry)."""
        self.client = redis.Redis.from_url(
            url,
            password=password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            health_check_interval=0,
        )
        self._admit = self.client.register_script(_ADMIT)
        self._usage = self.client.register_script(_USAGE)
        self._ledger = self.client.register_script(_LEDGER)
        self._claim = self.client.register_script(_CLAIM)

    def take_requests(self, limits: Iterable[Rate], minute: int) -> dict[str, str]:
        return self.admit("", [], list(limits), minute, 0.0)[1]

    def reserve(self, token: str, holds: list[Hold], now: float) -> dict[str, float]:
        return self.admit(token, holds, [], 0, now)[0]

    def admit(
        self, token: str, holds: list[Hold], rates: list[Rate], minute: int, now: float
    ) -> tuple[dict[str, float], dict[str, str]]:
        """See LimitStore.admit: one script, one round trip."""
        keys = [EPOCH]
        args: list[str | int] = [token, repr(now), repr(now + RESERVATION_SECONDS), HELD_TTL, len(holds), len(rates)]
        for hold in holds:
            keys += [_spend_key(hold.name, hold.period), *_held_keys(hold.name, hold.period)]
            args += [repr(hold.amount), repr(hold.cost), int(hold.hard)]
        for name, rpm, tpm, hard in rates:
            keys.append(_rate_key(name, minute))
            args += [rpm or 0, tpm or 0, int(hard)]
        with _errors():
            reached, full = self._admit(keys=keys, args=args)
        return (
            {holds[int(reached[i]) - 1].name: float(reached[i + 1]) for i in range(0, len(reached), 2)},
            {rates[int(full[i]) - 1][0]: str(full[i + 1]) for i in range(0, len(full), 2)},
        )

    def renew(self, held: list[Settled], now: float) -> None:
        with _errors(), self.client.pipeline(transaction=False) as pipe:
            for token, name, period in held:
                keys = _held_keys(name, period)
                pipe.zadd(keys[1], {token: now + RESERVATION_SECONDS}, xx=True)
                pipe.expire(keys[0], HELD_TTL)
                pipe.expire(keys[1], HELD_TTL)
            pipe.execute()

    def release(self, held: list[Settled]) -> None:
        with _errors(), self.client.pipeline(transaction=True) as pipe:
            for token, name, period in held:
                keys = _held_keys(name, period)
                pipe.hdel(keys[0], token)
                pipe.zrem(keys[1], token)
            pipe.execute()

    def add_usage(
        self, tokens: list[TokenRow], spend: list[SpendRow], settled: list[Settled] | None = None, epoch: str = ""
    ) -> None:
        ops = {
            "t": [[_rate_key(name, minute), used] for name, minute, used in tokens],
            "s": [[_spend_key(name, period), minute, cost] for name, period, minute, cost in spend],
            "x": [[*_held_keys(name, period), token] for token, name, period in settled or ()],
        }
        if not any(ops.values()):
            return
        with _errors():
            self._usage(keys=[EPOCH], args=[epoch, SPEND_TTL, json.dumps(ops)])

    def spent(self, periods: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float]:
        wanted = sorted(set(periods))
        with _errors(), self.client.pipeline(transaction=False) as pipe:
            for name, period in wanted:
                pipe.hmget(_spend_key(name, period), ["own", "ledger", "before"])
            found = pipe.execute()
        return {
            key: float(own or 0) + float(ledger or 0) - float(before or 0)
            for key, (own, ledger, before) in zip(wanted, found, strict=True)
        }

    def reserved(self, periods: Iterable[tuple[str, str]], now: float) -> dict[tuple[str, str], float]:
        wanted = sorted(set(periods))
        with _errors(), self.client.pipeline(transaction=False) as pipe:
            for name, period in wanted:
                held, exp = _held_keys(name, period)
                pipe.hgetall(held)
                pipe.zrangebyscore(exp, f"({now!r}", "+inf")
            found = pipe.execute()
        out = {}
        for index, key in enumerate(wanted):
            costs, live = found[2 * index], found[2 * index + 1]
            out[key] = sum(float(costs[token]) for token in live if token in costs)
        return out

    def set_ledger(self, name: str, period: str, amount: float, as_of: int) -> None:
        with _errors():
            self._ledger(keys=[_spend_key(name, period)], args=[repr(amount), as_of, SPEND_TTL])

    def claim(self, role: str, holder: str, seconds: float, now: float) -> bool:
        with _errors():
            return bool(self._claim(keys=[f"{PREFIX}lease:{role}"], args=[holder, max(1, int(seconds * 1000))]))

    def epoch(self) -> str:
        """The current epoch; a new one when the key is gone (a first start, or Redis restarted empty)."""
        with _errors():
            self.client.set(EPOCH, uuid.uuid4().hex, nx=True)
            found = self.client.get(EPOCH)
        if not isinstance(found, str):
            raise StateUnavailable("the limits state's epoch could not be read back")
        return found

    def purge(self, before_minute: int, now: float) -> None:
        """Nothing to do: every key expires on its own (rate keys 180 s, spend 41 days, reservations when unused)."""

    def checkpoint(self) -> None:
        """Nothing to do: Redis persists (or not) as its operator configured."""

    def close(self) -> None:
        self.client.close()


@contextmanager
def _errors() -> Iterator[None]:
    """Redis's errors as the limiter's: StateReset for a state that lost its data, else StateUnavailable."""
    try:
        yield
    except redis.ResponseError as exc:
        if str(exc).startswith("reset"):
            raise StateReset(str(exc)) from None
        raise StateUnavailable(f"{type(exc).__name__}: {exc}") from None
    except (redis.RedisError, OSError) as exc:
        raise StateUnavailable(f"{type(exc).__name__}: {exc}") from None
