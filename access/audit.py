"""The audit trail: who did what and when, one JSON line per action, append-only.

Why JSON lines opened with O_APPEND: several dashboard sessions write at once; one short
`write` per record lands whole, so no lock and no rewrite (a crash loses at most the line
being written). Reading skips a torn last line instead of failing.

Example:
    >>> AuditLog(Path("data/audit/audit.jsonl")).append("ana@example.com", "admin", "sql", "SELECT 1")
    {'at': '...', 'who': 'ana@example.com', 'role': 'admin', 'action': 'sql', 'detail': 'SELECT 1'}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_DETAIL = 4_000
ACTIONS = ("budget_edit", "budget_delete", "test_email", "test_channel", "sql", "export", "sign_in")


def audit_path(data_dir: Path) -> Path:
    return Path(data_dir) / "audit" / "audit.jsonl"


@dataclass(frozen=True)
class AuditLog:
    path: Path

    def append(self, who: str, role: str, action: str, detail: str = "") -> dict[str, Any]:
        """Write one record and return it; `detail` is cut to MAX_DETAIL characters."""
        record = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "who": who,
            "role": role,
            "action": action,
            "detail": detail[:MAX_DETAIL],
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return record

    def read(self, limit: int = 1_000) -> list[dict[str, Any]]:
        """The newest `limit` records, newest first; unreadable lines are skipped."""
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        out: list[dict[str, Any]] = []
        for line in reversed(lines):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                out.append(record)
            if len(out) >= limit:
                break
        return out
