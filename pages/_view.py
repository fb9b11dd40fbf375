"""The sidebar's widgets <-> the URL: seeded from the link once per session, written back every run.

Why the URL: a manager pastes a link and the colleague sees the same view. Reading and
writing go through `foundation.view.ViewState`, the same state the alert emails link to;
defaults are left out of the URL, so the plain URL stays plain.
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from foundation.view import DIMENSIONS, ViewState

SEEDED = "_seeded"
RANGE, ZONE, CUSTOM = "f_range", "f_tz", "f_custom"


def widget(param: str) -> str:
    """The session-state key of a dimension's multiselect (`f_model`)."""
    return f"f_{param}"


def url_query() -> dict[str, list[str]]:
    """The page's query string, every value of every name."""
    return {name: st.query_params.get_all(name) for name in st.query_params.keys()}


def seed_from_url(default_tz: str, today: date) -> None:
    """Set the widgets from the link, once per session (later runs keep what the person picked)."""
    state = st.session_state
    if state.get(SEEDED):
        return
    view = ViewState.from_query(url_query())
    state[RANGE] = view.preset
    state[CUSTOM] = (view.first or today - timedelta(days=6), view.last or today)
    state[ZONE] = view.timezone or default_tz
    for param, field in DIMENSIONS.items():
        state[widget(param)] = list(getattr(view, field))
    state[SEEDED] = True


def chosen(default_tz: str, first: date, last: date) -> ViewState:
    """What the widgets show now (the custom range as resolved to `first`..`last`)."""
    state = st.session_state
    custom = state[RANGE] == "custom"
    return ViewState(
        preset=state[RANGE],
        first=first if custom else None,
        last=last if custom else None,
        timezone=None if state[ZONE] == default_tz else state[ZONE],
        **{field: tuple(state[widget(param)]) for param, field in DIMENSIONS.items()},
    )


def write_url(view: ViewState) -> None:
    """Replace the query string when it differs (an unchanged URL is left alone: no history entry)."""
    wanted = view.to_query()
    if url_query() != wanted:
        st.query_params.from_dict(wanted)
