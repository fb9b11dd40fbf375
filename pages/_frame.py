"""The frame every page shares: sidebar filters, freshness line, and the context pages read.

Why a context object: app.py draws the frame once per run and leaves the result in the
session, so a page reads the same filters, currency and model colours the frame used.
Each job lives in its own module: `_config` (settings), `_sidebar` and `_view` (filters and
URL state), `_freshness`, `_empty` (no ledger yet), `_routing` (deep links).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import streamlit as st

from ledger.queries import Filters

from . import _data as data
from ._config import settings
from ._empty import no_ledger
from ._freshness import freshness_line
from ._routing import CONTEXT_KEY, ensure_routed
from ._sidebar import sidebar
from ._ui import colours


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a page needs: where the ledger is, the slice, the currency and model colours."""

    data_dir: Path
    filters: Filters
    currency: str
    colours: dict[str, str]
    range_label: str


def draw_frame(scope: tuple[str, ...] | None = None) -> Context | None:
    """Sidebar, freshness line and badge; None (after an empty state) when there is no ledger.

    `scope`: the projects the signed-in person may see (None = all); every page's Filters carry it.
    """
    defaults = settings()
    if not data.list_days(defaults.data_dir):
        no_ledger(defaults.data_dir)
        return None
    filters, label = sidebar(defaults, scope)
    models = data.dimension_values(defaults.data_dir, filters.unfiltered(), dim="model")
    ctx = Context(
        data_dir=defaults.data_dir,
        filters=filters,
        currency=defaults.currency,
        colours=colours(models),
        range_label=label,
    )
    simulated = data.simulated_view(defaults.data_dir, filters)
    freshness_line(ctx.data_dir, filters.timezone, ctx.currency, simulated=simulated)
    st.session_state[CONTEXT_KEY] = ctx
    return ctx


def context() -> Context:
    """The context app.py drew in this run (pages call this first)."""
    ensure_routed()
    return cast(Context, st.session_state[CONTEXT_KEY])


__all__ = ["Context", "context", "draw_frame", "ensure_routed"]
