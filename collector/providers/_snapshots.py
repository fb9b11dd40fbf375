"""Raw provider responses kept as dated files, so nothing a preview API sent is ever lost.

Why: the Admin API is a preview whose per-model entries are free-form. When its shape changes
the parser may recognise less, but the snapshot still holds every byte, and a later version
can re-read it. Registered secrets are scrubbed before writing, in case a body echoes a key.

Layout: `<data_dir>/snapshots/<source>/<YYYY-MM-DD>/<endpoint>-<HHMMSS>.json` (UTC).

Example:
    >>> from datetime import UTC
    >>> now = datetime(2026, 5, 14, 9, 30, tzinfo=UTC)
    >>> save_snapshot(Path("data"), "mistral_admin", "usage-2026-05", b"{...}", now)
    PosixPath('data/snapshots/mistral_admin/2026-05-14/usage-2026-05-093000.json')
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from foundation.scrub import scrub
from ledger.billing import safe_name
from ledger.storage.atomic import atomic_write_bytes

SNAPSHOTS = "snapshots"


def snapshot_dir(data_dir: Path, source: str) -> Path:
    return Path(data_dir) / SNAPSHOTS / safe_name(source)


def save_snapshot(data_dir: Path, source: str, endpoint: str, body: bytes, now: datetime) -> Path:
    """Write one response body; a second one in the same second gets a numbered name."""
    folder = snapshot_dir(data_dir, source) / now.date().isoformat()
    stem = f"{safe_name(endpoint)}-{now:%H%M%S}"
    path = folder / f"{stem}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.json"
    return atomic_write_bytes(path, scrub(body.decode("utf-8", errors="replace")).encode())
