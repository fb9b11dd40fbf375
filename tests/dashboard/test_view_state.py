"""The dashboard's URL state: links round-trip, hostile links fall back to defaults, and an alert's
link opens the page on the very slice the alert measured."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from alerts import Budget, period_of
from alerts._observation import dashboard_link
from foundation.view import DEFAULT_PRESET, MAX_VALUES, ViewState, dashboard_url
from ledger.queries import Filters
from tests.paths import REPO

STATES = [
    ViewState(),
    ViewState(preset="7d", timezone="Europe/Paris"),
    ViewState(preset="custom", first=date(2026, 11, 1), last=date(2026, 11, 30), timezone="America/New_York"),
    ViewState(
        projects=("search & co", "a=b?c#d", "100% off", "naïve ☃", " spaced "),
        models=("mistral-large-latest", "+plus+"),
        api_keys=("key-3f9a", "key_00a1f3"),
        sources=("gateway", "[src](http://x.invalid/s)"),
    ),
]


@pytest.mark.parametrize("state", STATES)
def test_a_state_survives_its_query_and_its_link(state: ViewState) -> None:
    assert ViewState.from_query(state.to_query()) == state
    url = dashboard_url("http://dash.test:8501/", "spend", state)
    parts = urlsplit(url)
    assert parts.path == "/spend"
    assert ViewState.from_query(parse_qs(parts.query, keep_blank_values=True)) == state


def test_the_default_state_writes_a_plain_url() -> None:
    assert ViewState().to_query() == {}
    assert dashboard_url("http://dash.test:8501", "overview", ViewState()) == "http://dash.test:8501/overview"


HOSTILE: dict[str, str | list[str]] = {
    "range": "7d\x00; DROP TABLE",
    "from": "2026-11-01\r\nSet-Cookie: x=1",
    "to": "9" * 100_000,
    "tz": "../../etc/passwd",
    "project": ["ok", "bad\x1b[31m", "x" * 100_000, "", "tab\there", "ok"],
    "model": [f"m{i}" for i in range(MAX_VALUES * 20)],
    "key": "\u0085next-line",
}


def test_a_hostile_link_falls_back_to_defaults_and_keeps_the_sane_part() -> None:
    state = ViewState.from_query(HOSTILE)
    assert state.preset == DEFAULT_PRESET
    assert (state.first, state.last, state.timezone) == (None, None, None)
    assert state.projects == ("ok",)
    assert state.models == tuple(f"m{i}" for i in range(MAX_VALUES))
    assert state.api_keys == ()
    assert all(len(v) < 1_000 for v in state.to_query().get("project", []))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"from": "2026-02-30"}, ViewState()),
        ({"from": "1066-10-14"}, ViewState()),
        ({"to": "2026-11-01T00:00"}, ViewState()),
        ({"range": ["7d", "nonsense"]}, ViewState()),
        ({"range": ["nonsense", "mtd"]}, ViewState(preset="mtd")),
        ({"tz": "UTC", "range": "custom"}, ViewState(preset="custom", timezone="UTC")),
        ({"project": [None, 3, "p"]}, ViewState(projects=("p",))),
    ],
)
def test_each_bad_value_is_dropped_alone(query: dict[str, str | list[str]], expected: ViewState) -> None:
    assert ViewState.from_query(query) == expected


def test_an_alerts_link_names_the_alerts_slice() -> None:
    budget = Budget(
        name="search", amount=100.0, projects=("search & co",), models=("mistral-large-latest",), api_keys=("key-3f9a",)
    )
    period = period_of("month", datetime(2026, 11, 17, 9, tzinfo=UTC), "Europe/Paris")
    measured = budget.filters(period, "Europe/Paris")
    link = dashboard_link("http://dash.test:8501/", measured, page="spend")
    assert link is not None
    state = ViewState.from_query(parse_qs(urlsplit(link).query))
    assert (state.preset, state.first, state.last) == ("custom", date(2026, 11, 1), date(2026, 11, 30))
    assert state.first is not None and state.last is not None
    shown = Filters.for_dates(
        state.first,
        state.last,
        state.timezone or "UTC",
        projects=state.projects,
        models=state.models,
        api_keys=state.api_keys,
    )
    assert (shown.start_at, shown.end_at) == (measured.start_at, measured.end_at)
    assert shown.dimension_filters() == measured.dimension_filters()


def _frame_and_page(page_path: str) -> None:
    import runpy

    from pages._frame import draw_frame

    if draw_frame() is not None:
        runpy.run_path(page_path, run_name="__page__")


@pytest.mark.slow
def test_an_alerts_link_opens_the_page_on_the_same_filters(app_env) -> None:
    today = datetime.now(UTC).date()
    measured = Filters.for_dates(
        today - timedelta(days=9),
        today - timedelta(days=2),
        "Europe/Paris",
        projects=("search",),
        models=("mistral-large-latest", "mistral-small-latest"),
    )
    link = dashboard_link("http://dash.test:8501", measured, page="spend")
    assert link is not None
    at = AppTest.from_function(_frame_and_page, args=(str(REPO / "pages/spend.py"),), default_timeout=90)
    for name, values in parse_qs(urlsplit(link).query).items():
        at.query_params[name] = values
    at.run()
    assert not at.exception, at.exception
    shown: Filters = at.session_state["_dashboard_context"].filters
    assert (shown.start_at, shown.end_at, shown.timezone) == (measured.start_at, measured.end_at, "Europe/Paris")
    assert shown.dimension_filters() == measured.dimension_filters()
    assert ViewState.from_query({k: v if isinstance(v, list) else [v] for k, v in at.query_params.items()}) == (
        ViewState.from_query(parse_qs(urlsplit(link).query))
    )
