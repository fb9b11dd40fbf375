"""FileLock: one holder across processes, its holder named to a waiter, released by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from foundation.locks import FileLock, Holder
from tests.paths import REPO

HOLD = """
import sys, time
from pathlib import Path
from foundation.locks import FileLock
with FileLock(Path(sys.argv[1]), "test holder").held():
    print("held", flush=True)
    time.sleep(600)
"""


def holder_process(path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_a_waiter_is_told_who_holds_the_lock_and_gets_it_when_the_holder_is_sigkilled(tmp_path):
    path = tmp_path / "x.lock"
    proc = holder_process(path)
    told: list[Holder | None] = []
    got: list[bool] = []

    def wait() -> None:
        with FileLock(path, "waiter").held(on_wait=told.append) as ok:
            got.append(ok)

    waiter = threading.Thread(target=wait)
    waiter.start()
    deadline = time.monotonic() + 30
    while not told and time.monotonic() < deadline:
        time.sleep(0.01)
    [holder] = told
    assert holder is not None and (holder.pid, holder.what) == (proc.pid, "test holder")
    assert not got
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    proc.stdout.close()
    waiter.join(30)
    assert got == [True]


def test_a_stop_while_waiting_gives_up_without_the_lock(tmp_path):
    path = tmp_path / "x.lock"
    stop = threading.Event()
    with FileLock(path, "first").held():
        stop.set()
        with FileLock(path, "second").held(stop=stop) as got:
            assert got is False
        holder = FileLock(path, "probe").holder()
        assert holder is not None and holder.what == "first"


def test_two_threads_of_one_process_exclude_each_other(tmp_path):
    path, inside, overlap = tmp_path / "x.lock", [0], [False]

    def work() -> None:
        for _ in range(50):
            with FileLock(path, "thread").held():
                inside[0] += 1
                overlap[0] |= inside[0] > 1
                time.sleep(0.0005)
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert overlap == [False]
