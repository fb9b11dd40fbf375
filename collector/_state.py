"""What the collector remembers between runs: cursors, per-source status, quarantine.

Why these are separate files written atomically: the cursor is advanced only after the rows
it covers are durable, and a SIGKILL between the two must leave the old cursor (a replay that
dedupe absorbs), never a cursor ahead of its rows.

Why `advance` is a compare-and-swap: one process polls a source at a time (the job lock in
`_runner`), but if that lock ever fails, a poll must not move a cursor another poll moved
meanwhile; it moves it from the cursor it read, or not at all. The file's read-modify-write
runs under `state/cursors.lock`, so two processes updating two sources keep both.

Why the cursors live beside the ledger on S3: a collector started on a fresh host, with only the
config and the same `s3://` data_dir, must resume exactly where the last one stopped. With an s3
data_dir, `cursors.json` and `batches.json` are the objects `<data_dir>/state/...` (the lock
stays host-local, in the working folder), and every update is a conditional put: `If-Match` on
the ETag read (`If-None-Match` for the first write). A 412 means another host moved the object
since it was read (`ledger.storage.remote.Moved`): the update reads it again and is decided
again, so a cursor another host moved is reported as moved (`advance` returns False), never
overwritten; last-writer-wins cannot happen. The status file is such an object too (both hosts'
updates land), and each quarantine file is also an object that readers copy into the working
folder (`ledger.storage.remote`: `beside`, `put`, `mirror`), so nothing here is host-local but
the locks.

Example:
    >>> cursors = CursorStore(Path("data"))
    >>> cursors.set("simulator", "m.29383.4")
    >>> cursors.advance("simulator", "m.29383.4", "m.29384.0"), cursors.advance("simulator", "m.29383.4", "x")
    (True, False)
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from foundation.locks import FileLock
from foundation.scrub import scrubbed_json
from ledger.storage import Document, remote
from ledger.storage.atomic import atomic_write_bytes

from ._records import Rejected

STATUS = "state/collector.json"
"""The status file's place under the data_dir (a file, or the object beside an S3 ledger)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _storable(raw: Any) -> Any:
    """`raw` if orjson can write it, else its text: orjson refuses nesting deeper than 254."""
    try:
        orjson.dumps(raw)
    except orjson.JSONEncodeError:
        return _deep_text(raw)
    return raw


def _deep_text(raw: Any) -> str:
    """JSON text of a deeply nested value, built without recursion."""
    out: list[str] = []
    stack: list[Any] = [raw]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            out.append(item.text)
        elif isinstance(item, dict):
            stack.append(_Raw("}"))
            for n, (key, value) in enumerate(reversed(list(item.items()))):
                stack.extend([value, _Raw(orjson.dumps(str(key)).decode() + ":")])
                if n < len(item) - 1:
                    stack.append(_Raw(","))
            stack.append(_Raw("{"))
        elif isinstance(item, list):
            stack.append(_Raw("]"))
            for n, value in enumerate(reversed(item)):
                stack.append(value)
                if n < len(item) - 1:
                    stack.append(_Raw(","))
            stack.append(_Raw("["))
        else:
            out.append(orjson.dumps(item, default=str).decode())
    return "".join(out)


class _Raw:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class CursorStore:
    """Source name -> opaque cursor, in `<data_dir>/state/cursors.json`; beside it, in
    `batches.json`, the number of pages whose cursor moved (the ledger's batch number, recorded in
    each page's commit: a page retried after a crash carries the number of the one committed).
    With an s3 data_dir both are objects under `<data_dir>/state/` (see the module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "state" / "cursors.json"
        self.batches = self.path.with_name("batches.json")
        self._cursors = Document(self.path, remote.beside(data_dir, "state/cursors.json"))
        self._batches = Document(self.batches, remote.beside(data_dir, "state/batches.json"))
        self._lock = FileLock(self.path.with_name("cursors.lock"), "collector cursors")

    def batch(self, source: str) -> int:
        """How many of `source`'s pages moved its cursor (0 when unknown)."""
        value = self._batches.read()[0].get(source)
        return value if isinstance(value, int) else 0

    def get(self, source: str) -> str | None:
        value = self._cursors.read()[0].get(source)  # the file is only ever replaced whole
        return value if isinstance(value, str) else None

    def set(self, source: str, cursor: str) -> None:
        with self._lock.held():
            self._cursors.put(source, cursor)

    def advance(self, source: str, expected: str | None, cursor: str, batch: int | None = None) -> bool:
        """Move `source` from `expected` to `cursor` (and its batch count to `batch`); False
        (nothing written) if it is not at `expected`. A crash between the two files leaves a
        count behind its cursor: its next page is then taken for a replay, and the id check
        still stores its rows (ledger.storage.ingest)."""
        with self._lock.held():
            if not self._cursors.put(source, cursor, unless=lambda now: now != expected):
                return False
            if batch is not None:
                self._batches.put(source, batch)
            return True


class StatusBoard:
    """Per-source health and the failover lease in `<data_dir>/state/collector.json`, read by the
    dashboard (ledger.queries.freshness). With an s3 data_dir it is the object of that name beside
    the ledger, updated by conditional puts (`Document.update`), so a dashboard on another host sees
    the collector's health and lease and two hosts' updates both land; always scrubbed."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "state" / "collector.json"
        self._lock = FileLock(self.path.with_name("collector.lock"), "collector status")
        self._doc = Document(self.path, remote.beside(data_dir, STATUS), lambda data: scrubbed_json(data, indent=True))

    def record(
        self,
        source: str,
        kind: str,
        poll_seconds: int,
        ok: bool,
        records: int,
        quarantined: int,
        error: str | None = None,
    ) -> None:
        def change(data: dict[str, Any]) -> bool:
            entry = data.setdefault("sources", {}).setdefault(source, {"records_total": 0, "quarantined_total": 0})
            now = _now()
            entry.update(kind=kind, poll_seconds=poll_seconds, last_attempt=now, last_error=error)
            if ok:
                entry["last_success"] = now
            entry.setdefault("last_success", None)
            entry["records_total"] += records
            entry["quarantined_total"] += quarantined
            data["updated_at"] = now
            return True

        with self._lock.held():
            self._doc.update(change)

    def record_lease(self, holder: str | None, token: int | None, seconds: int) -> None:
        """Who is the active collector (`[collector] lease_url`); holder None: released, nobody yet."""

        def change(data: dict[str, Any]) -> bool:
            data["lease"] = {"holder": holder, "token": token, "lease_seconds": seconds, "since": _now()}
            return True

        with self._lock.held():
            self._doc.update(change)

    def read(self) -> dict[str, Any]:
        return self._doc.read()[0]


class Quarantine:
    """Rejected records with their reasons, one JSON-lines file per page.

    The file name derives from the cursor the page started at, so a replayed page rewrites
    the same file instead of quarantining its records twice. With an s3 data_dir each file is
    also the object `<data_dir>/quarantine/<source>/<key>.jsonl` (a replay puts it again), and
    readers (`count`) first copy every host's objects into the working folder.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "quarantine"
        self.url = remote.beside(data_dir, "quarantine")

    def put(self, source: str, cursor: str | None, rejected: list[Rejected]) -> Path | None:
        if not rejected:
            return None
        key = hashlib.sha256(f"{source}\x1f{cursor or ''}".encode()).hexdigest()[:16]
        at = _now()
        lines = (
            scrubbed_json({"source": source, "after": cursor, "reason": r.reason, "raw": _storable(r.raw), "at": at})
            for r in rejected
        )
        body = b"\n".join(lines) + b"\n"
        if self.url is not None:
            remote.put(f"{self.url}/{source}/{key}.jsonl", body)
        return atomic_write_bytes(self.root / source / f"{key}.jsonl", body)

    def files(self) -> list[Path]:
        """Every quarantine file (on S3 every host's, copied into the working folder first)."""
        if self.url is not None:
            remote.mirror(self.url, self.root)
        return sorted(self.root.glob("*/*.jsonl"))

    def count(self) -> int:
        """How many records are quarantined in all."""
        return sum(p.read_bytes().count(b"\n") for p in self.files())
