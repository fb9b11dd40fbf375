"""The Budgets page reads the alert state as typed rows: every field the engine writes, in order,
and an older or damaged file reads as empty fields instead of a KeyError."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from alerts import AlertState, HistoryRow, OutboxRow, StateStore
from alerts._observation import Observation
from alerts._outbox import enqueue
from alerts._state import Notice, record

NOW = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)


def test_rows_carry_what_the_engine_wrote(tmp_path) -> None:
    store = StateStore(tmp_path)
    with store.locked() as state:
        obs = Observation(
            key="budget:search:2026-11", rule="threshold", scope="search", level=80.0, subject="search at 80%"
        )
        record(state, Notice("fired", obs, NOW.isoformat()), ("ops@example.com", "cfo@example.com"), NOW, ("slack",))
        enqueue(state, {"id": "m1", "to": "ops@example.com", "subject": "search at 80%"}, NOW, 24)
        store.save(state)
    rows = store.rows()
    assert rows.history == (
        HistoryRow(
            at=NOW.isoformat(),
            kind="fired",
            rule="threshold",
            scope="search",
            subject="search at 80%",
            recipients=("ops@example.com", "cfo@example.com"),
            channels=("slack",),
            key="budget:search:2026-11",
        ),
    )
    assert rows.outbox == (
        OutboxRow(created_at=NOW.isoformat(), status="pending", to="ops@example.com", subject="search at 80%"),
    )


def test_an_old_or_damaged_file_reads_as_empty_fields(tmp_path) -> None:
    folder = tmp_path / "alerts"
    folder.mkdir()
    state = {
        "history": [{"at": "2025-01-01T00:00:00+00:00", "kind": "fired"}, "junk", 7],
        "outbox": [{"status": "sent", "to": None, "attempts": "2"}, None],
    }
    (folder / "state.json").write_bytes(orjson.dumps(state))
    rows = StateStore(tmp_path).rows()
    assert rows == AlertState(
        history=(HistoryRow(at="2025-01-01T00:00:00+00:00", kind="fired", rule="", scope="", subject=""),),
        outbox=(OutboxRow(created_at="", status="sent", to="", subject="", attempts=2),),
    )


def test_no_file_reads_as_no_rows(tmp_path) -> None:
    assert StateStore(tmp_path).rows() == AlertState(history=(), outbox=())
