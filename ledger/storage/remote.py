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

Why the rest (`beside`, `put`, `create`, `update`, `mirror`): a collector or dashboard started
on a fresh host must resume from the bucket alone, so every piece of state beside the ledger is an
object under the data_dir's URL (`beside`), kept one of three ways: rewritten whole when a replay
writes the same bytes again (`put`: quarantine files), written once and never over another host's
object (`create`, `If-None-Match: *`, False on a 412: provider snapshots), or read-modify-written
by conditional puts, read and changed again on a 412 (`update`: FX rates, `Document`). Readers that
open local files get the objects copied into the working folder first (`mirror`). A hidden side file
in the folder (`MIRROR_SIDE`) records, per copy the mirror made, the ETag and size of the object it
came from and the copy's own size and mtime: a copy is fetched again only when its object's ETag or
size moved (no byte hashed, and right when the ETag is no MD5: SSE-KMS, multipart uploads), and
removed once its object is gone from the listing, unless the file was changed here since (a file the
mirror never made is never removed). A download is entered before its copy takes its name, so a
mirror SIGKILLed at any instant still knows every copy it made. Without an entry (a folder a former
version filled, a host's own quarantine file) a copy whose MD5 is the object's single-part ETag is
adopted, anything else downloaded once. A reader that runs on every query lists the bucket at most
every MIRROR_SECONDS (`mirror_every`: FX rates, the spend-limit and rate-limit readings, the price
sheets), a minute behind the writer at worst for one LIST per minute, rather than a LIST per chart.

Endpoint and credentials: boto3 reads the standard AWS environment, as delta-rs does.

Example:
    >>> split("s3://ledger/team-a/state/cursors.json")
    ('ledger', 'team-a/state/cursors.json')
"""

from __future__ import annotations

import functools
import hashlib
import math
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import orjson

from foundation import location
from foundation.errors import MonitorError
from foundation.locks import FileLock

from .atomic import atomic_write, atomic_write_bytes, stale_temps

SCHEME = "s3://"
DOWNLOADS = 8
"""Files fetched at once when a query needs several missing ones."""
UPDATE_TRIES = 5
"""Conditional puts on S3 refused because another host wrote meanwhile, before giving up loudly."""
MIRROR_SECONDS = 60.0
"""How long a process reads its copies of a prefix `mirror_every` keeps before listing the bucket
again (the collector writes rates, readings and sheets every few minutes to hours)."""
TEMP_SECONDS = 3600.0
"""A temp file under a mirrored folder older than this is a killed writer's leftover, which `mirror` removes."""
MIRROR_SIDE = ".mirror.json"
"""In a mirrored folder: the prefix and, per copy the mirror made, the ETag and size of the object it
was downloaded from and the copy's mtime (hidden: readers skip names starting with ".")."""
MIRROR_LOCK = ".mirror.lock"
"""In a mirrored folder: the lock one mirror of it at a time holds on this host."""
_OWN = frozenset({MIRROR_SIDE, MIRROR_LOCK})
_client: Any = None
_client_lock = threading.Lock()
_mirrored: dict[tuple[str, Path], float] = {}
_mirrored_lock = threading.Lock()


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
    for path in folder.glob("*=*/**/*.parquet") if folder.is_dir() else ():
        if prefix + path.relative_to(folder).as_posix() not in present:
            path.unlink(missing_ok=True)
            gone += 1
    return gone


def exists(prefix: str) -> bool:
    """True when some object's key starts with the URL `prefix`."""
    bucket, key = split(prefix)
    return bool(client().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("KeyCount", 0))


def has(url: str) -> bool:
    """True when the object at `url` exists (one HEAD request)."""
    from botocore.exceptions import ClientError

    bucket, key = split(url)
    try:
        client().head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code", "") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


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


def beside(data_dir: Path, relative: str) -> str | None:
    """The object URL of `<data_dir>/<relative>` when data_dir is an s3 working folder; None for
    a local data_dir (whose file stays where it is)."""
    url = location.url_of(Path(data_dir))
    return None if url is None else f"{url}/{relative}"


def put(url: str, data: bytes) -> str:
    """Put `data` whatever is there (for an object a replay writes again whole); the new ETag."""
    bucket, key = split(url)
    return str(client().put_object(Bucket=bucket, Key=key, Body=data)["ETag"])


def create(url: str, data: bytes) -> bool:
    """Put `data` only if there is no object yet (`If-None-Match: *`); False, nothing written,
    when another writer's object is already there."""
    try:
        write(url, data, None)
    except Moved:
        return False
    return True


def update(url: str, change: Callable[[bytes | None], bytes | None]) -> bool:
    """Read-modify-write by conditional puts: `change` gets the object's bytes (None when there is
    none) and returns the new bytes, or None to write nothing (then False). A put refused because
    another writer moved the object is read and changed again, up to UPDATE_TRIES, then `Moved`."""
    for attempt in range(UPDATE_TRIES):
        found = read(url)
        body = change(None if found is None else found[0])
        if body is None:
            return False
        try:
            write(url, body, None if found is None else found[1])
            return True
        except Moved:
            if attempt == UPDATE_TRIES - 1:
                raise
    raise AssertionError("unreachable")


def mirror(prefix: str, folder: Path) -> list[Path]:
    """Copy every object under the URL `prefix` into `folder` (same relative path) unless the copy
    there is current (`_current`), and remove the copies this mirror made whose object is gone
    (unless changed here since); every copy's path, sorted. A local file the mirror never made is
    left alone; a key ending in `/`, holding a `..` part or naming the mirror's own files is skipped.
    One mirror of a folder at a time on this host (`MIRROR_LOCK`), so two processes never write the
    side file (`MIRROR_SIDE`) from different downloads.

    Killed at any instant, it still knows every copy it made: a download is entered in the side file
    as pending before its copy takes its name, so the next mirror removes it once its object is gone
    (tests/ledger/test_s3_mirror_kill.py); the temp file a killed writer left is removed once it is
    TEMP_SECONDS old."""
    folder = Path(folder)
    bucket, key = split(prefix.rstrip("/") + "/")
    with FileLock(folder / MIRROR_LOCK, f"mirror of {prefix}").held():
        made = _read_side(folder, prefix)
        recorded = {name: found[0] for name, found in made.items()}
        pending = {name: list(found[1:]) for name, found in made.items() if found[1:]}
        copies: dict[str, Copy] = {}

        def enter(relative: str, copy: Copy) -> None:
            pending.setdefault(relative, []).append(copy)
            _write_side(folder, prefix, recorded, pending)

        pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        for page in pages:
            for found in page.get("Contents", []):
                relative = found["Key"][len(key) :]
                if not _mirrorable(relative):
                    continue
                path = folder / relative
                copy = _current(path, found["ETag"], found["Size"], _ours(path, made.get(relative, ())))
                if copy is None:
                    copy = _download(bucket, found["Key"], path, functools.partial(enter, relative))
                if copy is not None:
                    copies[relative] = copy
        for relative, candidates in made.items():
            if relative not in copies and _ours(folder / relative, candidates) is not None:
                (folder / relative).unlink(missing_ok=True)
        for leftover in stale_temps(folder, TEMP_SECONDS):
            leftover.unlink(missing_ok=True)
        if made != {relative: (copy,) for relative, copy in copies.items()}:
            _write_side(folder, prefix, copies, {})
    return sorted(folder / relative for relative in copies)


def _write_side(folder: Path, prefix: str, copies: dict[str, Copy], pending: dict[str, list[Copy]]) -> None:
    body = {
        "url": prefix,
        "copies": {name: astuple(copy) for name, copy in sorted(copies.items())},
        "pending": {name: [astuple(copy) for copy in found] for name, found in sorted(pending.items())},
    }
    atomic_write_bytes(folder / MIRROR_SIDE, orjson.dumps(body))


def _ours(path: Path, candidates: tuple[Copy, ...]) -> Copy | None:
    """The copy among `candidates` the file at `path` still is (untouched since the mirror wrote it)."""
    return next((copy for copy in candidates if copy.describes(path)), None)


@dataclass(frozen=True)
class Copy:
    """A copy `mirror` wrote (or found equal to its object): the object's ETag and size, and the
    copy's mtime (ns) as the mirror left it, so a file rewritten here since is told apart."""

    etag: str
    size: int
    mtime_ns: int

    def describes(self, path: Path) -> bool:
        """Whether the file at `path` is still this copy, untouched since (size and mtime)."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return False
        return (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns)


def _mirrorable(relative: str) -> bool:
    """A key (relative to the mirrored prefix) that names a file inside the folder, not ours."""
    parts = relative.split("/")
    return bool(relative) and not relative.endswith("/") and ".." not in parts and relative not in _OWN


def _read_side(folder: Path, prefix: str) -> dict[str, tuple[Copy, ...]]:
    """What the side file says the mirror made (relative path -> the copies that may be there: the one
    recorded, then any a killed mirror entered as pending); none when it is missing, unreadable or
    written for another prefix."""
    try:
        body = orjson.loads((folder / MIRROR_SIDE).read_bytes())
        if body["url"] != prefix:
            return {}
        made: dict[str, tuple[Copy, ...]] = {}
        for name, (etag, size, mtime_ns) in body["copies"].items():
            made[str(name)] = (Copy(str(etag), int(size), int(mtime_ns)),)
        for name, found in body.get("pending", {}).items():
            later = tuple(Copy(str(etag), int(size), int(mtime_ns)) for etag, size, mtime_ns in found)
            made[str(name)] = made.get(str(name), ()) + later
        return {name: found for name, found in made.items() if _mirrorable(name)}
    except (OSError, orjson.JSONDecodeError, TypeError, KeyError, ValueError, AttributeError):
        return {}


def _current(path: Path, etag: str, size: int, made: Copy | None) -> Copy | None:
    """The local copy at `path` when it is the object's (ETag `etag`, `size` bytes), else None.

    The side file's word first: the copy was downloaded from (or found equal to) the object at
    this ETag and is untouched since, so no byte is read, whatever the ETag is (the MD5 of the
    bytes for a single-part put, not for SSE-KMS or a multipart upload). Otherwise (no side file,
    a copy written here since, an object put again) the copy's MD5 against an ETag that may be one:
    equal bytes are adopted (a host's own quarantine file, a copy a former version made). Never
    the time: LastModified is to the second, so a same-size rewrite within one second would pass.
    """
    if made is not None and (made.etag, made.size) == (etag, size) and made.describes(path):
        return made
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    digest = etag.strip('"')
    if stat.st_size != size or len(digest) != 32 or "-" in digest:
        return None
    if hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() != digest:
        return None  # other bytes, or an ETag that is not an MD5 (SSE-KMS): downloaded, once
    return Copy(etag, size, stat.st_mtime_ns)


def _download(bucket: str, name: str, path: Path, before: Callable[[Copy], object]) -> Copy | None:
    """Fetch the object `name` to `path` atomically, calling `before(copy)` once the bytes are down and
    before they take the name; the copy as written (the ETag of the bytes fetched, which may be newer
    than the listing's), or None when the object is gone."""
    got: list[Copy] = []

    def write(tmp: Path) -> None:
        answer = client().get_object(Bucket=bucket, Key=name)
        with closing(answer["Body"]) as body, tmp.open("wb") as out:
            shutil.copyfileobj(body, out)
        stat = tmp.stat()
        got.append(Copy(str(answer["ETag"]), stat.st_size, stat.st_mtime_ns))
        before(got[0])

    try:
        atomic_write(path, write)
    except client().exceptions.NoSuchKey:
        return None  # deleted since the listing: as if it had not been listed
    return got[0]


def mirror_every(prefix: str, folder: Path) -> bool:
    """`mirror(prefix, folder)` unless this process did so less than MIRROR_SECONDS ago (monotonic
    clock, per prefix and folder); True when it mirrored."""
    now, key = time.monotonic(), (prefix, Path(folder))
    with _mirrored_lock:
        due = now - _mirrored.get(key, -math.inf) >= MIRROR_SECONDS
        if due:
            _mirrored[key] = now
    if due:
        mirror(prefix, folder)
    return due


def cache_bytes(folder: Path) -> int:
    """Size of the cached data files under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*.parquet") if p.is_file()) if folder.is_dir() else 0


def local_path(table_uri: str, folder: Path, uri: str) -> Path:
    """Where the data file `uri` of the table at `table_uri` is cached under `folder`."""
    return folder / uri.removeprefix(table_uri.rstrip("/") + "/")
