"""Deep links into a page file: make them run through app.py, so the page gets its frame.

Why: until some session has run app.py's `st.navigation`, Streamlit treats a `pages/` folder
as an old-style multipage app and runs a deep-linked page file alone: no frame, no filters
(e.g. the first click on an alert email's link after a restart). This is the one place that
touches Streamlit's private `PagesManager`.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

CONTEXT_KEY = "_dashboard_context"
"""Where app.py leaves this run's page context in the session state."""


def ensure_routed() -> None:
    """Leave the old multipage mode, as `st.navigation` itself does, and rerun through app.py."""
    if CONTEXT_KEY not in st.session_state and PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
