"""Raw provider responses kept as dated files, so nothing a preview API sent is ever lost.

Why: the Admin API is a preview whose per-model entries are free-form. When its shape changes
the parser may recognise less, but the snapshot still holds every byte, and a later version
can re-read it. Registered secrets are scrubbed before writing, in case a body echoes a key.

Layout: `<data_dir>/snapshots/<source>/<YYYY-MM-DD>/<endpoint>-<HHMMSS>.json` (UTC). With an s3
data_dir each snapshot is first written once as the object of that name beside the ledger
(`remote.create`: a name another host took gets the next number, never overwritten), then kept in
the working folder too; `snapshot_files` copies every host's snapshots there before listing.

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
from ledger.storage import remote
from ledger.storage.atomic import atomic_write_bytes

SNAPSHOTS = "snapshots"


def snapshot_dir(data_dir: Path, source: str) -> Path:
    return Path(data_dir) / SNAPSHOTS / safe_name(source)


def save_snapshot(data_dir: Path, source: str, endpoint: str, body: bytes, now: datetime) -> Path:
    """Write one response body; a second one in the same second gets a numbered name."""
    folder = snapshot_dir(data_dir, source) / now.date().isoformat()
    stem = f"{safe_name(endpoint)}-{now:%H%M%S}"
    url = remote.beside(data_dir, folder.relative_to(Path(data_dir)).as_posix())
    data = scrub(body.decode("utf-8", errors="replace")).encode()
    path = folder / f"{stem}.json"
    n = 1
    while path.exists() if url is None else not remote.create(f"{url}/{path.name}", data):
        n += 1
        path = folder / f"{stem}-{n}.json"
    return atomic_write_bytes(path, data)


def snapshot_files(data_dir: Path, source: str) -> list[Path]:
    """Every snapshot of `source`, oldest day first (on S3 every host's, copied into the working folder)."""
    folder = snapshot_dir(data_dir, source)
    url = remote.beside(data_dir, folder.relative_to(Path(data_dir)).as_posix())
    if url is not None:
        remote.mirror(url, folder)
    return sorted(folder.glob("*/*.json"))
