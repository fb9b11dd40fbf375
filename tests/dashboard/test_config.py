"""The dashboard's Streamlit config: loopback only, no tracebacks for viewers, no file watcher, no full
garbage collection after each run."""

from __future__ import annotations

import tomllib

from tests.paths import REPO


def test_dashboard_listens_on_loopback_and_hides_tracebacks():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] in ("type", "none")


def test_the_server_watches_no_source_file():
    """Streamlit's file watcher polled every imported module's source (a .venv inside the checkout too) and
    walked them all after every run: two thirds of the server's CPU per Overview visit (bench_browser.py)."""
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"


def test_a_run_ends_without_a_full_garbage_collection():
    """Streamlit's post-run gc.collect(2) took ~0.1 s of every filter change at 10M records, before the run's
    last elements reached the browser (bench_browser.py; py-spy on the server)."""
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
