"""The dashboard's Streamlit config: loopback only, no tracebacks for viewers."""

from __future__ import annotations

import tomllib

from tests.paths import REPO


def test_dashboard_listens_on_loopback_and_hides_tracebacks():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] in ("type", "none")
