"""The dashboard's slice of the product config: where the ledger is, the time zone, the currency.

Why a function and not a constant: the config file may be edited while the dashboard runs,
and an invalid file must stop the page with one readable line, not a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from ._text import md


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    timezone: str
    currency: str
    offline_projects: tuple[str, ...] = ()
    """`[savings] offline_projects`: the Savings page's Batch API candidates."""


def settings() -> Settings:
    """The collector's config (`$MONITOR_CONFIG`, else defaults); stops the app with one line on error."""
    from foundation.config import load_config
    from foundation.errors import ConfigError

    try:
        config = load_config()
    except ConfigError as exc:
        st.error(f"Config error: {md(exc, 2_000)}")
        st.stop()
    return Settings(Path(config.data_dir), config.timezone, config.currency, config.offline_projects)
