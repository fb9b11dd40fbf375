"""Delivery checks on the Budgets page: a test email, and each chat/webhook channel's state and test button.

Editors and admins only (budgets.py checks the role; with no sign-in configured, anyone who
can open the dashboard can send a test: nothing typed in, only configured addresses and URLs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from alerts import (
    Budget,
    ChannelSettings,
    DeliveryError,
    Engine,
    StateStore,
    channel_status,
    send_test_email,
    send_test_post,
)
from foundation.errors import ConfigError

from ._auth import audited
from ._text import md


def test_email(engine: Engine, budgets: list[Budget]) -> None:
    """Only to a configured recipient, one at a time (send_test_email checks it again)."""
    st.header("Test email")
    if engine.smtp is None:
        st.info("No [smtp] section in the config: add host, port, security and sender (see docs/alerts.md).")
        return
    allowed = engine.recipients(budgets)
    if not allowed:
        st.info("No recipients configured yet: add one to a budget (or to [alerts] recipients) first.")
        return
    to = st.selectbox("Send to (a configured recipient)", allowed, key="test_to")
    if st.button("Send test email", key="send_test") and audited(engine.config.data_dir, "test_email", str(to)):
        try:
            st.success(md(send_test_email(engine.smtp, str(to), allowed), 300))
        except (DeliveryError, ConfigError) as exc:
            st.error(f"Not sent: {md(exc, 300)}")


def channels_section(engine: Engine) -> None:
    """Each channel's delivery state, and a test button per channel."""
    st.header("Channels")
    channels = engine.settings.channels
    if not channels:
        st.caption(
            "No Slack, Teams or webhook channels: add [alerts.channels.<name>] to the config (see docs/alerts.md)."
        )
        return
    rows = channel_status(StateStore(engine.config.data_dir).read(), channels, datetime.now(UTC))
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="channel_states")
    for row in rows:
        if row["state"] == "failing":
            st.warning(
                f"{row['kind']} channel {md(row['channel'])}: {row['pending']} message(s) waiting. "
                f"Last error: {md(row['last error'], 300)}"
            )
    for name, channel in sorted(channels.items()):
        channel_test_button(name, channel, engine.config.data_dir)


def channel_test_button(name: str, channel: ChannelSettings, data_dir: Path) -> None:
    if st.button(f"Send a test message to the {md(channel.label, 200)}", key=f"test_channel_{name}") and audited(
        data_dir, "test_channel", name
    ):
        try:
            st.success(md(send_test_post(channel, datetime.now(UTC)), 300))
        except DeliveryError as exc:
            st.error(f"Not sent: {md(exc, 300)}")
