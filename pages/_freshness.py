"""The line under every page's title: how fresh the data is, and which collector source is stale.

Why on every page: a figure without its age invites the wrong conclusion ("spend fell to
zero" when the collector stopped an hour ago).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import streamlit as st

from ledger.queries import SourceStatus

from . import _data as data
from ._text import md


def ago(moment: datetime, now: datetime | None = None) -> str:
    """`40 s ago`, `12 min ago`, `3 h ago`."""
    seconds = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    return f"{seconds // 60} min ago" if seconds < 7200 else f"{seconds // 3600} h ago"


def freshness_line(data_dir: Path, timezone: str, currency: str, simulated: bool) -> None:
    """'Data up to 16:52, collected 40 s ago', a warning per stale source, the simulator badge."""
    status = data.freshness(data_dir)
    tz = ZoneInfo(timezone)
    newest = f"data up to {status.data_up_to.astimezone(tz):%d %b %H:%M}" if status.data_up_to else "no rows yet"
    collected = f"collected {ago(status.collected_at)}" if status.collected_at else "no collector status yet"
    active = f" · active collector {md(status.active_collector, 80)}" if status.active_collector else ""
    cols = st.columns([5, 1])
    cols[0].caption(f"{newest} ({timezone}), {collected} · money in {currency}{active}")
    if simulated:
        cols[1].badge("Simulated data", icon=":material/science:", color="orange")
    for source in status.sources:
        if source.stale:
            stale_warning(source)


def stale_warning(source: SourceStatus) -> None:
    last = ago(source.last_success) if source.last_success else "never"
    error = f" Last error: {md(source.last_error, 300)}" if source.last_error else ""
    st.warning(
        f"Collector source '{md(source.name)}' is stale: last successful poll {last} (polls every "
        f"{source.poll_seconds} s). Check data/logs/collector.log, or start it with "
        f"`python -m collector`.{error}",
        icon=":material/schedule:",
    )
