"""Audit log (admins only: app.py lists this page for admins, and the page checks again)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from access import AuditLog, audit_path
from pages._auth import may
from pages._frame import context

ctx = context()
st.title("Audit log")
if not may("admin"):
    st.error("Admins only.", icon=":material/block:")
    st.stop()
st.caption(
    "Sign-ins (allowed and denied), budget, limit and key-label edits, test emails and messages, SQL queries "
    "and exports: who, when (UTC), what. Newest first."
)
log = AuditLog(audit_path(ctx.data_dir))
chain = log.verify()
if chain.ok:
    st.success(chain.summary(), icon=":material/verified:")
else:
    st.error(chain.summary(), icon=":material/gpp_bad:")
records = log.read(limit=1_000)
if not records:
    st.info("Nothing recorded yet.")
else:
    st.dataframe(
        pd.DataFrame(records, columns=["at", "who", "role", "action", "detail"]), hide_index=True, width="stretch"
    )
