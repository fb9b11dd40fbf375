"""Progress of long CLI work: a bar on a terminal (a real pty), plain `progress` log lines without one.

The bar's figures are checked against a clock the test drives; the commands run as real
processes, their stderr a pseudo-terminal or a pipe.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from foundation.progress import Progress
from tests.builders import build_ledger
from tests.paths import REPO


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_shows_done_rate_and_time_left() -> None:
    ticks = iter([0.0, 1.0, 2.0, 4.0, 4.0])
    out = Terminal()
    with Progress("reprice", 4, "days", stream=out, clock=lambda: next(ticks)) as bar:
        bar.advance()  # t=1: 1 day/s, 3 left
        bar.advance()  # t=2: 1 day/s, 2 left
        bar.advance(2)  # t=4 (the end is drawn by finish, at the same tick)
    frames = out.getvalue().split("\r")[1:]
    assert frames[0] == "[" + "#" * 6 + "." * 18 + "] reprice: 1/4 days (25%), 1.0 days/s, about 3 s left\x1b[K"
    assert frames[1].startswith("[" + "#" * 12 + "." * 12 + "] reprice: 2/4 days (50%), 1.0 days/s, about 2 s left")
    assert frames[-1].endswith("reprice: 4/4 days (100%), 1.0 days/s, done in 4 s\x1b[K\n")


def test_without_a_terminal_it_writes_no_bar() -> None:
    out = io.StringIO()
    ticks = iter([0.0, 1.0, 2.0, 3.0, 3.0])
    with Progress("compact", 3, "days", stream=out, clock=lambda: next(ticks), every=10.0) as bar:
        bar.advance()
        bar.advance()
        bar.advance()
    assert out.getvalue() == ""  # the lines go to the log instead (below, from a real process)


def config(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    build_ledger(data, n_records=600, days=3, seed=5, end=datetime(2026, 10, 3, 20, tzinfo=UTC))
    path = tmp_path / "monitor.toml"
    path.write_text(f'data_dir = "{data}"\n')
    return path


def command(path: Path, name: str) -> list[str]:
    return [sys.executable, "-m", "collector", "--config", str(path), name]


@pytest.mark.process
def test_reprice_in_a_pipe_logs_progress_lines(tmp_path: Path) -> None:
    done = subprocess.run(
        command(config(tmp_path), "reprice"), cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and progress[-1]["task"] == "reprice" and progress[-1]["done"] == progress[-1]["total"] == 3
    assert progress[-1]["line"].startswith("reprice: 3/3 days (100%)")
    assert "\r" not in done.stderr


@pytest.mark.process
def test_compact_on_a_terminal_draws_the_bar(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command(config(tmp_path), "compact"), cwd=REPO, stderr=follower, stdout=subprocess.DEVNULL
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 120
    while process.poll() is None or select.select([leader], [], [], 0)[0]:
        assert time.monotonic() < deadline, seen
        if select.select([leader], [], [], 0.2)[0]:
            try:
                seen += os.read(leader, 4096)
            except OSError:  # the follower side closed: the process is done
                break
    os.close(leader)
    assert process.wait(timeout=60) == 0
    text = seen.decode()
    assert "\r[" in text and "compact: 3/3 days (100%)" in text and "done in" in text, text


def backfill(tmp_path: Path, pages: int = 4) -> tuple[int, int]:
    """Poll 2.5 days of the simulator in `pages` or more pages; (records stored, pages)."""
    from collector._context import Context
    from collector._usage import UsageEndpointSource
    from foundation.config import Config, SourceConfig
    from simulator import start_server

    with start_server(seed=3, days=2.5, rate=0.02) as sim:
        total = len(httpx.get(sim.url + "/v1/usage/requests", params={"limit": 100_000}).json()["data"])
        source = SourceConfig(name="sim", kind="usage_endpoint", url=sim.url, page_limit=-(-total // pages))
        context = Context.build(Config(data_dir=tmp_path / "data", sources=(source,)))
        with UsageEndpointSource(source=source, context=context) as poller:
            polled = poller.poll()
    return polled.records, polled.pages


def test_a_backfill_on_a_terminal_draws_days_and_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = Terminal()
    monkeypatch.setattr(sys, "stderr", out)
    records, pages = backfill(tmp_path)
    assert pages >= 4
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) >= 2 and all(f.startswith("[") for f in frames)
    assert "backfill sim: 3/3 days (100%)" in frames[-1] and "done in" in frames[-1]
    assert frames[-1].endswith(f", {records:,} records\x1b[K\n")


def test_a_backfill_in_a_pipe_logs_progress_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from foundation.log import FIELDS

    caplog.set_level("INFO", logger="progress")
    records, _ = backfill(tmp_path)
    events = [getattr(r, FIELDS) for r in caplog.records if r.name == "progress" and r.getMessage() == "progress"]
    assert events and events[-1]["task"] == "backfill sim" and events[-1]["done"] == events[-1]["total"] == 3
    assert events[-1]["line"].endswith(f", {records:,} records")


def test_a_poll_caught_up_in_one_page_shows_no_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = Terminal()
    monkeypatch.setattr(sys, "stderr", out)
    backfill(tmp_path, pages=1)
    assert out.getvalue() == ""
