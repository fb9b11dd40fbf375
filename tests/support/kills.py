"""SIGKILLing a child process at a chosen moment, for the kill tests.

Two ways, written once: `kill_when` polls a condition (a commit file in the log, a file gone) with
a deadline and kills as soon as it holds, so the kill lands at a varied instant just after it;
`at_syscall` runs the child under strace, which delivers the SIGKILL on entering the first system
call of a kind on one path (the `linkat` that puts a Delta commit under its name, the `unlink` of
one file), an instant no poll reaches. strace needs ptrace; `HAS_STRACE` says whether it is here.

Example:
    >>> at_syscall(Path("/d/_delta_log/00000000000000000003.json"), "linkat", ["python", "x.py"])[:3]
    ['strace', '-f', '-qq']
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.support.waits import poll_until

HAS_STRACE = shutil.which("strace") is not None


def kill_when(
    proc: subprocess.Popen[bytes], condition: Callable[[], object], timeout: float = 60.0, every: float = 0.0005
) -> bool:
    """SIGKILL `proc` as soon as `condition` holds (polled `every` s, 0.5 ms unless a poll costs a
    request; `timeout` s at most); False when `proc` ended first (nothing killed)."""
    poll_until(lambda: proc.poll() is not None or bool(condition()), timeout, every=every)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    return True


def at_syscall(path: Path, syscalls: str, command: list[str]) -> list[str]:
    """`command` under strace: SIGKILLed on entering the first of `syscalls` (comma-separated
    names) that names `path`, before that call does anything."""
    trace = ["strace", "-f", "-qq", "-o", os.devnull, "-P", str(path)]
    return [*trace, "-e", f"trace={syscalls}", "-e", f"inject={syscalls}:signal=SIGKILL", *command]


def was_killed(done: subprocess.CompletedProcess[str]) -> bool:
    """Whether the run ended by SIGKILL (as strace reports its tracee's death: 128 + 9)."""
    return done.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL)
