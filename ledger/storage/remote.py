"""The ledger on S3: a read-through cache of the table's data files, and conditional objects.

Why a cache rather than S3 readers: every reader of the ledger (DuckDB in `ledger.queries`,
pyarrow here, the SQL box's worker process, the rollups) opens the local paths `list_files`
returns, and this DuckDB cannot read s3:// itself (its httpfs extension is not installable
offline). Delta data files are immutable and uniquely named, so a copy kept under its object key
is always right: `table.files()` maps the snapshot's `s3://` URIs to `<working folder>/requests/
<same relative path>` and downloads the missing ones here (temp file + fsync + rename: a SIGKILL
mid-download never leaves a torn file under the real name). A file leaves the cache once
`vacuum` deleted it from S3 (`evict`), that is 7 days after a commit removed it, so a reader that
listed it meanwhile can still open it; a host evicts what any host's vacuum deleted at its own
next vacuum. The Delta log itself is never cached: delta-rs reads it.

Why conditional writes for state (`read`, `write`): the collector's cursors are a
read-modify-write, and on S3 two hosts must never both win. `write` puts with `If-Match` on the
ETag that was read (`If-None-Match: *` for a first write); S3 answers 412 when another writer
moved the object, which is raised as `Moved` (never retried blindly, never last-writer-wins).

Endpoint and credentials: boto3 reads the standard AWS environment, as delta-rs does.

Example:
    >>> split("s3://ledger/team-a/state/cursors.json")
    ('ledger', 'team-a/state/cursors.json')
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from foundation.errors import MonitorError

from .atomic import atomic_write

SCHEME = "s3://"
DOWNLOADS = 8
"""Files fetched at once when a query needs several missing ones."""
_client: Any = None
_client_lock = threading.Lock()


class Moved(MonitorError):
    """A conditional write found the object changed (or created) by another writer."""


def split(url: str) -> tuple[str, str]:
    """(bucket, key) of an s3 URL."""
    bucket, _, key = url.removeprefix(SCHEME).partition("/")
    return bucket, key


def client() -> Any:
    """The process's S3 client (boto3, configured by the AWS_* environment; thread-safe)."""
    global _client
    with _client_lock:
        if _client is None:
            import boto3
            from botocore.config import Config

            config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=DOWNLOADS * 2)
            _client = boto3.session.Session().client("s3", config=config)
        return _client


def reset_client() -> None:
    """Forget the client (a test that points the environment at another server)."""
    global _client
    with _client_lock:
        _client = None


def fetch(url: str, path: Path) -> Path:
    """Download `url` to `path` atomically (a file already there is the same immutable object)."""
    if path.exists():
        return path
    bucket, key = split(url)

    def write(tmp: Path) -> None:
        client().download_file(bucket, key, str(tmp))

    return atomic_write(path, write)


def fetch_missing(pairs: Iterable[tuple[str, Path]]) -> None:
    """Download every (url, path) whose path is missing, several at once."""
    missing = [(url, path) for url, path in pairs if not path.exists()]
    if len(missing) == 1:
        fetch(*missing[0])
    elif missing:
        with ThreadPoolExecutor(min(DOWNLOADS, len(missing))) as pool:
            list(pool.map(lambda pair: fetch(*pair), missing))


def evict(table_uri: str, folder: Path) -> int:
    """Remove the cached copies under `folder` whose objects are gone from the table at
    `table_uri` (deleted by `vacuum`, this host's or another's); returns how many."""
    bucket, prefix = split(table_uri.rstrip("/") + "/")
    pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    present = {o["Key"] for page in pages for o in page.get("Contents", [])}
    gone = 0
    for path in folder.glob("*=*/*.parquet") if folder.is_dir() else ():
        if prefix + path.relative_to(folder).as_posix() not in present:
            path.unlink(missing_ok=True)
            gone += 1
    return gone


def exists(prefix: str) -> bool:
    """True when some object's key starts with the URL `prefix`."""
    bucket, key = split(prefix)
    return bool(client().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("KeyCount", 0))


def read(url: str) -> tuple[bytes, str] | None:
    """The object's bytes and ETag, or None if there is none."""
    bucket, key = split(url)
    s3 = client()
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return None
    return answer["Body"].read(), answer["ETag"]


def write(url: str, data: bytes, etag: str | None) -> str:
    """Put `data` only if the object is still at `etag` (None: only if there is none); returns the
    new ETag, or raises `Moved` naming the object."""
    from botocore.exceptions import ClientError

    bucket, key = split(url)
    condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
    try:
        answer = client().put_object(Bucket=bucket, Key=key, Body=data, **condition)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
            raise Moved(f"{url}: another writer changed it since it was read; nothing was overwritten") from None
        raise
    return str(answer["ETag"])


def cache_bytes(folder: Path) -> int:
    """Size of the cached data files under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*.parquet") if p.is_file()) if folder.is_dir() else 0


def local_path(table_uri: str, folder: Path, uri: str) -> Path:
    """Where the data file `uri` of the table at `table_uri` is cached under `folder`."""
    return folder / uri.removeprefix(table_uri.rstrip("/") + "/")
