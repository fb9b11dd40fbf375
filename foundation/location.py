"""Where the ledger lives: a local folder, or `s3://bucket/prefix` with a local working folder.

Why a working folder for an S3 data_dir: every component is handed a `Path` (the collector's
`data_dir`, the gateway's `ledger_dir`, the SQL box's worker process) and every reader (DuckDB,
pyarrow, the rollups) opens local files. So an `s3://` data_dir resolves to a local folder, by
default `$XDG_CACHE_HOME/mistral-monitor/<bucket>/<prefix>` (`cache_dir` chooses another), that
holds what is host-local: the ledger lock and a read-through cache of the table's data files
(`ledger.storage.remote`). The folder stands for its URL through one small marker file in it,
`MARKER` (the URL, nothing secret), written by `data_dir()` when the config is read: any process
handed the folder finds the URL there (`url_of`), so the mapping needs no second channel.

Endpoint and credentials come only from the standard AWS environment (`AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`): never from the
config, the marker, a URL or a log line. Only `s3://` is accepted; any other scheme is refused
in one line and never taken for a local folder name.

Example:
    >>> check("s3://ledger/team-a/")
    's3://ledger/team-a'
    >>> check("gs://b/p")
    Traceback (most recent call last):
    ValueError: 'gs://b/p' is a URL; data_dir is a local folder or s3://bucket/prefix (the one object storage supported)
    >>> folder = data_dir("s3://ledger/team-a", base=Path("."), cache_dir="work")
    >>> url_of(folder), url_of(folder / "requests"), url_of(Path("data"))
    ('s3://ledger/team-a', 's3://ledger/team-a/requests', None)
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

SCHEME = "s3://"
MARKER = ".data_url"
"""The working folder's marker: the s3 URL it stands for, one line."""
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def is_url(value: str) -> bool:
    return bool(_URL.match(value))


def check(value: str) -> str:
    """A local folder as given, or a well-formed `s3://bucket[/prefix]` without its trailing
    slash; else ValueError saying what to write."""
    if not is_url(value):
        return value
    if not value.startswith(SCHEME):
        raise ValueError(
            f"{value[:80]!r} is a URL; data_dir is a local folder or s3://bucket/prefix (the one object storage "
            "supported)"
        )
    bucket, _, prefix = value[len(SCHEME) :].partition("/")
    prefix = prefix.strip("/")
    if not _BUCKET.match(bucket) or "//" in prefix or any(p in (".", "..") for p in prefix.split("/")):
        raise ValueError(f"{value[:80]!r} is not an S3 location; write e.g. s3://my-bucket/mistral-monitor")
    if "?" in value or "#" in value or "@" in bucket:
        raise ValueError(
            f"{value[:80]!r}: no query, fragment or credentials in data_dir; the AWS_* environment carries them"
        )
    return SCHEME + bucket + (f"/{prefix}" if prefix else "")


def default_cache(url: str) -> Path:
    """`$XDG_CACHE_HOME/mistral-monitor/<bucket>/<prefix>` (else under `~/.cache`)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "mistral-monitor" / url[len(SCHEME) :]


def data_dir(value: str, base: Path, cache_dir: str | None) -> Path:
    """The local folder a component is handed for the data_dir `value` (checked by `check`):
    a local folder, relative to `base`; for an s3 URL its working folder, marked with the URL.
    Raises ValueError when `cache_dir` already stands for another URL."""
    value = check(value)
    if not value.startswith(SCHEME):
        path = Path(value)
        return path if path.is_absolute() else (base / path).resolve()
    folder = default_cache(value) if cache_dir is None else Path(cache_dir)
    folder = folder if folder.is_absolute() else (base / folder).resolve()
    mark(folder, value)
    return folder


def mark(folder: Path, url: str) -> None:
    """Make `folder` the working folder of `url` (atomically, so a reader never sees half a URL)."""
    known = url_of(folder)
    if known == url:
        return
    if known is not None:
        raise ValueError(f"{folder} is already the working folder of {known}; choose another cache_dir for {url}")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{MARKER}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_text(url + "\n")
    os.replace(tmp, folder / MARKER)


def url_of(path: Path) -> str | None:
    """The s3 URL a working folder, or a folder up to two levels inside it (`<folder>/requests`,
    `<folder>/billed`), stands for; None for a local data_dir."""
    path = Path(path)
    inside = ((path.parent, f"/{path.name}"), (path.parent.parent, f"/{path.parent.name}/{path.name}"))
    for folder, tail in ((path, ""), *inside):
        try:
            url = (folder / MARKER).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            continue
        return url + tail
    return None
