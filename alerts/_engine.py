"""One run of the alert engine: observe, advance the state machine, queue, then deliver.

Why this order, all under one lock: the state change and the queued emails are written in a
single atomic save *before* anything is sent (see `_state`), so a restart, a repeated
`--once` or a SIGKILL anywhere never turns one crossing into two emails. Delivery then drains
the outbox, saving after each message. The lock also serialises two engines on one data dir.
With an s3 data_dir two hosts share no lock: a first save refused because the other host saved
meanwhile (`Moved`) is decided again from a fresh read; a later one (after a send) fails loudly.

Example:
    >>> from pathlib import Path
    >>> from tests.builders import build_ledger
    >>> now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    >>> _ = build_ledger(Path("data"), n_records=2000, days=2, seed=7, end=now)
    >>> _ = Path("data/budgets.toml").write_text('''
    ... [[budgets]]
    ... name = "Search monthly"
    ... period = "month"
    ... amount = 0.01
    ... project = "search"
    ... thresholds = [100]
    ... ''')
    >>> from foundation.config import parse_config
    >>> engine = Engine.from_config(parse_config({"data_dir": "data"}, base=Path(".")))
    >>> [notice.observation.key for notice in engine.run(now).notices]
    ['threshold:search-monthly:2026-11', 'unpriced:acme-finetune-1']
    >>> engine.run(now).notices        # the same crossing never fires twice
    ()
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from foundation.config import Config
from ledger.pricing import fx
from ledger.storage.document import UPDATE_TRIES
from ledger.storage.remote import Moved

from ._anomaly_rule import ScopeAnomalyRule
from ._budget_rules import BudgetRules
from ._budgets import Budget, BudgetFileError, load_budgets
from ._channel_outbox import drain_posts, enqueue_posts
from ._channels import rule_channels
from ._compose import compose
from ._digest import digest_due, digest_observation
from ._health_rules import HealthRules
from ._limit_rule import LimitRule
from ._observation import Observation
from ._outbox import drain, enqueue
from ._reconcile_rule import ReconcileRule
from ._rule import Rule
from ._settings import AlertSettings, SmtpSettings, parse_alerts, parse_smtp
from ._state import Notice, SavedState, StateStore, advance, prune, record
from ._statement import queue_statements
from ._unpriced_rule import UnpricedRule


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What one run did; `error` is the budgets file problem, if any (other rules still ran).

    `queued`, `sent`, `failed` count emails; `posts_queued`, `posted`, `post_failed` count
    chat/webhook messages (one per notice per channel).
    """

    notices: tuple[Notice, ...] = ()
    queued: int = 0
    sent: int = 0
    failed: int = 0
    error: str | None = None
    posts_queued: int = 0
    posted: int = 0
    post_failed: int = 0


R = TypeVar("R", bound=Rule)


def _rule(kind: type[R], config: Config, settings: AlertSettings) -> R:
    """A rule over the config's data dir, time zone, currency and dashboard link."""
    return kind(
        data_dir=config.data_dir,
        settings=settings,
        timezone=config.timezone,
        currency=config.currency,
        dashboard_url=config.dashboard_url,
    )


class Engine:
    """The alert engine over one data dir. Stateless between runs: everything is in the file."""

    def __init__(self, config: Config, settings: AlertSettings, smtp: SmtpSettings | None) -> None:
        self.config, self.settings, self.smtp = config, settings, smtp
        self.fence: Callable[[], None] = lambda: None  # the collector's failover lease check (raises to abort)
        self.store = StateStore(config.data_dir)
        self.budget_rules, self.health_rules = (
            _rule(BudgetRules, config, settings),
            _rule(HealthRules, config, settings),
        )
        self.reconcile_rule = _rule(ReconcileRule, config, settings)
        self.unpriced_rule, self.limit_rule = _rule(UnpricedRule, config, settings), _rule(LimitRule, config, settings)
        self.anomaly_rule = _rule(ScopeAnomalyRule, config, settings)

    @classmethod
    def from_config(cls, config: Config) -> Engine:
        """Validate `[alerts]` and `[smtp]` (ConfigError names the key)."""
        sections = config.sections
        base = config.path.parent if config.path else None
        smtp = parse_smtp(sections["smtp"], base) if "smtp" in sections else None
        return cls(config, parse_alerts(sections.get("alerts", {}), config.data_dir), smtp)

    def budgets(self) -> list[Budget]:
        return load_budgets(self.settings.budgets_file)

    def recipients(self, budgets: list[Budget]) -> tuple[str, ...]:
        """Every address the engine mails (budgets, [alerts] recipients, digest), sorted, once each."""
        named = [a for b in budgets for a in b.recipients]
        return tuple(sorted({*named, *self.settings.recipients, *self.settings.digest_recipients}))

    def observe(self, now: datetime) -> tuple[list[Observation], str | None]:
        """Every rule's observations; a broken budgets file is reported, not fatal."""
        try:
            budgets, error = self.budgets(), None
        except BudgetFileError as exc:
            budgets, error = [], str(exc)
        health = self.health_rules.observe(now) + self.reconcile_rule.observe(now) + self.unpriced_rule.observe(now)
        health += self.limit_rule.observe(now) + self.anomaly_rule.observe(now)
        return self.budget_rules.observe(budgets, now) + health, error

    def run(self, now: datetime | None = None) -> RunResult:
        """One run, money converted to the config's currency (ledger.pricing.fx)."""
        with fx.displaying(self.config.currency, self.config.fx.overrides):
            return self._run(now)

    def _run(self, now: datetime | None) -> RunResult:
        now = (now or datetime.now(UTC)).astimezone(UTC)
        observations, error = self.observe(now)
        for attempt in range(UPDATE_TRIES):
            with self.store.locked() as state:
                notices = [n for obs in observations if (n := advance(state, obs, now, self.settings.repeat_hours))]
                queued = self._queue(state, notices, now) + self._digest(state, now)
                queued += queue_statements(self, state, now)
                posts_queued = sum(
                    1 for m in state["outbox"] if m.get("channel") and m["created_at"] == now.isoformat()
                )
                prune(state, now)
                self.fence()
                try:
                    self.store.save(state)
                except Moved:  # another host saved since the read: nothing was sent, decide again
                    if attempt == UPDATE_TRIES - 1:
                        raise
                    continue
                self.fence()
                sent, failed = drain(state, self.smtp, now, lambda: self.store.save(state))
                self.fence()
                posted, post_failed = drain_posts(state, self.settings.channels, now, lambda: self.store.save(state))
            break
        return RunResult(
            notices=tuple(notices),
            queued=queued,
            sent=sent,
            failed=failed,
            error=error,
            posts_queued=posts_queued,
            posted=posted,
            post_failed=post_failed,
        )

    def channels_of(self, obs: Observation) -> tuple[str, ...]:
        """A budget's own channels, else those `[alerts.rule_channels]` routes the rule to."""
        return obs.channels if obs.channels is not None else rule_channels(self.settings.rule_channels, obs.rule)

    def _queue(self, state: SavedState, notices: list[Notice], now: datetime) -> int:
        """Group notices by recipient, one email each, and one message per notice per channel;
        every notice goes to history. Returns the number of emails queued."""
        by_recipient: dict[str, list[Notice]] = defaultdict(list)
        expire = self.settings.outbox_expire_hours
        for notice in notices:
            recipients = notice.observation.recipients if self.smtp else ()
            channels = self.channels_of(notice.observation)
            record(state, notice, recipients, now, channels)
            enqueue_posts(state, notice, channels, self.settings.channels, now, expire)
            for address in recipients:
                by_recipient[address].append(notice)
        for address, group in sorted(by_recipient.items()):
            enqueue(state, compose(address, group), now, expire)
        return len(by_recipient)

    def _digest(self, state: SavedState, now: datetime) -> int:
        period = digest_due(self.settings, now, self.config.timezone, state["digests"])
        if period is None:
            return 0
        cfg = self.config
        try:
            budgets = self.budgets()
        except BudgetFileError:
            budgets = []
        obs = digest_observation(
            cfg.data_dir, self.settings, period, budgets, cfg.timezone, cfg.currency, cfg.dashboard_url, now
        )
        state["digests"][f"{self.settings.digest}:{period.id}"] = now.isoformat()
        return self._queue(state, [Notice("fired", obs, period.id)], now)


def engine_for(config: Config) -> Engine | None:
    """The engine if alerts are configured (an [alerts] section or a budgets file), else None."""
    engine = Engine.from_config(config)
    if "alerts" in config.sections or engine.settings.budgets_file.exists():
        return engine
    return None
