"""The frame every page shares: config, sidebar filters mirrored in the URL, freshness line.

Why the URL: a manager pastes a link and the colleague sees the same view. Widgets are
seeded from `st.query_params` once per session, and every run writes the current choices
back (defaults left out, so the plain URL stays plain).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from ledger import list_days
from ledger.queries import Filters, Freshness, freshness

from ._keys import labels
from ._text import md, short
from ._ui import TTL_SECONDS, colours, fetch

PRESETS = {
    "today": "Today",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "mtd": "Month to date",
    "last_month": "Last month",
    "custom": "Custom range",
}
DEFAULT_PRESET = "30d"
DIM_PARAMS = {"project": "projects", "model": "models", "key": "api_keys", "source": "sources"}
DIM_LABELS = {"project": "Project", "model": "Model", "key": "API key", "source": "Source"}
DIM_NAMES = {"project": "project", "model": "model", "key": "api_key", "source": "source"}
CONTEXT_KEY = "_dashboard_context"
CHOICES = 500
"""Sidebar choices per dimension: the largest by spend (a link may name any other; Explore lists all)."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    timezone: str
    currency: str


@dataclass(frozen=True)
class Context:
    """What a page needs: where the ledger is, the slice, the currency and model colours."""

    data_dir: Path
    filters: Filters
    currency: str
    colours: dict[str, str]
    range_label: str


def settings() -> Settings:
    """The collector's config (`$MONITOR_CONFIG`, else defaults); stops the app with one line on error."""
    from foundation.config import load_config
    from foundation.errors import ConfigError

    try:
        config = load_config()
    except ConfigError as exc:
        st.error(f"Config error: {md(exc, 2_000)}")
        st.stop()
    return Settings(Path(config.data_dir), config.timezone, config.currency)


def preset_dates(preset: str, today: date, custom: tuple[date, date]) -> tuple[date, date]:
    """First and last local day (inclusive) of a preset."""
    if preset == "today":
        return today, today
    if preset in ("7d", "30d"):
        return today - timedelta(days=int(preset[:-1]) - 1), today
    if preset == "mtd":
        return today.replace(day=1), today
    if preset == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    first, last = custom
    return min(first, last), max(first, last)


def _seed_from_url(default_tz: str, today: date) -> None:
    if st.session_state.get("_seeded"):
        return
    params = st.query_params
    preset = params.get("range", DEFAULT_PRESET)
    st.session_state.f_range = preset if preset in PRESETS else DEFAULT_PRESET
    st.session_state.f_custom = (_day(params.get("from"), today - timedelta(days=6)), _day(params.get("to"), today))
    zone = params.get("tz", default_tz)
    st.session_state.f_tz = zone if zone in available_timezones() or zone == "UTC" else default_tz
    for param in DIM_PARAMS:
        st.session_state[f"f_{param}"] = params.get_all(param)
    st.session_state._seeded = True


def _day(text: str | None, fallback: date) -> date:
    try:
        return date.fromisoformat(text) if text else fallback
    except ValueError:
        return fallback


def _write_url(default_tz: str, first: date, last: date) -> None:
    state = st.session_state
    wanted: dict[str, str | list[str]] = {}
    if state.f_range != DEFAULT_PRESET:
        wanted["range"] = state.f_range
    if state.f_range == "custom":
        wanted["from"], wanted["to"] = first.isoformat(), last.isoformat()
    if state.f_tz != default_tz:
        wanted["tz"] = state.f_tz
    for param in DIM_PARAMS:
        if state[f"f_{param}"]:
            wanted[param] = list(state[f"f_{param}"])
    current = {
        k: (st.query_params.get_all(k) if isinstance(v, list) else st.query_params.get(k)) for k, v in wanted.items()
    }
    if current != wanted or set(st.query_params.keys()) != set(wanted):
        st.query_params.from_dict(wanted)


def _zones(default_tz: str) -> list[str]:
    return sorted(available_timezones() | {"UTC", default_tz})


def _window(default_tz: str) -> tuple[date, date, str]:
    bar = st.sidebar
    bar.selectbox("Date range", list(PRESETS), format_func=PRESETS.__getitem__, key="f_range")
    zone = bar.selectbox("Time zone", _zones(default_tz), key="f_tz")
    today = datetime.now(ZoneInfo(zone)).date()
    if st.session_state.f_range == "custom":
        picked = bar.date_input("From - to", key="f_custom", max_value=today + timedelta(days=1))
        if isinstance(picked, tuple) and len(picked) == 2:
            st.session_state._last_custom = picked
    custom = st.session_state.get("_last_custom", st.session_state.f_custom)
    first, last = preset_dates(st.session_state.f_range, today, custom)
    return first, last, zone


def sidebar(defaults: Settings, scope: tuple[str, ...] | None = None) -> tuple[Filters, str]:
    """Draw the shared filters and return them (with a label for the range), within `scope`."""
    today = datetime.now(ZoneInfo(defaults.timezone)).date()
    _seed_from_url(defaults.timezone, today)
    first, last, zone = _window(defaults.timezone)
    window = Filters.for_dates(first, last, zone, scope=scope)
    chosen: dict[str, tuple[str, ...]] = {}
    names = labels(str(defaults.data_dir))
    for param, field in DIM_PARAMS.items():
        options = fetch("dimension_values", defaults.data_dir, window, dim=DIM_NAMES[param], limit=CHOICES)
        options = sorted(set(options) | set(st.session_state[f"f_{param}"]))
        picked = st.sidebar.multiselect(
            DIM_LABELS[param],
            options,
            key=f"f_{param}",
            placeholder="All",
            format_func=(lambda v: short(names.get(v, v))) if param == "key" else short,
        )
        chosen[field] = tuple(picked)
    _write_url(defaults.timezone, first, last)
    label = f"{first:%d %b %Y}" if first == last else f"{first:%d %b} – {last:%d %b %Y}"
    return Filters.for_dates(first, last, zone, scope=scope, **chosen), label


@st.cache_data(ttl=10, show_spinner=False)
def _freshness(data_dir: str) -> Freshness:
    return freshness(Path(data_dir))


def _ago(moment: datetime) -> str:
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    return f"{seconds // 60} min ago" if seconds < 7200 else f"{seconds // 3600} h ago"


def freshness_line(ctx: Context, simulated: bool) -> None:
    """'Data up to 16:52, collected 40 s ago', a warning when the collector is stale, the simulator badge."""
    status = _freshness(str(ctx.data_dir))
    tz = ctx.filters.tz
    newest = f"data up to {status.data_up_to.astimezone(tz):%d %b %H:%M}" if status.data_up_to else "no rows yet"
    collected = f"collected {_ago(status.collected_at)}" if status.collected_at else "no collector status yet"
    cols = st.columns([5, 1])
    cols[0].caption(f"{newest} ({ctx.filters.timezone}), {collected} · money in {ctx.currency}")
    if simulated:
        cols[1].badge("Simulated data", icon=":material/science:", color="orange")
    for source in status.sources:
        if source.stale:
            last = _ago(source.last_success) if source.last_success else "never"
            error = f" Last error: {md(source.last_error, 300)}" if source.last_error else ""
            st.warning(
                f"Collector source '{md(source.name)}' is stale: last successful poll {last} (polls every "
                f"{source.poll_seconds} s). Check data/logs/collector.log, or start it with "
                f"`python -m collector`.{error}",
                icon=":material/schedule:",
            )


def no_ledger(data_dir: Path) -> None:
    st.title("Mistral usage monitor")
    st.info(
        f"No ledger yet in {md(data_dir, 300)}. Start the simulator, collector and dashboard together with "
        "`./scripts/demo.sh`, or point the collector at your sources with "
        "`python -m collector --config your.toml` (see collector/example.toml). "
        "The dashboard picks the data up on its own within a minute.",
        icon=":material/database:",
    )


def draw_frame(scope: tuple[str, ...] | None = None) -> Context | None:
    """Sidebar, freshness line and badge; None (after an empty state) when there is no ledger.

    `scope`: the projects the signed-in person may see (None = all); every page's Filters carry it.
    """
    defaults = settings()
    if not list_days(defaults.data_dir):
        no_ledger(defaults.data_dir)
        return None
    filters, label = sidebar(defaults, scope)
    models = fetch("dimension_values", defaults.data_dir, filters.unfiltered(), dim="model")
    ctx = Context(defaults.data_dir, filters, defaults.currency, colours(models), label)
    summary = fetch("spend_summary", defaults.data_dir, filters)
    freshness_line(ctx, simulated=summary.simulated_rows > 0)
    st.session_state[CONTEXT_KEY] = ctx
    return ctx


def ensure_routed() -> None:
    """Make a page opened by a deep link run through app.py.

    Until some session has run app.py's `st.navigation`, Streamlit treats a `pages/` folder as
    an old-style multipage app and runs a deep-linked page file alone: no frame, no filters
    (e.g. the first click on an alert email's link after a restart). Leave that mode, as
    `st.navigation` itself does, and rerun: the rerun goes through app.py to the same page.
    """
    if CONTEXT_KEY not in st.session_state and PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def context() -> Context:
    """The context app.py drew in this run (pages call this first)."""
    ensure_routed()
    return st.session_state[CONTEXT_KEY]  # type: ignore[no-any-return]


__all__ = ["TTL_SECONDS", "Context", "context", "draw_frame", "ensure_routed"]
