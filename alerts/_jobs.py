"""The collector job: run the alert engine every `interval_seconds` (and on `--once`).

Why validate here, at start-up: `collector_jobs` runs inside the collector CLI's ConfigError
handler, so a bad `[alerts]`/`[smtp]` key or a broken budgets file stops the collector with
exit code 2 and one line naming the key (or the file's line) and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from foundation.config import Config
from foundation.jobs import Job
from foundation.log import event_logger
from foundation.scrub import register_secret

from ._budgets import Budget
from ._channels import check_known
from ._engine import Engine, engine_for

log = event_logger("alerts")


def check_channels(engine: Engine, budgets: list[Budget]) -> None:
    """Every channel a budget names is configured, and every channel's URL (and secret) is in
    the environment; each is registered so no log line can print it. ConfigError otherwise."""
    for budget in budgets:
        check_known(
            budget.channels,
            engine.settings.channels,
            f"{engine.settings.budgets_file}: budget {budget.name!r}: channels",
        )
    for channel in engine.settings.channels.values():
        register_secret(channel.url())
        register_secret(channel.secret())


def collector_jobs(config: Config, fence: Callable[[], None] | None = None) -> list[Job]:
    """`[Job("alerts", ...)]` when alerts are configured, else `[]` (`python -m collector` adds them).

    `fence` (the collector's failover lease) runs before the state is saved and before sending;
    it raises to abort the run unwritten when this collector is no longer the active one.
    """
    engine = engine_for(config)
    if engine is None:
        return []
    if fence is not None:
        engine.fence = fence
    budgets = engine.budgets()
    if engine.smtp is not None and engine.smtp.password_env:
        register_secret(engine.smtp.password())
    check_channels(engine, budgets)
    return [Job(name="alerts", run=lambda: run_logged(engine), interval_seconds=engine.settings.interval_seconds)]


def run_logged(engine: Engine) -> bool:
    """One run with one log line; False (a failed job) if the budgets file is broken."""
    result = engine.run()
    fields: dict[str, Any] = {
        "notices": [f"{n.kind}:{n.observation.key}" for n in result.notices],
        "queued": result.queued,
        "sent": result.sent,
        "not_delivered": result.failed,
        "posts_queued": result.posts_queued,
        "posted": result.posted,
        "posts_not_delivered": result.post_failed,
    }
    if result.error:
        log.error("alerts_budgets_invalid", error=result.error, **fields)
        return False
    log("alerts", **fields)
    return True
