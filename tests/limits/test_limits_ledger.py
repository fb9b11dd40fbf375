"""A spend limit counts the ledger's figure for the period plus the gateway's own spend since the
collector's newest gateway row, never a request twice (real parquet ledger, real state file)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from foundation.limit_rules import NO_PROJECT, Limit, Projects
from gateway._limit_ledger import ledger_refresher
from gateway._limiter import Limiter, LimitSettings
from gateway._metrics import Metrics
from tests.support.alerts import rows


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ledger(data: Path) -> None:
    rows(
        data,
        [
            {"source": "gw", "timestamp": at("2026-03-10 10:00"), "cost": 0.40, "project": "search"},
            {"source": "gw", "timestamp": at("2026-03-10 10:05:30"), "cost": 0.30, "project": "search"},
            {"source": "sim", "timestamp": at("2026-03-10 09:00"), "cost": 0.05, "project": "search"},
            {"source": "sim", "timestamp": at("2026-03-10 10:09"), "cost": 5.00, "project": "search"},  # after as_of
            {"source": "gw", "timestamp": at("2026-03-10 10:01"), "cost": 7.00, "project": "other"},
            {"source": "gw", "timestamp": at("2026-03-09 22:00"), "cost": 9.00, "project": "search"},  # yesterday
        ],
    )


def spent_message(tmp_path: Path, own: list[tuple[str, float]]) -> str:
    """Run a limiter over the ledger with own records priced `cost` observed at each time; its 429 message."""
    clock = {"now": at("2026-03-10 10:07").timestamp()}
    limit = Limit(name="search daily", project="search", period="day", amount=0.5)
    settings = LimitSettings(state_path=tmp_path / "state.sqlite3", ledger_refresh_seconds=3600, sync_seconds=3600)
    limiter = Limiter(
        limits=[limit],
        settings=settings,
        metrics=Metrics(),
        clock=lambda: clock["now"],
        pricer=lambda records: [r["test_cost"] for r in records],
        refresher=ledger_refresher(tmp_path / "data", "gw"),
    )

    async def run() -> str:
        await limiter.start()
        for when, cost in own:
            clock["now"] = at(when).timestamp()
            limiter.observe({"project": "search", "model": "m", "test_cost": cost})
            await limiter.sync()
        verdict = limiter.check("search", None, "m")
        await limiter.stop()
        assert verdict is not None
        return verdict.message

    return asyncio.run(run())


def test_ledger_spend_plus_own_spend_since_the_newest_gateway_row(tmp_path: Path) -> None:
    ledger(tmp_path / "data")
    # ledger before 10:05 (as_of, the minute of the newest gw row): 0.40 + 0.05; own from 10:05 on: 0.30 + 0.25
    message = spent_message(
        tmp_path, [("2026-03-10 10:04", 0.30), ("2026-03-10 10:05", 0.30), ("2026-03-10 10:08", 0.25)]
    )
    assert "(USD 1.00 spent)" in message, message


def test_without_a_ledger_only_own_spend_counts(tmp_path: Path) -> None:
    message = spent_message(tmp_path, [("2026-03-10 10:04", 0.30), ("2026-03-10 10:08", 0.25)])
    assert "(USD 0.55 spent)" in message, message


def test_a_batch_whose_pricing_failed_is_priced_on_the_next_sync(tmp_path: Path) -> None:
    """A pricing process that dies (BrokenProcessPool in a loaded CI run) must not zero the batch."""
    failures = {"left": 2}

    def flaky(records: list[dict]) -> list[float]:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("A child process terminated abruptly")
        return [r["test_cost"] for r in records]

    clock = {"now": at("2026-03-10 10:07").timestamp()}
    limit = Limit(name="search daily", project="search", period="day", amount=0.5)
    settings = LimitSettings(state_path=tmp_path / "state.sqlite3", sync_seconds=3600)  # synced by the test
    metrics = Metrics()
    limiter = Limiter(limits=[limit], settings=settings, metrics=metrics, clock=lambda: clock["now"], pricer=flaky)

    async def run() -> str:
        await limiter.start()
        limiter.observe({"project": "search", "model": "m", "test_cost": 0.75})
        for _ in range(3):  # two failed pricings keep the batch, the third prices it
            await limiter.sync()
        assert failures["left"] == 0 and metrics.limit_state_errors["price"] == 2
        verdict = limiter.check("search", None, "m")
        await limiter.stop()
        assert verdict is not None, "the batch was lost: no spend counted"
        return verdict.message

    assert "(USD 0.75 spent)" in asyncio.run(run())


def test_the_ledger_figure_covers_rows_as_the_request_path_does(tmp_path: Path) -> None:
    """Ledger rows are matched like requests: normalised projects, the catch-all, an alias and its dated model."""
    t = at("2026-03-10 10:00")
    rows(
        tmp_path / "data",
        [
            {"source": "gw", "timestamp": t, "cost": 0.01, "project": "Search", "model": "mistral-small-latest"},
            {"source": "gw", "timestamp": t, "cost": 0.02, "project": None, "model": "Mistral-Large-Latest"},
            {"source": "gw", "timestamp": t, "cost": 0.04, "project": "searchh", "model": "mistral-large-2512"},
            {"source": "gw", "timestamp": t, "cost": 0.08, "project": "web", "model": "mistral-large-2411"},
            {"source": "gw", "timestamp": at("2026-03-10 10:06"), "cost": 0.0, "project": "web"},  # as_of marker
        ],
    )
    limits = [
        Limit(name="search", project="search", amount=9.0),
        Limit(name="strays", project=NO_PROJECT, amount=9.0),
        Limit(name="large", model="mistral-large-latest", amount=9.0),
    ]
    settings = LimitSettings(state_path=tmp_path / "state.sqlite3", ledger_refresh_seconds=3600)
    limiter = Limiter(
        limits=limits,
        projects=Projects(known=frozenset({"search", "web"})),
        settings=settings,
        metrics=Metrics(),
        clock=lambda: at("2026-03-10 10:07").timestamp(),
        pricer=lambda records: [0.0 for _ in records],
        refresher=ledger_refresher(tmp_path / "data", "gw"),
    )

    async def run() -> None:
        await limiter.start()
        await limiter.stop()

    asyncio.run(run())
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        figures = {lim: round(amount, 6) for lim, amount in db.execute("SELECT lim, amount FROM ledger")}
    # mistral-large-latest meant mistral-large-2512 on 2026-03-10, not mistral-large-2411
    assert figures == {"search": 0.01, "strays": 0.06, "large": 0.06}
