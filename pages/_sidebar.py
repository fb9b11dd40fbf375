"""The shared sidebar: date range, time zone and dimension filters, turned into the page's Filters."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import streamlit as st

from foundation.periods import first_day
from foundation.view import DIMENSIONS
from ledger.queries import Filters

from . import _data as data
from ._config import Settings
from ._keys import labels
from ._text import short
from ._view import CUSTOM, RANGE, ZONE, chosen, seed_from_url, widget, write_url

PRESETS = {
    "today": "Today",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "mtd": "Month to date",
    "last_month": "Last month",
    "custom": "Custom range",
}
DIM_LABELS = {"project": "Project", "model": "Model", "key": "API key", "source": "Source"}
DIM_NAMES = {"project": "project", "model": "model", "key": "api_key", "source": "source"}
CHOICES = 500
"""Sidebar choices per dimension: the largest by spend (a link may name any other; Explore lists all)."""
LAST_CUSTOM = "_last_custom"


def preset_dates(preset: str, today: date, custom: tuple[date, date]) -> tuple[date, date]:
    """First and last local day (inclusive) of a preset."""
    if preset == "today":
        return today, today
    if preset in ("7d", "30d"):
        return today - timedelta(days=int(preset[:-1]) - 1), today
    if preset == "mtd":
        return first_day("month", today), today
    if preset == "last_month":
        last = first_day("month", today) - timedelta(days=1)
        return first_day("month", last), last
    first, last = custom
    return min(first, last), max(first, last)


@functools.cache
def _zones(default_tz: str) -> list[str]:
    """Every zone name, once per process: listing them walks the tz database (30 ms a rerun)."""
    return sorted(available_timezones() | {"UTC", default_tz})


def _window(default_tz: str) -> tuple[date, date, str]:
    bar, state = st.sidebar, st.session_state
    bar.selectbox("Date range", list(PRESETS), format_func=PRESETS.__getitem__, key=RANGE)
    zone: str = bar.selectbox("Time zone", _zones(default_tz), key=ZONE)
    today = datetime.now(ZoneInfo(zone)).date()
    if state[RANGE] == "custom":
        picked = bar.date_input("From - to", key=CUSTOM, max_value=today + timedelta(days=1))
        if isinstance(picked, tuple) and len(picked) == 2:
            state[LAST_CUSTOM] = picked
    first, last = preset_dates(state[RANGE], today, state.get(LAST_CUSTOM, state[CUSTOM]))
    return first, last, zone


def sidebar(defaults: Settings, scope: tuple[str, ...] | None = None) -> tuple[Filters, str]:
    """Draw the shared filters and return them (with a label for the range), within `scope`."""
    seed_from_url(defaults.timezone, datetime.now(ZoneInfo(defaults.timezone)).date())
    first, last, zone = _window(defaults.timezone)
    window = Filters.for_dates(first, last, zone, scope=scope)
    names = labels(defaults.data_dir)
    picked: dict[str, tuple[str, ...]] = {}
    for param, field in DIMENSIONS.items():
        found = data.dimension_values(defaults.data_dir, window, dim=DIM_NAMES[param], limit=CHOICES)
        options = sorted(set(found) | set(st.session_state[widget(param)]))
        fmt = (lambda v: short(names.get(v, v))) if param == "key" else short
        shown = st.sidebar.multiselect(
            DIM_LABELS[param], options, key=widget(param), placeholder="All", format_func=fmt
        )
        picked[field] = tuple(shown)
    write_url(chosen(defaults.timezone, first, last))
    label = f"{first:%d %b %Y}" if first == last else f"{first:%d %b} – {last:%d %b %Y}"
    return Filters.for_dates(first, last, zone, scope=scope, **picked), label
