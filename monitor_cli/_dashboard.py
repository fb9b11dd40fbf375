"""`mistral-monitor dashboard [streamlit options]`: `streamlit run` on the installed `app.py`.

Why the options go as flags: Streamlit reads `.streamlit/config.toml` from the current
directory and from beside the main script, and an installed `app.py` sits in site-packages,
where no such file can be shipped. So the repository's `.streamlit/config.toml` is repeated
here as flags (tests/test_packaging.py keeps the two equal); a flag the caller passes wins,
e.g. `mistral-monitor dashboard --server.port 8600`.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from foundation.errors import MonitorError

OPTIONS: dict[str, str] = {
    "theme.primaryColor": "#fa520f",
    "theme.light.primaryColor": "#e0480c",
    "theme.light.backgroundColor": "#ffffff",
    "theme.light.secondaryBackgroundColor": "#f6f4f1",
    "theme.light.textColor": "#1f1d1a",
    "theme.dark.primaryColor": "#ff7a3d",
    "theme.dark.backgroundColor": "#151413",
    "theme.dark.secondaryBackgroundColor": "#24221f",
    "theme.dark.textColor": "#ecebe8",
    "server.address": "127.0.0.1",
    "server.headless": "true",
    "server.runOnSave": "false",
    "server.fileWatcherType": "none",
    "server.scriptHealthCheckEnabled": "true",
    "runner.postScriptGC": "false",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "viewer",
    "client.showErrorDetails": "type",
}
"""`.streamlit/config.toml` as `streamlit run` flags: loopback only, as the repository's demo."""


class DashboardMissing(MonitorError, RuntimeError):
    """The dashboard's `app.py` is not importable: the package is not installed whole."""


def app_path() -> Path:
    """Where the installed (or, from the repository root, the checked-out) `app.py` is."""
    spec = importlib.util.find_spec("app")
    if spec is None or spec.origin is None:
        raise DashboardMissing("the dashboard's app.py is not installed; reinstall the package (pip install .)")
    return Path(spec.origin)


def streamlit_argv(app: Path, extra: list[str]) -> list[str]:
    """The `python -m streamlit run` command line: our options, less those `extra` sets, then `extra`.

    >>> streamlit_argv(Path("app.py"), ["--server.address=0.0.0.0"])[5:7]
    ['--theme.primaryColor=#fa520f', '--theme.light.primaryColor=#e0480c']
    >>> [a for a in streamlit_argv(Path("app.py"), ["--server.address", "0.0.0.0"]) if "address" in a]
    ['--server.address']
    """
    given = {arg[2:].partition("=")[0] for arg in extra if arg.startswith("--")}
    flags = [f"--{name}={value}" for name, value in OPTIONS.items() if name not in given]
    return [sys.executable, "-m", "streamlit", "run", str(app), *flags, *extra]


def served_at(command: list[str]) -> str:
    """The loopback URL the `streamlit run` command line serves (`--server.port`, default 8501).

    >>> served_at(["python", "-m", "streamlit", "run", "app.py", "--server.port", "8600"])
    'http://127.0.0.1:8600'
    """
    port = "8501"
    for index, arg in enumerate(command):
        if arg.startswith("--server.port="):
            port = arg.partition("=")[2]
        elif arg == "--server.port" and index + 1 < len(command):
            port = command[index + 1]
    return f"http://127.0.0.1:{port}"


def warm_after_start(command: list[str]) -> None:
    """A detached helper (`monitor_cli._warm`) that, once the server answers, has it run the app once,
    so the first visitor finds the modules imported and the default view's figures cached."""
    if "--server.scriptHealthCheckEnabled=false" in command:
        return
    helper = [sys.executable, "-m", "monitor_cli._warm", served_at(command)]
    subprocess.Popen(helper, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)


def run_dashboard(argv: list[str]) -> int:
    """Replace this process with Streamlit's, so signals and the exit code are the server's own."""
    try:
        command = streamlit_argv(app_path(), argv)
    except DashboardMissing as exc:
        print(f"mistral-monitor dashboard: {exc}", file=sys.stderr)
        return 2
    warm_after_start(command)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)
    return 0  # not reached: execv does not return
