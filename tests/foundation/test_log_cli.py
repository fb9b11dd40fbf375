"""Every CLI logs through the one setup: `--log-level` or `MONITOR_LOG_LEVEL`, one JSON object
per line with its level, and a bad level is one usage line naming the flag and the choices."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import orjson
import pytest

from simulator import start_server
from tests.paths import REPO
from tests.support.servers import free_port, wait_up

pytestmark = pytest.mark.process

TOKEN = "tok-log-cli-3c2b1a0f9e8d"
CHOICES = "is not a log level; use one of debug, info, warning, error"


def simulator_lines(*args: str, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    """Run `python -m simulator`, ask it twice, stop it; its stderr as parsed JSON lines."""
    port = free_port()
    cmd = [sys.executable, "-m", "simulator", "--port", str(port), "--days", "0.1", "--token-env", "SIM_LOG_TOKEN"]
    full_env = os.environ | {"SIM_LOG_TOKEN": TOKEN} | (env or {})
    proc = subprocess.Popen([*cmd, *args], cwd=REPO, env=full_env, stderr=subprocess.PIPE)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", proc, "the simulator", every=0.05)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"http://127.0.0.1:{port}/v1/usage/requests", headers=headers).status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert TOKEN.encode() not in err
    return [orjson.loads(line) for line in err.splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, [("info", "serving")]),
        (["--log-level", "debug"], {}, [("info", "serving"), ("debug", "request"), ("debug", "request")]),
        ([], {"MONITOR_LOG_LEVEL": "DEBUG"}, [("info", "serving"), ("debug", "request"), ("debug", "request")]),
        (["--log-level", "warning"], {"MONITOR_LOG_LEVEL": "debug"}, []),
        (["--verbose"], {}, [("info", "serving"), ("debug", "request"), ("debug", "request")]),
    ],
)
def test_the_simulator_logs_json_lines_at_the_chosen_level(args, env, expected):
    lines = simulator_lines(*args, env=env)
    assert [(line["level"], line["event"]) for line in lines] == expected
    assert all(line["logger"] == "simulator" for line in lines)
    if expected:
        assert str(lines[0]["url"]).endswith("/v1/usage/requests")


@pytest.mark.slow
@pytest.mark.parametrize("component", ["collector", "gateway", "simulator"])
@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_bad_level_is_one_usage_line_naming_the_flag_and_the_choices(component, how):
    env = {"PATH": "/usr/bin:/bin"} | ({"MONITOR_LOG_LEVEL": "loud"} if how == "env" else {})
    args = ["--log-level", "loud"] if how == "flag" else []
    done = subprocess.run(
        [sys.executable, "-m", component, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(f"--log-level or $MONITOR_LOG_LEVEL: 'loud' {CHOICES}")


@pytest.mark.slow
def test_the_collector_polls_quietly_at_warning_and_says_poll_at_info(tmp_path):
    with start_server(seed=3, days=0.2, rate=20, token=TOKEN) as sim:
        config = tmp_path / "c.toml"
        config.write_text(
            f'data_dir = "{tmp_path / "data"}"\n[[sources]]\nname = "sim"\nkind = "usage_endpoint"\n'
            f'url = "{sim.url}"\ntoken_env = "SIM_TOKEN"\n'
        )
        env = {"PATH": "/usr/bin:/bin", "SIM_TOKEN": TOKEN}
        runs = {
            level: subprocess.run(
                [sys.executable, "-m", "collector", "--config", str(config), "--once", "--log-level", level],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            for level in ("warning", "info")
        }
    assert [done.returncode for done in runs.values()] == [0, 0], runs["info"].stderr[-2000:]
    assert runs["warning"].stderr == ""
    lines = [orjson.loads(line) for line in runs["info"].stderr.splitlines()]
    polls = [line for line in lines if line["event"] == "poll"]
    assert [(p["level"], p["logger"], p["source"]) for p in polls] == [("info", "collector", "sim")]
    assert all(line["level"] == "info" for line in lines) and TOKEN not in runs["info"].stderr
