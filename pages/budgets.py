"""Budgets: spend so far, % used, burn-down with forecast, editing, alert history, outbox, test email,
and each Slack / Teams / webhook channel's delivery state with a test button.

Figures come from the same functions as the alert emails (`alerts.view_budget` over
`ledger.budget_queries`), so the page and the email never disagree. Edits are validated by
the same `parse_budget` as the hand-edited file and saved atomically; the engine reads the
file on its next run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from alerts import (
    PERIODS,
    Budget,
    BudgetFileError,
    BudgetView,
    ChannelSettings,
    DeliveryError,
    Engine,
    Limit,
    StateStore,
    channel_status,
    check_known,
    load_limits,
    parse_budget,
    parse_limit_form,
    period_of,
    save_budgets,
    save_limits,
    send_test_email,
    send_test_post,
    view_budget,
)
from foundation.config import Config, load_config
from foundation.errors import ConfigError
from ledger.budget_queries import burn_down
from ledger.queries import Filters, dimension_values
from pages._auth import audit, may
from pages._frame import ensure_routed
from pages._text import md, short

NEW = "➕ New budget"
NEW_LIMIT = "➕ New limit"
SCOPE_FIELDS = {"project": ("projects", "Projects"), "model": ("models", "Models"), "api_key": ("api_keys", "API keys")}


def load() -> tuple[Config, Engine]:
    try:
        config = load_config()
        return config, Engine.from_config(config)
    except ConfigError as exc:
        st.error(f"Config error: {md(exc, 2_000)}")
        st.stop()
        raise


@st.cache_data(ttl=60, show_spinner=False)
def known(data_dir: str, timezone: str, dim: str) -> list[str]:
    """Values seen in the last 90 days: a budget naming another one is flagged, not refused."""
    now = datetime.now(UTC)
    return dimension_values(Path(data_dir), Filters(now - timedelta(days=90), now, timezone), dim)


def unknown_names(config: Config, budget: Budget) -> list[str]:
    out = []
    for dim, (attr, label) in SCOPE_FIELDS.items():
        seen = set(known(str(config.data_dir), config.timezone, dim))
        out += [f"{label[:-1].lower()} {v}" for v in getattr(budget, attr) if v not in seen]
    return out


def chart(view: BudgetView, config: Config, now: datetime) -> go.Figure:
    """Remaining budget per day, the forecast line to the period's end, and the projected crossing."""
    budget, fc = view.budget, view.forecast
    filters = budget.filters(view.period, config.timezone)
    burn = burn_down(config.data_dir, filters, now, budget.amount)
    fig = go.Figure()
    x_now = pd.Timestamp(now).tz_convert(config.timezone)
    fig.add_scatter(x=[*burn["day"], x_now], y=[budget.amount, *burn["remaining"]],
                    mode="lines+markers", name="Remaining", line_shape="hv")  # fmt: skip
    end = pd.Timestamp(view.period.end).tz_convert(config.timezone)
    fig.add_scatter(x=[x_now, end], y=[budget.amount - fc.spent, budget.amount - fc.forecast], mode="lines",
                    name="Forecast", line={"dash": "dash"})  # fmt: skip
    fig.add_hline(y=0, line_color="red", annotation_text="100% used")
    crossing = fc.crossing(budget.amount)
    if crossing is not None:
        fig.add_vline(x=pd.Timestamp(crossing).tz_convert(config.timezone), line_dash="dot", line_color="red")
    fig.update_layout(title=f"Burn-down ({config.currency})", yaxis_title=f"Budget left ({config.currency})",
                      height=300, margin={"t": 40, "b": 10})  # fmt: skip
    return fig


def show_budget(view: BudgetView, config: Config, now: datetime) -> None:
    budget, fc, cur = view.budget, view.forecast, config.currency
    st.subheader(md(budget.name))
    who = md(", ".join(budget.recipients), 500) if budget.recipients else "nobody (add recipients)"
    st.caption(f"{md(budget.scope_label(), 500)} · {md(view.period.id)} ({md(view.period.label())}) · alerts at "
               f"{', '.join(f'{t:g}%' for t in budget.thresholds)} · to {who}")  # fmt: skip
    crossing = fc.crossing(budget.amount)
    cols = st.columns(4)
    cols[0].metric("Spent so far", f"{cur} {fc.spent:,.2f}")
    cols[1].metric("Used", f"{view.spent_pct:.1f}%")
    cols[2].metric("Forecast", f"{cur} {fc.forecast:,.2f}")
    reached = "reached" if fc.spent >= budget.amount else "not this period"
    when = f"{crossing.astimezone(view.period.start.tzinfo):%d %b %H:%M}" if crossing else reached
    cols[3].metric("Projected 100%", when)
    missing = unknown_names(config, budget)
    if missing:
        st.warning(
            f"No requests in the last 90 days for {md(', '.join(missing), 500)}: check the spelling "
            "(the budget is kept; it counts from the first matching request)."
        )
    st.plotly_chart(chart(view, config, now), key=f"chart-{budget.slug}")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def form_values(current: Budget | None) -> dict[str, Any] | None:
    """The edit form; the raw values on submit (validated by the caller)."""
    b = current or Budget("", 100.0)
    with st.form("budget_form"):
        raw: dict[str, Any] = {"name": st.text_input("Name", b.name)}
        raw["period"] = st.selectbox("Period", PERIODS, index=PERIODS.index(b.period))
        raw["amount"] = st.number_input("Amount", value=float(b.amount), step=10.0)
        for dim, (attr, label) in SCOPE_FIELDS.items():
            raw[dim] = _split(st.text_input(f"{label} (comma-separated; empty = all)", ", ".join(getattr(b, attr))))
        raw["thresholds"] = st.text_input("Thresholds (%)", ", ".join(f"{t:g}" for t in b.thresholds))
        raw["forecast"] = st.checkbox("Forecast alert", b.forecast)
        raw["recipients"] = _split(st.text_input("Recipients (emails, comma-separated)", ", ".join(b.recipients)))
        raw["channels"] = _split(st.text_input("Channels (names from [alerts.channels], comma-separated)",
                                               ", ".join(b.channels)))  # fmt: skip
        if not st.form_submit_button("Save budget", type="primary"):
            return None
    return raw


def to_budget(raw: dict[str, Any]) -> Budget:
    """Form values -> Budget through the file's own validation (empty scopes dropped)."""
    values = {k: v for k, v in raw.items() if k not in SCOPE_FIELDS or v}
    try:
        values["thresholds"] = [float(t) for t in _split(raw["thresholds"])]
    except ValueError:
        text = raw["thresholds"]
        raise BudgetFileError(f"thresholds: {text!r} is not a list of numbers; write 50, 80, 100") from None
    return parse_budget(values)


def editor(engine: Engine, budgets: list[Budget]) -> None:
    st.header("Edit budgets")
    names = [NEW, *(b.name for b in budgets)]
    picked = st.selectbox("Budget", names, key="edit_pick", format_func=short)
    current = next((b for b in budgets if b.name == picked), None)
    raw = form_values(current)
    if raw is not None:
        try:
            budget = to_budget(raw)
            known_channels(engine, budget)
            kept = [b for b in budgets if b is not current]
            save_budgets(engine.settings.budgets_file, [*kept, budget] if current is None else
                         [budget if b is current else b for b in budgets])  # fmt: skip
        except BudgetFileError as exc:
            st.error(f"Not saved: {md(exc, 500)}")
        else:
            audit(engine.config.data_dir, "budget_edit", repr(raw))
            st.success(f"Saved {md(repr(budget.name))} to {md(engine.settings.budgets_file, 300)}.")
    if current is not None and st.button(f"Delete {md(repr(current.name))}", key="delete"):
        save_budgets(engine.settings.budgets_file, [b for b in budgets if b is not current])
        audit(engine.config.data_dir, "budget_delete", current.name)
        st.success(f"Deleted {md(repr(current.name))}.")


def limits_editor(path: Path) -> None:
    """The gateway's limits and the key labels, saved to the budgets file (the gateway reloads it)."""
    st.header("Gateway limits and key labels")
    limits, labels = load_limits(path)
    if limits:
        st.dataframe(pd.DataFrame([limit_row(lim) for lim in limits]), hide_index=True, key="limits_table")
    else:
        st.caption("No limits: the gateway forwards everything (docs/gateway.md, Limits).")
    picked = st.selectbox("Limit", [NEW_LIMIT, *(lim.name for lim in limits)], key="limit_pick", format_func=short)
    current = next((lim for lim in limits if lim.name == picked), None)
    raw = limit_form(current)
    if raw is not None:
        try:
            limit = parse_limit_form(raw, labels)
            kept = [lim for lim in limits if lim is not current]
            save_limits(path, [*kept, limit] if current is None else [limit if x is current else x for x in limits],
                        labels)  # fmt: skip
        except (BudgetFileError, ValueError) as exc:
            st.error(f"Not saved: {md(exc, 500)}")
        else:
            st.success(f"Saved limit {md(repr(limit.name))}.")
    if current is not None and st.button(f"Delete limit {md(repr(current.name))}", key="delete_limit"):
        save_limits(path, [lim for lim in limits if lim is not current], labels)
        st.success(f"Deleted limit {md(repr(current.name))}.")
    labels_editor(path, limits, labels)


def limit_row(limit: Limit) -> dict[str, Any]:
    return {"name": limit.name, "scope": limit.scope_label(), "spend": limit.amount, "period": limit.period,
            "requests/min": limit.requests_per_minute, "tokens/min": limit.tokens_per_minute,
            "kind": "hard" if limit.hard else "soft"}  # fmt: skip


def limit_form(current: Limit | None) -> dict[str, Any] | None:
    """The limit form; the raw values on submit (0 or empty = not set), validated by the caller."""
    lim = current or Limit("")
    with st.form("limit_form"):
        raw: dict[str, Any] = {"name": st.text_input("Limit name", lim.name)}
        for key, label in (("project", "Project"), ("api_key", "API key (label or fingerprint)"), ("model", "Model")):
            raw[key] = st.text_input(f"{label} (empty = any)", getattr(lim, key) or "").strip()
        raw["period"] = st.selectbox("Spend period", PERIODS[::-1], index=PERIODS[::-1].index(lim.period))
        raw["amount"] = st.number_input(
            "Spend limit per period (0 = none)", value=float(lim.amount or 0), min_value=0.0
        )
        raw["requests_per_minute"] = int(st.number_input("Requests per minute (0 = none)", min_value=0,
                                                         value=lim.requests_per_minute or 0))  # fmt: skip
        raw["tokens_per_minute"] = int(st.number_input("Tokens per minute (0 = none)", min_value=0,
                                                       value=lim.tokens_per_minute or 0))  # fmt: skip
        raw["hard"] = st.checkbox(
            "Hard (refuse with 429); else soft (a warning header, and an email for a spend limit)", lim.hard
        )
        raw["timezone"] = st.text_input("Time zone (empty = the gateway's limits_timezone)", lim.timezone or "").strip()
        if not st.form_submit_button("Save limit", type="primary"):
            return None
    return {k: (None if v == 0 and k in ("amount", "requests_per_minute", "tokens_per_minute") else v)
            for k, v in raw.items()}  # fmt: skip


def labels_editor(path: Path, limits: list[Limit], labels: dict[str, str]) -> None:
    """Friendly names for key fingerprints; an empty label removes one."""
    st.header("Key labels")
    if labels:
        st.dataframe(pd.DataFrame({"fingerprint": list(labels), "label": list(labels.values())}), hide_index=True,
                     key="labels_table")  # fmt: skip
    with st.form("label_form"):
        key_id = st.text_input("Key fingerprint (key-... or key_..., as the dashboard shows it)").strip()
        label = st.text_input("Label (empty = remove)").strip()
        if not st.form_submit_button("Save label"):
            return
    changed = {k: v for k, v in labels.items() if k != key_id} | ({key_id: label} if label else {})
    try:
        save_limits(path, limits, changed)
    except BudgetFileError as exc:
        st.error(f"Not saved: {md(exc, 500)}")
    else:
        st.success(f"Saved the label of {md(key_id)}.")


def history(engine: Engine) -> None:
    state = StateStore(engine.config.data_dir).read()
    st.header("Alert history")
    events = pd.DataFrame(list(reversed(state["history"])))
    if events.empty:
        st.caption("No alerts yet.")
    else:
        events["recipients"] = events["recipients"].map(", ".join)
        st.dataframe(events[["at", "kind", "rule", "scope", "subject", "recipients"]], hide_index=True)
    st.header("Outbox")
    outbox = pd.DataFrame(list(reversed(state["outbox"])))
    if outbox.empty:
        st.caption("No emails yet.")
        return
    failed = outbox[outbox["status"] == "failed"]
    if len(failed):
        st.error(f"{len(failed)} email(s) expired undelivered. Last error: {md(failed['last_error'].iloc[0], 300)}")
    pending = outbox[outbox["status"] == "pending"]
    if len(pending):
        last = md(pending["last_error"].iloc[0], 300)
        st.warning(f"{len(pending)} email(s) waiting to be retried. Last error: {last}")
    columns = ["created_at", "status", "to", "subject", "attempts", "last_error", "sent_at"]
    st.dataframe(outbox[columns], hide_index=True)


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
    if st.button("Send test email", key="send_test"):
        audit(engine.config.data_dir, "test_email", str(to))
        try:
            st.success(md(send_test_email(engine.smtp, str(to), allowed), 300))
        except DeliveryError as exc:
            st.error(f"Not sent: {md(exc, 300)}")
        except ConfigError as exc:
            st.error(f"Not sent: {md(exc, 300)}")


def known_channels(engine: Engine, budget: Budget) -> None:
    """A budget may only name configured channels (BudgetFileError naming the missing one)."""
    try:
        check_known(budget.channels, engine.settings.channels, "channels")
    except ConfigError as exc:
        raise BudgetFileError(str(exc)) from None


def channels_section(engine: Engine) -> None:
    """Each channel's delivery state, and a test button per channel.

    Editors and admins only (main() checks the role; with no sign-in configured, anyone who can
    open the dashboard can post a test message: nothing typed in, the configured URL).
    """
    st.header("Channels")
    channels = engine.settings.channels
    if not channels:
        st.caption("No Slack, Teams or webhook channels: add [alerts.channels.<name>] to the config "
                   "(see docs/alerts.md).")  # fmt: skip
        return
    rows = channel_status(StateStore(engine.config.data_dir).read(), channels, datetime.now(UTC))
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="channel_states")
    for row in rows:
        if row["state"] == "failing":
            st.warning(f"{row['kind']} channel {md(row['channel'])}: {row['pending']} message(s) waiting. "
                       f"Last error: {md(row['last error'], 300)}")  # fmt: skip
    for name, channel in sorted(channels.items()):
        channel_test_button(name, channel, engine.config.data_dir)


def channel_test_button(name: str, channel: ChannelSettings, data_dir: Path) -> None:
    if st.button(f"Send a test message to the {md(channel.label, 200)}", key=f"test_channel_{name}"):
        audit(data_dir, "test_channel", name)
        try:
            st.success(md(send_test_post(channel, datetime.now(UTC)), 300))
        except DeliveryError as exc:
            st.error(f"Not sent: {md(exc, 300)}")


def main() -> None:
    ensure_routed()
    st.title("Budgets")
    config, engine = load()
    now = datetime.now(UTC)
    try:
        budgets, editable = engine.budgets(), True
    except BudgetFileError as exc:
        st.error(f"The budgets file is invalid, so no budget is checked until it is fixed: {md(exc, 500)}")
        st.info(f"Editing is off until {md(engine.settings.budgets_file, 300)} is fixed by hand, so a save cannot "
                "overwrite the budgets it holds.")  # fmt: skip
        budgets, editable = [], False
    if not budgets and editable:
        st.info(f"No budgets yet. Add one below; they are saved to {md(engine.settings.budgets_file, 300)}.")
    for budget in budgets:
        show_budget(view_budget(config.data_dir, budget, period_of(budget.period, now, config.timezone),
                                config.timezone, config.currency, now), config, now)  # fmt: skip
    if editable and may("editor"):
        editor(engine, budgets)
        limits_editor(engine.settings.budgets_file)
    history(engine)
    if may("editor"):
        test_email(engine, budgets)
        channels_section(engine)


main()
