"""`remote.mirror` SIGKILLed mid-run on the loopback S3 server: the folder never shows a torn copy, and the
next mirror leaves exactly the objects' bytes, objects changed or deleted in between included (real
processes, kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ledger.storage import remote
from ledger.storage.atomic import atomic_write
from tests.paths import REPO
from tests.support.kills import kill_when
from tests.support.s3 import S3

pytestmark = pytest.mark.process

OBJECTS = 60
SIZE = 256 * 1024
MIRROR = textwrap.dedent("""
    import sys
    from pathlib import Path
    from ledger.storage import remote
    remote.mirror(sys.argv[1], Path(sys.argv[2]))
""")

KILLED_AT_RENAME = textwrap.dedent("""
    import os, signal, sys
    real_replace = os.replace
    def replace(source, target, *args, **kwargs):
        if str(target) == sys.argv[3]:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(source, target, *args, **kwargs)
    os.replace = replace
""")
"""Put before MIRROR: the child SIGKILLs itself as a file is about to take the name argv[3]."""


def body(index: int, version: int) -> bytes:
    """An object's bytes: the same size in every version, so only the bytes tell two versions apart."""
    return (f"{index:04d}.{version}|".encode() * SIZE)[:SIZE]


def visible(folder: Path) -> dict[str, bytes]:
    """What a reader of the folder sees (pyarrow and the readers skip names starting with ".")."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def names(folder: Path) -> list[str]:
    """The visible copies' names, read without their bytes (the kill's condition, polled every 0.5 ms)."""
    return [p.name for p in folder.glob("*/*") if not p.name.startswith(".")] if folder.is_dir() else []


def mirror_process(url: str, folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", MIRROR, url, str(folder)], cwd=REPO, env=os.environ.copy())


@pytest.mark.parametrize("kill_after", [1, OBJECTS // 3, OBJECTS - 1])
def test_a_mirror_killed_mid_run_then_run_again_holds_exactly_the_objects(s3: S3, tmp_path: Path, kill_after: int):
    url, folder = s3.url() + "/billing", tmp_path / "copy"
    objects = {f"sim/{i:04d}.parquet": body(i, 1) for i in range(OBJECTS)}
    for name, data in objects.items():
        remote.put(f"{url}/{name}", data)
    proc = mirror_process(url, folder)
    killed = kill_when(proc, lambda: len(names(folder)) >= kill_after)
    proc.wait()
    assert killed, "the mirror finished before the kill: more or larger objects needed"
    torn = {name: len(data) for name, data in visible(folder).items() if data != objects.get(name)}
    assert torn == {}, "a reader saw a copy that is not its object's bytes"
    objects["sim/0000.parquet"] = body(0, 2)  # rewritten while no mirror ran: same size, new bytes
    remote.put(f"{url}/sim/0000.parquet", objects["sim/0000.parquet"])
    del objects["sim/0001.parquet"]
    remote.client().delete_object(Bucket=s3.bucket, Key="monitor/billing/sim/0001.parquet")
    again = mirror_process(url, folder)
    assert again.wait(timeout=120) == 0
    assert visible(folder) == objects
    assert [p.relative_to(folder).as_posix() for p in remote.mirror(url, folder)] == sorted(objects)
    assert visible(folder) == objects


def test_a_mirror_killed_as_a_copy_takes_its_name_still_knows_the_copies_it_made_before(s3, tmp_path):
    """The instant no poll reaches (the child SIGKILLs itself on the rename): object 0001 was rewritten and its new
    copy has its name, 0003 is new and its bytes are down, not yet named. Once both objects are deleted, the next
    mirror removes 0001's copy (it was the mirror's, not a file changed here) and shows no 0003."""
    url, folder = s3.url() + "/billing", tmp_path / "copy"
    objects = {f"sim/{i:04d}.parquet": body(i, 1) for i in range(3)}
    for name, data in objects.items():
        remote.put(f"{url}/{name}", data)
    remote.mirror(url, folder)
    remote.put(f"{url}/sim/0001.parquet", body(1, 2))
    remote.put(f"{url}/sim/0003.parquet", body(3, 1))
    target = folder / "sim" / "0003.parquet"
    command = [sys.executable, "-c", KILLED_AT_RENAME + MIRROR, url, str(folder), str(target)]
    done = subprocess.run(command, cwd=REPO, env=os.environ.copy(), capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert (folder / "sim" / "0001.parquet").read_bytes() == body(1, 2) and not target.exists()
    del objects["sim/0001.parquet"]
    for name in ("sim/0001.parquet", "sim/0003.parquet"):
        remote.client().delete_object(Bucket=s3.bucket, Key=f"monitor/billing/{name}")
    remote.mirror(url, folder)
    assert visible(folder) == objects


def test_a_killed_writer_s_temp_file_is_removed_once_old_and_a_fresh_one_is_left(s3, tmp_path):
    url, folder = s3.url() + "/billing", tmp_path / "copy"
    remote.put(f"{url}/sim/0000.parquet", body(0, 1))
    remote.mirror(url, folder)
    named: list[str] = []
    atomic_write(folder / "sim" / "0000.parquet", lambda tmp: named.append(tmp.name) or tmp.write_bytes(body(0, 1)))
    old, fresh = folder / "sim" / named[0], folder / "sim" / ".0000.parquet.0123abcd.tmp"
    for leftover in (old, fresh):  # as a writer SIGKILLed before its rename leaves it: atomic_write's own name
        leftover.write_bytes(b"half a copy")
    stamp = time.time() - remote.TEMP_SECONDS - 60
    os.utime(old, (stamp, stamp))
    keep = folder / "sim" / ".notes.tmp"  # a hidden file of another name: not the mirror's to judge
    keep.write_bytes(b"x")
    os.utime(keep, (stamp, stamp))
    remote.mirror(url, folder)
    assert not old.exists() and fresh.exists() and keep.exists()
    assert visible(folder) == {"sim/0000.parquet": body(0, 1)}
