"""The dashboard: `streamlit run app.py`. Reads the parquet ledger only; never calls a provider.

app.py draws what every page shares (sidebar filters mirrored in the URL, the freshness line,
the simulator badge) and routes with st.navigation over the page files in pages/.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages._frame import draw_frame

HERE = Path(__file__).parent
BUDGETS = HERE / "pages" / "budgets.py"
RECONCILIATION = HERE / "pages" / "reconciliation.py"


def budgets_placeholder() -> None:
    st.title("Budgets")
    st.info("Budgets and alerts arrive with the alerts engine (issue 4).", icon=":material/savings:")


st.set_page_config(page_title="Mistral usage monitor", page_icon=":material/monitoring:", layout="wide")
pages = [
    st.Page(HERE / "pages" / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page(HERE / "pages" / "spend.py", title="Spend", icon=":material/payments:"),
    st.Page(HERE / "pages" / "reliability.py", title="Reliability", icon=":material/monitor_heart:"),
    st.Page(HERE / "pages" / "explore.py", title="Explore", icon=":material/query_stats:"),
    st.Page(BUDGETS, title="Budgets", icon=":material/savings:")
    if BUDGETS.exists()
    else st.Page(budgets_placeholder, title="Budgets", icon=":material/savings:", url_path="budgets"),
]
if RECONCILIATION.exists():
    pages.append(st.Page(RECONCILIATION, title="Reconciliation", icon=":material/receipt_long:"))
pages.append(st.Page(HERE / "pages" / "statement.py", title="Statement", icon=":material/request_quote:"))
page = st.navigation(pages)
if draw_frame() is not None:
    page.run()
