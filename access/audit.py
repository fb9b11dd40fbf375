"""The audit trail: who did what and when, one JSON line per action, append-only, hash-chained.

Why JSON lines with a lock and a chain: several dashboard sessions write at once; each append
holds an exclusive lock on the file while it reads the last line and writes its own, so lines
never interleave. Each record carries `prev`, the SHA-256 of the line before it, so editing or
deleting a line in the middle breaks the chain at the next one (`verify` says where). Lines are
pure ASCII JSON (`ensure_ascii`), so no character in a detail (U+2028, a newline) can split a
record; the reader splits on `\n` only. A crash loses at most the line being written; a torn
last line is skipped by the reader and closed off by the next append.

Example:
    >>> log = AuditLog(Path("data/audit/audit.jsonl"))
    >>> log.append("ana@example.com", "admin", "sql", "SELECT 1")["action"]
    'sql'
    >>> log.verify().ok
    True
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_DETAIL = 4_000
ACTIONS = (
    "sign_in",
    "budget_edit",
    "budget_delete",
    "limit_edit",
    "limit_delete",
    "key_label",
    "test_email",
    "test_channel",
    "sql",
    "export",
)
GENESIS = "0" * 64
"""The `prev` of the first record of a file."""
TAIL_CHUNK = 65_536


def audit_path(data_dir: Path) -> Path:
    return Path(data_dir) / "audit" / "audit.jsonl"


def line_hash(line: bytes) -> str:
    """The SHA-256 (hex) of one line, without its newline: the next record's `prev`."""
    return hashlib.sha256(line).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """What `verify` found: `ok`, the records checked, the first broken line (1-based), older unchained lines."""

    ok: bool
    records: int
    broken_at: int | None = None
    unchained: int = 0

    def summary(self) -> str:
        if not self.ok:
            return f"The hash chain is broken at line {self.broken_at}: the file was edited after it was written."
        older = f" ({self.unchained} older lines predate the chain)" if self.unchained else ""
        return f"The hash chain verifies over {self.records:,} records{older}."


def _tail(fd: int) -> tuple[bytes, bool]:
    """The file's last line (without newline) and whether the file ends with a newline; (b"", True) when empty."""
    size = os.lseek(fd, 0, os.SEEK_END)
    if size == 0:
        return b"", True
    data = b""
    pos = size
    while pos > 0:
        step = min(TAIL_CHUNK, pos)
        pos -= step
        data = os.pread(fd, step, pos) + data
        body = data[:-1] if data.endswith(b"\n") else data
        if b"\n" in body or pos == 0:
            break
    ends = data.endswith(b"\n")
    body = data[:-1] if ends else data
    return body.rsplit(b"\n", 1)[-1], ends


@dataclass(frozen=True)
class AuditLog:
    path: Path

    def append(self, who: str, role: str, action: str, detail: str = "") -> dict[str, Any]:
        """Write one record and return it; `detail` is cut to MAX_DETAIL characters. OSError when it cannot be
        written: callers record first and abort the action then."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last, ends = _tail(fd)
            record = {
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "who": who,
                "role": role,
                "action": action,
                "detail": detail[:MAX_DETAIL],
                "prev": line_hash(last) if last else GENESIS,
            }
            line = json.dumps(record, ensure_ascii=True).encode("ascii")
            os.write(fd, (b"" if ends else b"\n") + line + b"\n")
        finally:
            os.close(fd)
        return record

    def _lines(self) -> list[bytes]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        return lines[:-1] if lines and lines[-1] == b"" else lines

    def read(self, limit: int = 1_000) -> list[dict[str, Any]]:
        """The newest `limit` records, newest first; unreadable lines are skipped."""
        out: list[dict[str, Any]] = []
        for line in reversed(self._lines()):
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(record, dict):
                out.append({k: v for k, v in record.items() if k != "prev"})
            if len(out) >= limit:
                break
        return out

    def verify(self) -> ChainCheck:
        """Check every chained line's `prev` against the line before it. Lines before the first chained one
        (written before the chain existed) count as unchained; an unreadable line (a torn write) is covered
        by the next record's `prev`, which hashed it as it was."""
        lines = self._lines()
        chained = unchained = 0
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not isinstance(record, dict) or "prev" not in record:
                if chained:
                    return ChainCheck(False, chained, number, unchained)
                unchained += 1
                continue
            expected = line_hash(lines[number - 2]) if number > 1 else GENESIS
            if record["prev"] != expected:
                return ChainCheck(False, chained, number, unchained)
            chained += 1
        return ChainCheck(True, chained, None, unchained)
