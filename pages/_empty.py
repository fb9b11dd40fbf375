"""What the dashboard shows before there is any ledger: how to get one."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ._text import md


def no_ledger(data_dir: Path) -> None:
    """Title and one notice naming the folder and the commands that fill it."""
    st.title("Mistral usage monitor")
    st.info(
        f"No ledger yet in {md(data_dir, 300)}. Start the simulator, collector and dashboard together with "
        "`./scripts/demo.sh`, or point the collector at your sources with "
        "`python -m collector --config your.toml` (see collector/example.toml). "
        "The dashboard picks the data up on its own within a minute.",
        icon=":material/database:",
    )
