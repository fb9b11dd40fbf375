"""The Budgets page's record of what was sent: alert history and the email/post outbox.

Why typed rows (`alerts.AlertState`): the page reads the state file the engine writes; a
renamed field is then a type error here, not a KeyError in front of a manager.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd
import streamlit as st

from alerts import HistoryRow, OutboxRow

from . import _data as data
from ._text import md

HISTORY_COLUMNS = ["at", "kind", "rule", "scope", "subject", "recipients"]
OUTBOX_COLUMNS = ["created_at", "status", "to", "subject", "attempts", "last_error", "sent_at"]


def alert_log(data_dir: Path) -> None:
    """Alert history then outbox, newest first, with the failures and retries called out."""
    state = data.alert_state(data_dir)
    st.header("Alert history")
    history_table(state.history)
    st.header("Outbox")
    outbox_table(state.outbox)


def history_table(rows: tuple[HistoryRow, ...]) -> None:
    if not rows:
        st.caption("No alerts yet.")
        return
    events = pd.DataFrame([asdict(r) for r in reversed(rows)])
    events["recipients"] = events["recipients"].map(", ".join)
    st.dataframe(events[HISTORY_COLUMNS], hide_index=True)


def outbox_table(rows: tuple[OutboxRow, ...]) -> None:
    if not rows:
        st.caption("No emails yet.")
        return
    newest = list(reversed(rows))
    failed = [m for m in newest if m.status == "failed"]
    if failed:
        st.error(f"{len(failed)} email(s) expired undelivered. Last error: {md(failed[0].last_error, 300)}")
    pending = [m for m in newest if m.status == "pending"]
    if pending:
        st.warning(f"{len(pending)} email(s) waiting to be retried. Last error: {md(pending[0].last_error, 300)}")
    st.dataframe(pd.DataFrame([asdict(m) for m in newest])[OUTBOX_COLUMNS], hide_index=True)
