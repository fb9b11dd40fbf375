"""Budgets and alert emails that fire exactly once.

The engine (a collector job) reads the ledger through `ledger.queries` /
`ledger.queries.budgets`, advances a persisted state machine per (rule, scope, period) and
delivers email and Slack / Teams / webhook messages through a persistent outbox. The Budgets
page (pages/budgets.py) edits the budgets file and shows spend, forecasts, history, the outbox
and each channel's delivery state. See docs/alerts.md.
"""

from ._anomaly_rule import AnomalyEpisode, anomaly_episodes
from ._anomaly_settings import AnomalySettings, load_anomaly
from ._budget_rules import BudgetView, view_budget
from ._budgets import (
    Budget,
    BudgetFileChanged,
    BudgetFileError,
    file_version,
    load_budgets,
    load_limits,
    load_projects,
    parse_budget,
    parse_budgets,
    save_budgets,
    save_limits,
)
from ._channel_outbox import channel_status, send_test_post
from ._channels import ChannelSettings, check_known
from ._compose import to_email
from ._engine import Engine, RunResult, engine_for
from ._jobs import collector_jobs
from ._limit_rule import LimitRule
from ._limits import NO_PROJECT, Limit, key_labels, label_for, parse_limit_form
from ._periods import PERIODS, Period, period_of
from ._post import ChannelError
from ._settings import RULES, AlertSettings, SmtpSettings, parse_alerts, parse_smtp
from ._smtp import DeliveryError, send, send_test_email
from ._state import AlertState, HistoryRow, OutboxRow, StateStore
from ._unpriced_rule import UnpricedModel, unpriced_models_seen

__all__ = [
    "NO_PROJECT",
    "PERIODS",
    "RULES",
    "AlertSettings",
    "AlertState",
    "AnomalyEpisode",
    "AnomalySettings",
    "Budget",
    "BudgetFileChanged",
    "BudgetFileError",
    "BudgetView",
    "ChannelError",
    "ChannelSettings",
    "DeliveryError",
    "Engine",
    "HistoryRow",
    "Limit",
    "LimitRule",
    "OutboxRow",
    "Period",
    "RunResult",
    "SmtpSettings",
    "StateStore",
    "UnpricedModel",
    "anomaly_episodes",
    "channel_status",
    "check_known",
    "collector_jobs",
    "engine_for",
    "file_version",
    "key_labels",
    "label_for",
    "load_anomaly",
    "load_budgets",
    "load_limits",
    "load_projects",
    "parse_alerts",
    "parse_budget",
    "parse_budgets",
    "parse_limit_form",
    "parse_smtp",
    "period_of",
    "save_budgets",
    "save_limits",
    "send",
    "send_test_email",
    "send_test_post",
    "to_email",
    "unpriced_models_seen",
    "view_budget",
]
