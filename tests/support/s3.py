"""An S3 server on loopback (moto's `ThreadedMotoServer`, port 0) and a fresh bucket per test.

Why a real server rather than mocked calls: delta-rs and boto3 both speak HTTP to it, exactly
as they would to S3 or MinIO, including the conditional puts (`If-Match`, `If-None-Match`) the
state files rely on. One server per test session (starting one takes a second); each test gets
its own bucket, the AWS_* environment pointing at the server (also inherited by the processes
the test starts) and its own cache folder (`XDG_CACHE_HOME`), so no state crosses tests.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"


@dataclass(frozen=True)
class S3:
    """The server's endpoint and the test's bucket; `url(prefix)` is a data_dir."""

    endpoint: str
    bucket: str

    def url(self, prefix: str = "monitor") -> str:
        return f"s3://{self.bucket}/{prefix}"

    def env(self) -> dict[str, str]:
        """The AWS environment a process needs to reach the server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under `prefix`."""
        from ledger.storage import remote

        pages = remote.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


SERVE = """
import logging, sys, threading
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read()  # until the test session closes our stdin (or dies)
server.stop()
"""


class Server:
    """One moto server for the session, in a process of its own: delta-rs calls that keep the GIL
    while they wait on HTTP would otherwise stall a server thread of the test's own process."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self._proc.kill()
            raise RuntimeError(f"moto server did not start: {line!r}")
        self.endpoint = line

    def stop(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Server]:
    server = Server()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """A fresh bucket on the session's server, the environment pointing at it, a private cache."""
    from ledger.storage import remote

    found = S3(endpoint=s3_server.endpoint, bucket=f"t-{uuid.uuid4().hex[:12]}")
    for name, value in found.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    remote.reset_client()
    remote.client().create_bucket(Bucket=found.bucket)
    yield found
    remote.reset_client()


def working_folder(s3: S3, tmp_path: Path, name: str = "host-a") -> Path:
    """The local working folder of the test's s3 data_dir, as the config resolves it (one per host)."""
    from foundation import location

    return location.data_dir(s3.url(), base=tmp_path, cache_dir=str(tmp_path / name))


@pytest.fixture(params=["local", "s3"])
def data_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A data_dir on local disk, then the same test on the loopback S3 server."""
    if request.param == "local":
        return tmp_path / "data"
    return working_folder(request.getfixturevalue("s3"), tmp_path)


@dataclass(frozen=True)
class Target:
    """Where a collector started by a test keeps its ledger: the config's lines, the local folder
    readers are handed (the data_dir, or the s3 data_dir's working folder) and how to count commits."""

    toml: str
    folder: Path
    s3: S3 | None

    def commits(self) -> int:
        """Commits in the table's log (the collector's progress, seen from outside it)."""
        if self.s3 is None:
            return len(list(self.folder.glob("requests/_delta_log/*.json")))
        return sum(1 for k in self.s3.keys("monitor/requests/_delta_log/") if k.endswith(".json"))


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """A collector's data_dir on local disk, then the same test on the loopback S3 server."""
    if request.param == "local":
        folder = tmp_path / "data"
        return Target(toml=f'data_dir = "{folder}"\n', folder=folder, s3=None)
    s3 = request.getfixturevalue("s3")
    folder = working_folder(s3, tmp_path)
    return Target(toml=f'data_dir = "{s3.url()}"\ncache_dir = "{folder}"\n', folder=folder, s3=s3)
