"""The dashboard: `streamlit run app.py`. Reads the parquet ledger only; never calls a provider.

app.py signs the visitor in (pages/_auth.py: nothing else renders until then), draws what
every page shares (sidebar filters mirrored in the URL, the freshness line, the simulator
badge) and routes with st.navigation over the pages this person's role and scope allow: a
page left out of the list cannot be opened, not even by its URL. Its first run in the process
starts pages/_warm.py's thread, which keeps the default view's figures cached.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from access import Principal
from pages._auth import account, gate, land
from pages._config import settings
from pages._frame import draw_frame
from pages._warm import keep_warm

HERE = Path(__file__).parent


def read_pages() -> list[st.Page]:
    """What every signed-in viewer may open; these pages read rows through the scoped Filters."""
    return [
        st.Page(HERE / "pages" / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page(HERE / "pages" / "spend.py", title="Spend", icon=":material/payments:"),
        st.Page(HERE / "pages" / "reliability.py", title="Reliability", icon=":material/monitor_heart:"),
        st.Page(HERE / "pages" / "explore.py", title="Explore", icon=":material/query_stats:"),
        st.Page(HERE / "pages" / "savings.py", title="Savings", icon=":material/trending_down:"),
    ]


def all_project_pages() -> list[st.Page]:
    """Pages that show figures across every project (budgets, billed totals, statements)."""
    return [
        st.Page(HERE / "pages" / "budgets.py", title="Budgets", icon=":material/savings:"),
        st.Page(HERE / "pages" / "reconciliation.py", title="Reconciliation", icon=":material/receipt_long:"),
        st.Page(HERE / "pages" / "statement.py", title="Statement", icon=":material/request_quote:"),
    ]


def pages_for(who: Principal) -> list[st.Page]:
    """A project-scoped person gets the read pages only; admins also get the audit log."""
    pages = read_pages()
    if who.projects is None:
        pages += all_project_pages()
    if who.may("admin"):
        pages.append(st.Page(HERE / "pages" / "audit.py", title="Audit log", icon=":material/history:"))
    return pages


# Only for the hidden menu behind the sign-in screen (a string here would be drawn by Streamlit's
# magic): every page is registered, so a deep link keeps its path for after sign-in with no
# "page not found", and none of them runs.
EVERY_PAGE = Principal("", "admin", None)

st.set_page_config(page_title="Mistral usage monitor", page_icon=":material/monitoring:", layout="wide")
keep_warm()
principal = gate(settings().data_dir, lambda: st.navigation(pages_for(EVERY_PAGE), position="hidden"))
allowed = pages_for(principal)
page = st.navigation(allowed)
land(allowed)
account(principal)
if draw_frame(principal.projects) is not None:
    page.run()
