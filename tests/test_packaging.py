"""The package as installed: declared dependencies, the `mistral-monitor` command, the dashboard's options.

The wheel itself (built, installed into a fresh venv, run from an empty directory) is checked by
scripts/wheel_check.sh, which scripts/test.sh runs after pytest.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor_cli._dashboard import OPTIONS, streamlit_argv
from tests.paths import REPO
from tests.support.servers import free_port

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
SUBCOMMANDS = ("collector", "gateway", "simulator", "dashboard", "demo")


def pins(name: str) -> list[str]:
    """The `name==version` lines of a requirements file, without comments and `-r` includes."""
    lines = (line.split("#")[0].strip() for line in (REPO / name).read_text().splitlines())
    return sorted(line for line in lines if line and not line.startswith("-"))


def cli(*args: str, cwd: Path = REPO, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "monitor_cli", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, **kwargs)


def test_the_dependencies_are_the_pins_of_requirements_txt():
    assert sorted(PROJECT["dependencies"]) == pins("requirements.txt")
    assert all("==" in pin for pin in PROJECT["dependencies"])


def test_the_dev_extra_is_requirements_dev_txt():
    assert sorted(PROJECT["optional-dependencies"]["dev"]) == pins("requirements-dev.txt")


def test_every_script_target_imports_and_has_a_callable_main():
    assert PROJECT["scripts"] == {"mistral-monitor": "monitor_cli:main"}
    for target in PROJECT["scripts"].values():
        module, _, name = target.partition(":")
        assert callable(getattr(importlib.import_module(module), name))


def test_help_lists_every_subcommand():
    done = cli("--help")
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.split("commands:\n")[1].splitlines() if line.startswith("  ")]
    assert listed == list(SUBCOMMANDS)


def test_an_unknown_or_missing_subcommand_is_one_error_line_and_exit_2():
    for args in (["nope"], []):
        done = cli(*args)
        assert done.returncode == 2
        assert done.stderr.splitlines()[-1].startswith("mistral-monitor: error: ")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "own_option"),
    [("collector", "--once"), ("gateway", "--config"), ("simulator", "--bad-every"), ("demo", "--dashboard-port")],
)
def test_a_subcommand_hands_its_arguments_to_the_component(command: str, own_option: str):
    done = cli(command, "--help")
    assert done.returncode == 0, done.stderr
    assert own_option in done.stdout


@pytest.mark.slow
def test_a_component_s_exit_code_and_error_come_back_unchanged():
    done = cli("simulator", "--seed", "-1")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith("--seed -1: must be >= 0")


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out |= flatten(value, f"{prefix}{key}.")
        else:
            out[prefix + key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def test_the_dashboard_flags_are_the_repository_s_streamlit_config():
    assert OPTIONS == flatten(tomllib.loads((REPO / ".streamlit" / "config.toml").read_text()))


def test_a_flag_the_caller_passes_replaces_the_default_one():
    argv = streamlit_argv(Path("/x/app.py"), ["--server.address", "0.0.0.0", "--theme.primaryColor=#000000"])
    assert argv[:5] == [sys.executable, "-m", "streamlit", "run", "/x/app.py"]
    assert [a for a in argv if "server.address" in a or "theme.primaryColor" in a] == [
        "--server.address",
        "--theme.primaryColor=#000000",
    ]
    assert "--server.headless=true" in argv


def test_scripts_demo_sh_runs_the_one_demo_command():
    """The quick start's demo and `mistral-monitor demo` are one implementation, not two copies."""
    lines = [line for line in (REPO / "scripts" / "demo.sh").read_text().splitlines() if not line.startswith("#")]
    assert lines[-1] == 'exec .venv/bin/python -m monitor_cli demo "$@"'
    assert "budgets" not in "\n".join(lines)


def listening_on(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp* shows them) with a socket listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """`mistral-monitor dashboard --server.port P` from an empty directory, with no data yet."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "DATA_DIR": str(tmp_path / "data")}
    env.pop("MONITOR_CONFIG", None)
    command = [sys.executable, "-m", "monitor_cli", "dashboard", "--server.port", str(port)]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "exited"
            assert time.monotonic() < deadline, "the dashboard did not answer /_stcore/health within 60 s"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout:
            proc.stdout.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok"
    except httpx.HTTPError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the listening sockets from /proc")
def test_the_dashboard_command_serves_on_loopback_only(dashboard: str):
    port = int(dashboard.rsplit(":", 1)[1])
    assert listening_on(port) == {"0100007F"}  # 127.0.0.1, little-endian hex
    page = httpx.get(dashboard, timeout=10)
    assert page.status_code == 200 and "<title>Streamlit</title>" in page.text


def children_of(pid: int) -> list[int]:
    """The child process ids of `pid` (Linux's /proc/PID/task/PID/children)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(), reason="Linux /proc")
def test_the_demo_runs_the_three_parts_and_a_sigterm_stops_them_all(tmp_path: Path):
    ports = [free_port(), free_port()]
    env = {**os.environ, "PYTHONPATH": str(REPO), "DATA_DIR": str(tmp_path / "data"), "MONITOR_TIMEZONE": "UTC"}
    env.pop("MONITOR_CONFIG", None)
    command = [sys.executable, "-m", "monitor_cli", "demo", "--port", str(ports[0]), "--dashboard-port", str(ports[1])]
    proc = subprocess.Popen([*command, "--days", "0.2"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while not (_healthy(f"http://127.0.0.1:{ports[1]}") and list((tmp_path / "data").glob("requests/*/*.parquet"))):
            assert proc.poll() is None and time.monotonic() < deadline, "the demo did not serve and collect in 90 s"
            time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{ports[0]}/healthz", timeout=5).status_code == 200
        children = children_of(proc.pid)
        assert len(children) == 3
        assert (tmp_path / "data" / "budgets.toml").read_text().startswith("# A sample budget")
        proc.terminate()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(alive(child) for child in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [child for child in children if alive(child)], "a SIGTERM to the demo left its parts running"
    finally:
        for pid in [proc.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
