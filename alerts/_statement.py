"""The monthly statement email: on the 1st, each project's owners get last month's statement, once.

Why owners come from the budgets file: it is where people are already named per project. A
project's owners are the recipients of every budget whose `project` names it; a project no
budget names gets no statement email (the Statement page still shows it).

Why exactly once: like the digest, "statement of 2026-10 for search queued" is recorded in
the alert state in the same atomic write as the queued emails (see `_state`), so a restart,
a repeated `--once` or a SIGKILL never sends it twice, and delivery goes through the outbox.
It is due from `statement_hour` local time on the 1st until the month ends (a collector
that was down on the 1st sends it late, not never); with no SMTP configured nothing is
recorded, so it goes out once SMTP is set up.

Example:
    >>> owners([Budget(name="search", amount=500, projects=("search",), recipients=("lead@example.com",))])
    {'search': ('lead@example.com',)}
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from html import escape
from typing import Protocol

import pandas as pd

from foundation.config import Config
from foundation.money import money
from ledger.queries.statement import (
    NO_DATA,
    PARTIAL,
    UNPRICED,
    Statement,
    change_text,
    coverage_text,
    empty_days_text,
    statement,
)

from ._budgets import Budget, BudgetFileError
from ._compose import message_id
from ._names import printable
from ._outbox import enqueue
from ._periods import Period, period_of
from ._settings import AlertSettings, SmtpSettings
from ._state import KEEP_HISTORY, Message, SavedState, StatementSent


class StatementEngine(Protocol):
    """What the statement rule reads from the alerts engine (its config, settings, SMTP, budgets)."""

    config: Config
    settings: AlertSettings
    smtp: SmtpSettings | None

    def budgets(self) -> list[Budget]: ...


RULE = "statement"
MAX_LINES = 25


def owners(budgets: list[Budget]) -> dict[str, tuple[str, ...]]:
    """Project -> the addresses of every budget scoped to it, sorted, once each."""
    found: dict[str, set[str]] = defaultdict(set)
    for budget in budgets:
        for project in budget.projects:
            found[project].update(budget.recipients)
    return {project: tuple(sorted(people)) for project, people in sorted(found.items()) if people}


def due_month(now: datetime, timezone: str, hour: int) -> Period | None:
    """Last month, once this month's 1st has reached `hour` local time; else None."""
    current = period_of("month", now, timezone)
    if now < current.start.replace(hour=hour):
        return None
    return current.previous()


def _key(month: str, project: str) -> str:
    return f"{month}:{project}"


def queue_statements(engine: StatementEngine, state: SavedState, now: datetime) -> int:
    """Queue last month's statement for every owned project not done yet; how many emails."""
    settings, config = engine.settings, engine.config
    period = due_month(now, config.timezone, settings.statement_hour)
    if period is None or engine.smtp is None or not settings.enabled(RULE):
        return 0
    try:
        owned = owners(engine.budgets())
    except BudgetFileError:
        return 0
    done = state.setdefault("statements", {})
    todo = {p: people for p, people in owned.items() if _key(period.id, p) not in done}
    if not todo:
        return 0
    stmt = statement(config.data_dir, period.id, config.timezone, config.currency)
    queued = 0
    for project, people in todo.items():
        mine = stmt.only(project)
        sent = not mine.totals.empty
        if sent:
            for address in people:
                enqueue(state, compose(address, mine, project, config.dashboard_url), now, settings.outbox_expire_hours)
            queued += len(people)
            _history(state, period.id, project, people, subject(mine, project), now)
        done[_key(period.id, project)] = {"at": now.isoformat(), "emails": len(people) if sent else 0}
    _forget_old(done, period.id)
    return queued


def _forget_old(done: dict[str, StatementSent], month: str) -> None:
    """Only last month's statement can still be due: older records are dropped."""
    for key in [k for k in done if k[:7] < month]:
        del done[key]


def _history(state: SavedState, month: str, project: str, people: tuple[str, ...], title: str, now: datetime) -> None:
    state.setdefault("history", []).append(
        {
            "at": now.isoformat(),
            "key": f"{RULE}:{month}:{printable(project)}",
            "rule": RULE,
            "scope": f"project {printable(project)}",
            "kind": "fired",
            "subject": title,
            "recipients": list(people),
        }
    )
    del state["history"][:-KEEP_HISTORY]


def _money(value: object, currency: str) -> str:
    """The statement's money: the ISO code and exactly 2 decimals (`EUR 4.00`), as on the page."""
    return money(float(value), currency, style="email", cents=True)  # type: ignore[arg-type]


def _change(total: pd.Series, stmt: Statement) -> str:
    """`+12% vs 2026-09 (EUR 8.00)`, `new`, `no data for 2026-09`, `no spend in 2026-09` or
    `partial 2026-09 (the ledger covers 2026-09-25 to 2026-09-30 only)`."""
    text = change_text(total, stmt, digits=0)
    if text == NO_DATA:
        return f"no data for {stmt.previous}"
    if text == PARTIAL:
        return f"{PARTIAL} {stmt.previous} (the ledger covers {coverage_text(stmt.previous_days)} only)"
    if text.endswith("%"):
        return f"{text} vs {stmt.previous} ({_money(total['previous_spend'], str(total['currency']))})"
    return text


def subject(stmt: Statement, project: str) -> str:
    parts = [
        f"{_money(t['spend'], str(t['currency']))} ({_change(t, stmt).split(' (')[0]})"
        for _, t in stmt.totals.iterrows()
    ]
    return printable(f"[Mistral statement] {project} {stmt.month}: {'; '.join(parts)}")


def _figures(stmt: Statement) -> list[tuple[str, str]]:
    rows = [("Month", f"{stmt.month} ({stmt.timezone})")]
    if stmt.partial:
        rows.append(("Days in the ledger", f"{coverage_text(stmt.days)} only"))
    if stmt.empty_days:
        rows.append(("Days with no request in the ledger (UTC)", empty_days_text(stmt.empty_days)))
    for _, t in stmt.totals.iterrows():
        cur = str(t["currency"])
        rows += [
            (f"Spend ({cur})", _money(t["spend"], cur)),
            (f"Change from {stmt.previous}", _change(t, stmt)),
            ("Requests", f"{int(t['requests']):,}"),
            (
                "Errors",
                f"{int(t['errors']):,}" + (f" ({100 * t['error_rate']:.1f}%)" if pd.notna(t["error_rate"]) else ""),
            ),
            ("Requests without a price (not in spend)", f"{int(t['unpriced_requests']):,}"),
        ]
    rows.append(("Rate", f"{'none' if stmt.rate is None else f'{stmt.rate:.4f}'}: {stmt.rate_note}"))
    return rows


def _row(name: str, line: pd.Series, stmt: Statement) -> tuple[str, str, str, str, str]:
    unpriced = 0 < line["requests"] <= line["unpriced_requests"]
    return (
        name,
        UNPRICED if unpriced else _money(line["spend"], str(line["currency"])),
        change_text(line, stmt, digits=0),
        f"{int(line['requests']):,}",
        f"{int(line['errors']):,}",
    )


def _model_rows(stmt: Statement) -> list[tuple[str, str, str, str, str]]:
    """(model, spend, change, requests, errors), names printable; the largest MAX_LINES, then the total."""
    out = [_row(printable(str(line["model"])), line, stmt) for _, line in stmt.lines.head(MAX_LINES).iterrows()]
    return out + [_row("Total", total, stmt) for _, total in stmt.total.iterrows()]


def _text(stmt: Statement, project: str, link: str | None) -> str:
    lines = [subject(stmt, project), ""] + [f"{k}: {v}" for k, v in _figures(stmt)]
    lines += ["", f"By model (model: spend, change from {stmt.previous}, requests, errors):"]
    rows = [f"  - {m}: {s}, {c}, {r} requests, {e} errors" for m, s, c, r, e in _model_rows(stmt)]
    if len(stmt.lines) > MAX_LINES:
        rows.insert(-1, f"  ... and {len(stmt.lines) - MAX_LINES} more on the Statement page")
    lines += rows
    if link:
        lines += ["", f"Statement page (CSV download): {link}"]
    return "\n".join(lines) + "\n"


def _html(stmt: Statement, project: str, link: str | None) -> str:
    figures = "".join(f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in _figures(stmt))
    words = ("Model", f"Spend {stmt.month}", f"Change from {stmt.previous}", "Requests", "Errors")
    head = "".join(f"<th align='left'>{escape(h)}</th>" for h in words)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in _model_rows(stmt))
    parts = [
        f"<h2 style='font-size:16px'>{escape(subject(stmt, project))}</h2>",
        f"<table>{figures}</table>",
        f"<p><b>By model</b></p><table><tr>{head}</tr>{body}</table>",
    ]
    if link:
        parts.append(f'<p><a href="{escape(link, quote=True)}">Open the Statement page (CSV download)</a></p>')
    return f"<!doctype html><html><body style='font-family:sans-serif'>{''.join(parts)}</body></html>"


def compose(address: str, stmt: Statement, project: str, dashboard_url: str | None = None) -> Message:
    """The outbox fields of one statement email; its id depends on (month, project, address) only."""
    link = f"{dashboard_url.rstrip('/')}/statement" if dashboard_url else None
    return {
        "id": message_id([f"{RULE}|{stmt.month}|{project}"], address),
        "to": address,
        "subject": subject(stmt, project),
        "text": _text(stmt, project, link),
        "html": _html(stmt, project, link),
        "keys": [f"{RULE}:{stmt.month}:{printable(project)}"],
    }
