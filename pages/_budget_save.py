"""The budgets file as this session last saw it, so a save never drops another session's edit.

Why: a save is read-modify-write of one file. Two sessions (or a session and a hand edit)
each load the page, each change something and save; the later save would silently replace
the earlier edit. The page records the file's version when it draws its forms; a save hands
that version to `save_budgets`/`save_limits`, which refuse (BudgetFileChanged) if the file
changed since, the way an editor refuses to save over a file changed on disk.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from alerts import file_version

SEEN = "budgets_file_version"


def loaded_version(path: Path) -> str:
    """The file's version when this session last drew the page (on its first run: now).

    Called once per run before the file is read, so a form submitted in this run is checked
    against the file it was drawn from; this run's forms are then drawn from the file as it is.
    """
    current = file_version(path)
    previous = st.session_state.get(SEEN, current)
    st.session_state[SEEN] = current
    return str(previous)


def remember_saved(path: Path) -> None:
    """After this session's own save: the page's next form is checked against the file it wrote."""
    st.session_state[SEEN] = file_version(path)
