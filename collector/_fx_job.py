"""The `fx` job: fetch the ECB's reference rates into `<data_dir>/fx/rates.csv` when `[fx] url` is set
(with an s3 data_dir, the object of that name beside the ledger, which every host's readers copy).

Why merge, never replace: the daily document holds one day; history builds up run by run
(or comes at once from eurofxref-hist). A failed fetch is retried (`max_retries`, short
backoff) and, if it still fails or the document cannot be read, the table on disk is left
exactly as it was, so the dashboard keeps converting with the rates it had.

Example (collector/example.toml):
    [fx]
    url = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist-90d.xml"
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from foundation.config import FxConfig
from foundation.jobs import Job
from foundation.log import event_logger
from ledger.pricing import fx
from ledger.storage import remote
from ledger.storage.atomic import atomic_write_bytes

from ._context import Context
from ._http import read_capped
from .errors import CollectorError

log = event_logger("collector")

MAX_BYTES = 32 * 1024 * 1024
"""eurofxref-hist.xml (every day since 1999) is ~6 MB; anything far larger is not that document."""
BACKOFF_SECONDS = 1.0


class FetchError(CollectorError):
    """The rates could not be fetched or read; the message says why (never a secret: the URL has none)."""


def fetch_rates(settings: FxConfig, backoff: float = BACKOFF_SECONDS) -> list[fx.Rate]:
    """GET settings.url and parse it, retrying transport errors, 5xx and unreadable bodies."""
    assert settings.url is not None
    last = "not tried"
    for attempt in range(settings.max_retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            return fx.parse_ecb_xml(_get(settings.url, settings.timeout_seconds))
        except (httpx.HTTPError, fx.RateFileError, FetchError) as exc:
            last = f"{type(exc).__name__}: {exc}"
    raise FetchError(f"fx: {settings.url} failed {settings.max_retries + 1} times ({last}); the old rates are kept")


def _get(url: str, timeout: float) -> bytes:
    with httpx.Client(timeout=timeout, follow_redirects=True) as client, client.stream("GET", url) as response:
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code}")
        return read_capped(response, MAX_BYTES, lambda seen: FetchError(f"body over {MAX_BYTES} bytes ({seen})"))


def update_rates(data_dir: Path, settings: FxConfig, backoff: float = BACKOFF_SECONDS) -> int:
    """Fetch, merge into the stored table (fetched rows win) and write it atomically; the rows
    fetched. With an s3 data_dir the table is the object beside the ledger, merged by conditional
    puts (a put refused because another host wrote meanwhile is read and merged again), then
    copied into the working folder."""
    fetched = fetch_rates(settings, backoff)
    path = Path(data_dir) / fx.FETCHED
    source = f"ECB {settings.url}"
    url = remote.beside(data_dir, fx.FETCHED.as_posix())
    if url is None:
        fx.write_rate_csv(path, [*_stored(lambda: fx.read_rate_csv(path)), *fetched], source=source)
        return len(fetched)
    merged: list[bytes] = []

    def merge(body: bytes | None) -> bytes:
        text = "" if body is None else body.decode("utf-8", errors="replace")
        merged[:] = [fx.rate_csv([*_stored(lambda: fx.parse_rate_csv(text, url)), *fetched], source).encode()]
        return merged[0]

    remote.update(url, merge)
    atomic_write_bytes(path, merged[0])
    return len(fetched)


def _stored(read: Callable[[], list[fx.Rate]]) -> list[fx.Rate]:
    """The stored rows, or none (logged) when the stored table cannot be read."""
    try:
        return read()
    except fx.RateFileError as exc:
        log.warning("fx_table_unreadable", error=str(exc))
        return []


def fx_jobs(context: Context) -> list[Job]:
    """The fetch job, when `[fx] url` is set (the alerts engine converts with `fx.displaying`)."""

    settings = context.config.fx
    if settings.url is None:
        return []

    def run() -> bool:
        start = time.perf_counter()
        try:
            count = update_rates(context.data_dir, settings)
        except FetchError as exc:
            log.warning("fx_failed", error=str(exc), duration_s=round(time.perf_counter() - start, 3))
            return False
        log("fx", rates=count, duration_s=round(time.perf_counter() - start, 3))
        return True

    return [Job(name="fx", run=run, interval_seconds=settings.every_hours * 3600)]
