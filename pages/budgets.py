"""Budgets: spend so far, % used, burn-down with forecast, editing, alert history, outbox, test email,
and each Slack / Teams / webhook channel's delivery state with a test button.

Figures come from the same functions as the alert emails (`alerts.view_budget` over
`ledger.queries.budgets`), so the page and the email never disagree. Edits are validated by
the same `parse_budget` as the hand-edited file and saved atomically; the engine reads the
file on its next run. The sections live in `_budget_view`, `_budget_form`, `_limits_section`,
`_alert_log` and `_budget_channels`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from alerts import Budget, BudgetFileError, Engine, check_known, save_budgets
from foundation.config import Config, load_config
from foundation.errors import ConfigError
from pages import _data as data
from pages._alert_log import alert_log
from pages._auth import audited, may
from pages._budget_channels import channels_section, test_email
from pages._budget_form import budget_form
from pages._budget_save import loaded_version, remember_saved
from pages._budget_view import Where, show_budget
from pages._limits_section import limits_editor
from pages._routing import ensure_routed
from pages._text import md, short
from pages._ui import replaced

NEW = "➕ New budget"


def load() -> tuple[Config, Engine]:
    try:
        config = load_config()
        return config, Engine.from_config(config)
    except ConfigError as exc:
        st.error(f"Config error: {md(exc, 2_000)}")
        st.stop()
        raise


def known_channels(engine: Engine, budget: Budget) -> None:
    """A budget may only name configured channels (BudgetFileError naming the missing one)."""
    try:
        check_known(budget.channels, engine.settings.channels, "channels")
    except ConfigError as exc:
        raise BudgetFileError(str(exc)) from None


def editor(engine: Engine, budgets: list[Budget], loaded: str) -> None:
    """`loaded`: the budgets file's version when these forms were drawn (a save of a changed file is refused)."""
    st.header("Edit budgets")
    path = engine.settings.budgets_file
    names = [NEW, *(b.name for b in budgets)]
    picked = st.selectbox("Budget", names, key="edit_pick", format_func=short)
    current = next((b for b in budgets if b.name == picked), None)
    form = budget_form(current)
    if form is not None:
        try:
            budget = form.to_budget()
            known_channels(engine, budget)
            if audited(engine.config.data_dir, "budget_edit", repr(form.fields())):
                save_budgets(path, replaced(budgets, current, budget), loaded)
                remember_saved(path)
                st.success(f"Saved {md(repr(budget.name))} to {md(path, 300)}.")
        except BudgetFileError as exc:
            st.error(f"Not saved: {md(exc, 500)}")
    if current is not None and st.button(f"Delete {md(repr(current.name))}", key="delete"):
        if audited(engine.config.data_dir, "budget_delete", current.name):
            try:
                save_budgets(path, [b for b in budgets if b is not current], loaded)
            except BudgetFileError as exc:
                st.error(f"Not deleted: {md(exc, 500)}")
                return
            remember_saved(path)
            st.success(f"Deleted {md(repr(current.name))}.")


def main() -> None:
    ensure_routed()
    st.title("Budgets")
    config, engine = load()
    where = Where(config.data_dir, config.timezone, config.currency)
    now = datetime.now(UTC)
    loaded = loaded_version(engine.settings.budgets_file)  # before the read: a change in between refuses a save
    try:
        budgets, editable = engine.budgets(), True
    except BudgetFileError as exc:
        st.error(f"The budgets file is invalid, so no budget is checked until it is fixed: {md(exc, 500)}")
        st.info(
            f"Editing is off until {md(engine.settings.budgets_file, 300)} is fixed by hand, so a save cannot "
            "overwrite the budgets it holds."
        )
        budgets, editable = [], False
    if not budgets and editable:
        st.info(f"No budgets yet. Add one below; they are saved to {md(engine.settings.budgets_file, 300)}.")
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)  # to the next minute: reruns share it
    for budget in budgets:
        view = data.budget_view(config.data_dir, budget, config.timezone, config.currency, minute)
        show_budget(view, where, now, minute)
    if editable and may("editor"):
        editor(engine, budgets, loaded)
        limits_editor(engine.settings.budgets_file, config.data_dir, loaded)
    alert_log(config.data_dir)
    if may("editor"):
        test_email(engine, budgets)
        channels_section(engine)


main()
