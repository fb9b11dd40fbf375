"""The gateway's limits and the key labels, edited on the Budgets page and saved to the budgets file.

Why here and not in the gateway: the limits live beside the budgets (one file, one editor);
the gateway reloads the file, and `alerts.parse_limit_form` validates with the gateway's own parser.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from alerts import NO_PROJECT, PERIODS, BudgetFileError, Limit, load_limits, parse_limit_form, save_limits

from ._auth import audited
from ._budget_save import remember_saved
from ._text import md, short
from ._ui import replaced

NEW_LIMIT = "➕ New limit"
UNSET_WHEN_ZERO = ("amount", "requests_per_minute", "tokens_per_minute")
FormValue = str | float | int | bool | None
SCOPE_HELP = {
    "project": f"{NO_PROJECT} = requests without a project, or with one no limit, key binding or known list "
    "names (docs/gateway.md, Limits). Names are compared normalised: Search, SEARCH and search. are one.",
    "model": "An alias and the model it means on the request's date share the limit; case does not matter.",
}


def limits_editor(path: Path, data_dir: Path, loaded: str) -> None:
    """The limits table, a form to add or change one, a delete button, then the key labels; every change is
    written to the audit log under `data_dir` first, and not made when that fails.

    `loaded`: the file's version when this page was drawn; a save of a file changed since is refused."""
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
            if audited(data_dir, "limit_edit", repr(raw)):
                save_limits(path, replaced(limits, current, limit), labels, loaded)
                remember_saved(path)
                st.success(f"Saved limit {md(repr(limit.name))}.")
        except (BudgetFileError, ValueError) as exc:
            st.error(f"Not saved: {md(exc, 500)}")
    if current is not None and st.button(f"Delete limit {md(repr(current.name))}", key="delete_limit"):
        if audited(data_dir, "limit_delete", current.name):
            try:
                save_limits(path, [lim for lim in limits if lim is not current], labels, loaded)
            except BudgetFileError as exc:
                st.error(f"Not deleted: {md(exc, 500)}")
            else:
                remember_saved(path)
                st.success(f"Deleted limit {md(repr(current.name))}.")
    labels_editor(path, limits, labels, data_dir, loaded)


def limit_row(limit: Limit) -> dict[str, FormValue]:
    return {
        "name": limit.name,
        "scope": limit.scope_label(),
        "spend": limit.amount,
        "period": limit.period,
        "requests/min": limit.requests_per_minute,
        "tokens/min": limit.tokens_per_minute,
        "kind": "hard" if limit.hard else "soft",
    }


def limit_form(current: Limit | None) -> dict[str, FormValue] | None:
    """The limit form; the raw values on submit (0 or empty = not set), validated by the caller."""
    lim = current or Limit(name="")
    with st.form("limit_form"):
        raw: dict[str, FormValue] = {"name": st.text_input("Limit name", lim.name)}
        for key, label in (("project", "Project"), ("api_key", "API key (label or fingerprint)"), ("model", "Model")):
            raw[key] = st.text_input(
                f"{label} (empty = any)", getattr(lim, key) or "", help=SCOPE_HELP.get(key)
            ).strip()
        raw["period"] = st.selectbox("Spend period", PERIODS[::-1], index=PERIODS[::-1].index(lim.period))
        raw["amount"] = st.number_input(
            "Spend limit per period (0 = none)", value=float(lim.amount or 0), min_value=0.0
        )
        raw["requests_per_minute"] = int(
            st.number_input("Requests per minute (0 = none)", min_value=0, value=lim.requests_per_minute or 0)
        )
        raw["tokens_per_minute"] = int(
            st.number_input("Tokens per minute (0 = none)", min_value=0, value=lim.tokens_per_minute or 0)
        )
        raw["hard"] = st.checkbox(
            "Hard (refuse with 429); else soft (a warning header, and an email for a spend limit)", lim.hard
        )
        raw["timezone"] = st.text_input("Time zone (empty = the gateway's limits_timezone)", lim.timezone or "").strip()
        if not st.form_submit_button("Save limit", type="primary"):
            return None
    return {k: (None if v == 0 and k in UNSET_WHEN_ZERO else v) for k, v in raw.items()}


def labels_editor(path: Path, limits: list[Limit], labels: dict[str, str], data_dir: Path, loaded: str) -> None:
    """Friendly names for key fingerprints; an empty label removes one."""
    st.header("Key labels")
    if labels:
        st.dataframe(
            pd.DataFrame({"fingerprint": list(labels), "label": list(labels.values())}),
            hide_index=True,
            key="labels_table",
        )
    with st.form("label_form"):
        key_id = st.text_input("Key fingerprint (key-... or key_..., as the dashboard shows it)").strip()
        label = st.text_input("Label (empty = remove)").strip()
        if not st.form_submit_button("Save label"):
            return
    changed = {k: v for k, v in labels.items() if k != key_id} | ({key_id: label} if label else {})
    if not audited(data_dir, "key_label", f"{key_id} = {label!r}"):
        return
    try:
        save_limits(path, limits, changed, loaded)
    except BudgetFileError as exc:
        st.error(f"Not saved: {md(exc, 500)}")
    else:
        remember_saved(path)
        st.success(f"Saved the label of {md(key_id)}.")
