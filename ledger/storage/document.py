"""One JSON object of state beside the ledger: a local file, or an S3 object written by conditional puts.

Why one class for both: whoever keeps state beside the ledger (the collector's cursors and status,
the alerts' state and outbox) must resume on a fresh host when the data_dir is `s3://`, and must never let two
hosts both win a read-modify-write. Locally the file is replaced atomically (temp + fsync + rename,
under the caller's lock); on S3 `write` puts with `If-Match` on the ETag read (`If-None-Match` when
there was none), and a 412 is `remote.Moved`: the caller reads again and decides again, or fails
(`update` and `put` do so through `remote.update`, the one such loop).

Example:
    >>> doc = Document(Path("data/state/cursors.json"), None)
    >>> doc.put("simulator", "m.1.0"), doc.read()
    (True, ({'simulator': 'm.1.0'}, None))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from . import remote
from .atomic import atomic_write_bytes


def indented(data: dict[str, Any]) -> bytes:
    """A document's default form: JSON indented by two spaces."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2)


UPDATE_TRIES = remote.UPDATE_TRIES


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in the file at `path`; {} when there is none (or it is not an object)."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


class Document:
    """A JSON object at `path` (a local file, replaced atomically under the caller's lock), or at
    `url` when it is not None (an S3 object; `tag` is the ETag read, None when there was none);
    `encode` turns the object into the bytes written (e.g. scrubbed JSON)."""

    def __init__(self, path: Path, url: str | None, encode: Callable[[dict[str, Any]], bytes] = indented) -> None:
        self.path, self.url, self.encode = path, url, encode

    def read(self) -> tuple[dict[str, Any], str | None]:
        """The object and its ETag (None locally, or when there is no object yet)."""
        if self.url is None:
            return read_json(self.path), None
        found = remote.read(self.url)
        if found is None:
            return {}, None
        data = orjson.loads(found[0])
        return (data if isinstance(data, dict) else {}), found[1]

    def write(self, data: dict[str, Any], tag: str | None) -> str | None:
        """Replace the object; on S3 only if it is still at `tag` (else `remote.Moved`). The new
        ETag (None locally)."""
        body = self.encode(data)
        if self.url is None:
            atomic_write_bytes(self.path, body)
            return None
        return remote.write(self.url, body, tag)

    def update(self, change: Callable[[dict[str, Any]], bool]) -> bool:
        """Read-modify-write: `change` edits the object in place and says whether to write it (False:
        nothing written, and False returned). Locally under the caller's lock; on S3 again from a
        fresh read if another host wrote meanwhile (`remote.update`)."""
        if self.url is None:
            data = read_json(self.path)
            if not change(data):
                return False
            self.write(data, None)
            return True

        def edit(body: bytes | None) -> bytes | None:
            loaded = {} if body is None else orjson.loads(body)
            data = loaded if isinstance(loaded, dict) else {}
            return self.encode(data) if change(data) else None

        return remote.update(self.url, edit)

    def put(self, key: str, value: Any, unless: Callable[[Any], bool] | None = None) -> bool:
        """Set `key` to `value`, read-modify-write, again from a fresh read if another host wrote
        meanwhile; with `unless` (a function of the current value), False and nothing written when
        it says so."""

        def change(data: dict[str, Any]) -> bool:
            if unless is not None and unless(data.get(key)):
                return False
            data[key] = value
            return True

        return self.update(change)
