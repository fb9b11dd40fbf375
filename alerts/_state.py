"""The alert state machine and its one persisted file: states, outbox and history together.

Why one file, written atomically: "mark the alert firing" and "queue its email" must happen
together or not at all. If they were two files, a SIGKILL between the writes would either
lose the email (state saved, outbox not) or send it twice (outbox saved, state not, so the
next run fires again). `<data_dir>/alerts/state.json` holds both, replaced in one rename.

Why beside the ledger on S3 (issue 21): with an s3 data_dir the file is the object
`<data_dir>/state/alerts.json` (`ledger.storage.Document`), so an engine on a fresh host goes on
from the last one's state and outbox: an alert still fires once. The lock stays host-local; a save
is a conditional put on the ETag read, and a 412 (`remote.Moved`: another host saved meanwhile)
overwrites nothing. The engine then decides again from a fresh read if it had sent nothing yet
(its first save), else fails loudly.

States per key (rule:scope:period): ok -> firing -> resolved (resolvable rules only) ->
firing again for a new incident. A budget threshold key only ever climbs: its level is the
highest threshold notified in the period; spend dropping back (a re-price) sends nothing,
and crossing 80% after 50% is one new email.

What is saved is declared below as TypedDicts (`SavedState` and its entries): the file is plain JSON
that older versions wrote and read, so the types describe it without changing a byte of it.

Example:
    >>> from datetime import UTC
    >>> from alerts._observation import Observation
    >>> now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    >>> crossed = Observation(key="threshold:search:2026-11", rule="threshold", scope="search", level=0.8,
    ...                       subject="search at 82%")
    >>> with StateStore(Path("data")).locked() as state:
    ...     first = advance(state, crossed, now, repeat_hours=0)
    ...     again = advance(state, crossed, now, repeat_hours=0)
    >>> first.kind, again
    ('fired', None)
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NotRequired, Required, TypedDict, cast

from foundation import location
from ledger.storage import Document

from ._names import printable
from ._observation import Observation

KEEP_HISTORY = 1000
KEEP_SENT = 300
FORGET_AFTER = timedelta(days=40)
_thread_lock = threading.Lock()


class AlertEntry(TypedDict, total=False):
    """One key's state (`state["alerts"][key]`): ok, firing or resolved, and the highest level notified."""

    state: Required[str]
    level: Required[float]
    rule: str
    scope: str
    expires: str | None
    checked_at: str
    since: str
    notified_at: str
    resolved_at: str


class Message(TypedDict, total=False):
    """An outbox entry: the composed fields (`compose`; a chat post also has channel, kind and body), then the
    delivery fields `pending` adds. Times are ISO 8601 strings with their offset."""

    id: Required[str]
    to: Required[str]
    subject: Required[str]
    keys: list[str]
    text: str
    html: str
    channel: str
    kind: str
    body: str
    status: str
    attempts: int
    created_at: str
    next_attempt_at: str
    expires_at: str
    sent_at: str | None
    last_error: str | None


class HistoryEntry(TypedDict, total=False):
    """One sent notice (`state["history"]`); older entries lack channels and link."""

    at: Required[str]
    key: str
    rule: str
    scope: str
    kind: str
    subject: str
    recipients: list[str]
    channels: list[str]
    link: str | None


class ChannelInfo(TypedDict, total=False):
    """A chat channel's delivery state (`state["channels"][name]`), shown on the Budgets page."""

    kind: str
    not_before: str | None
    last_ok_at: str
    last_error: str
    last_error_at: str


class StatementSent(TypedDict):
    """A monthly statement queued (`state["statements"]["<month>|<project>"]`)."""

    at: str
    emails: int


class SavedState(TypedDict):
    """`<data_dir>/alerts/state.json`, whole."""

    version: int
    alerts: dict[str, AlertEntry]
    outbox: list[Message]
    history: list[HistoryEntry]
    digests: dict[str, str]
    """When each digest period's digest was queued, by "<digest>:<period id>"."""
    channels: dict[str, ChannelInfo]
    statements: NotRequired[dict[str, StatementSent]]


@dataclass(frozen=True)
class Notice:
    """An email-worthy change: fired (first crossing / new incident), repeat, or resolved."""

    kind: str
    observation: Observation
    since: str

    @property
    def token(self) -> str:
        """Stable across re-runs: what makes the Message-ID deterministic."""
        return f"{self.observation.key}|{self.kind}|{self.observation.level}|{self.since}"


@dataclass(frozen=True, kw_only=True)
class HistoryRow:
    """One sent notice, as the Budgets page lists it (newest first)."""

    at: str
    kind: str
    rule: str
    scope: str
    subject: str
    recipients: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    key: str = ""
    link: str | None = None
    """The dashboard view the notice linked to (entries saved by older versions have none)."""

    @classmethod
    def read(cls, entry: HistoryEntry) -> HistoryRow:
        return cls(
            key=_text(entry, "key"),
            link=_maybe(entry, "link"),
            at=_text(entry, "at"),
            kind=_text(entry, "kind"),
            rule=_text(entry, "rule"),
            scope=_text(entry, "scope"),
            subject=_text(entry, "subject"),
            recipients=_texts(entry, "recipients"),
            channels=_texts(entry, "channels"),
        )


@dataclass(frozen=True, kw_only=True)
class OutboxRow:
    """One queued email or chat post: `status` is pending, sent or failed (expired)."""

    created_at: str
    status: str
    to: str
    subject: str
    attempts: int = 0
    last_error: str | None = None
    sent_at: str | None = None
    channel: str | None = None

    @classmethod
    def read(cls, entry: Message) -> OutboxRow:
        return cls(
            created_at=_text(entry, "created_at"),
            status=_text(entry, "status"),
            to=_text(entry, "to"),
            subject=_text(entry, "subject"),
            attempts=int(entry.get("attempts") or 0),
            last_error=_maybe(entry, "last_error"),
            sent_at=_maybe(entry, "sent_at"),
            channel=_maybe(entry, "channel"),
        )


@dataclass(frozen=True, kw_only=True)
class AlertState:
    """The saved state as typed rows, oldest first: what a reader (the Budgets page) may rely on.

    e.g. `[row.subject for row in StateStore(data_dir).rows().history if row.kind == "fired"]`
    """

    history: tuple[HistoryRow, ...]
    outbox: tuple[OutboxRow, ...]

    @classmethod
    def read(cls, state: SavedState) -> AlertState:
        """Entries that are not tables are skipped; a missing field reads as empty (older files lack some)."""
        return cls(
            history=tuple(HistoryRow.read(e) for e in state.get("history", []) if isinstance(e, dict)),
            outbox=tuple(OutboxRow.read(e) for e in state.get("outbox", []) if isinstance(e, dict)),
        )


def _text(entry: Message | HistoryEntry, name: str) -> str:
    value = cast(dict[str, object], entry).get(name)
    return "" if value is None else str(value)


def _maybe(entry: Message | HistoryEntry, name: str) -> str | None:
    value = cast(dict[str, object], entry).get(name)
    return None if value is None else str(value)


def _texts(entry: HistoryEntry, name: str) -> tuple[str, ...]:
    value = cast(dict[str, object], entry).get(name)
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def empty_state() -> SavedState:
    return {"version": 1, "alerts": {}, "outbox": [], "history": [], "digests": {}, "channels": {}}


class StateStore:
    """Reads and replaces the saved state under an exclusive lock: `<data_dir>/alerts/state.json`
    (atomically), or with an s3 data_dir the object `<data_dir>/state/alerts.json` (conditional
    puts; the lock stays host-local, in the working folder)."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = Path(data_dir) / "alerts"
        self.path = self.folder / "state.json"
        url = location.url_of(Path(data_dir))
        self.doc = Document(self.path, None if url is None else f"{url}/state/alerts.json")
        self._tags: dict[int, str | None] = {}

    def _read(self) -> tuple[SavedState, str | None]:
        data, tag = self.doc.read()
        return cast(SavedState, {**empty_state(), **data}), tag

    def read(self) -> SavedState:
        """The last saved state (no lock: it is only ever replaced whole); a missing part reads as empty."""
        return self._read()[0]

    def rows(self) -> AlertState:
        """The last saved history and outbox as typed rows (for readers; the engine keeps the dict)."""
        return AlertState.read(self.read())

    def save(self, state: SavedState) -> None:
        """Replace the saved state with `state`. On S3, only if nobody wrote since `state` was read
        by `locked` (or since its last save): else `remote.Moved`, and nothing is overwritten."""
        tag = self._tags.get(id(state))
        self._tags[id(state)] = self.doc.write(cast(dict[str, Any], state), tag)

    @contextmanager
    def locked(self) -> Iterator[SavedState]:
        """Hold the lock across threads and processes; yields the state (call `save` to persist)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with _thread_lock, (self.folder / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            state, tag = self._read()
            self._tags[id(state)] = tag
            try:
                yield state
            finally:
                self._tags.pop(id(state), None)
                fcntl.flock(handle, fcntl.LOCK_UN)


def advance(state: SavedState, obs: Observation, now: datetime, repeat_hours: float) -> Notice | None:
    """Move one key's state for this observation; the notice to send, if any."""
    if obs.level is None:
        return None
    alerts = state["alerts"]
    entry = alerts.get(obs.key) or AlertEntry(state="ok", level=0.0)
    stamp = now.isoformat()
    entry.update({"rule": obs.rule, "scope": obs.scope, "expires": obs.expires, "checked_at": stamp})
    alerts[obs.key] = entry
    if obs.level > 0:
        return _firing(entry, obs, stamp, now, repeat_hours)
    if entry["state"] == "firing" and obs.resolvable:
        entry.update({"state": "resolved", "level": 0.0, "resolved_at": stamp})
        return Notice("resolved", obs, entry["since"])
    return None


def _firing(entry: AlertEntry, obs: Observation, stamp: str, now: datetime, repeat_hours: float) -> Notice | None:
    level = float(obs.level or 0)
    if entry["state"] != "firing":
        entry.update({"state": "firing", "level": level, "since": stamp, "notified_at": stamp})
        return Notice("fired", obs, stamp)
    if level > entry["level"]:
        entry.update({"level": level, "notified_at": stamp})
        return Notice("fired", obs, entry["since"])
    due = datetime.fromisoformat(entry["notified_at"]) + timedelta(hours=repeat_hours)
    if repeat_hours > 0 and obs.repeats and now >= due:
        entry["notified_at"] = stamp
        return Notice("repeat", obs, stamp)
    return None


def record(
    state: SavedState, notice: Notice, recipients: tuple[str, ...], now: datetime, channels: tuple[str, ...] = ()
) -> None:
    """Append a notice to the alert history (shown on the Budgets page)."""
    obs = notice.observation
    state["history"].append(
        {
            "at": now.isoformat(),
            "key": obs.key,
            "rule": obs.rule,
            "scope": printable(obs.scope),
            "kind": notice.kind,
            "subject": printable(obs.subject),
            "recipients": list(recipients),
            "channels": list(channels),
            "link": obs.link,
        }
    )
    del state["history"][:-KEEP_HISTORY]


def prune(state: SavedState, now: datetime) -> None:
    """Forget keys of long-ended periods and old delivered messages (pending ones stay)."""
    cutoff = now - FORGET_AFTER
    state["alerts"] = {
        k: v
        for k, v in state["alerts"].items()
        if not (expires := v.get("expires")) or datetime.fromisoformat(expires) > cutoff
    }
    done = [m for m in state["outbox"] if m["status"] != "pending"]
    drop = {id(m) for m in done[:-KEEP_SENT]}
    state["outbox"] = [m for m in state["outbox"] if id(m) not in drop]
