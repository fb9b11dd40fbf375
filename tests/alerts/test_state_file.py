"""The typed alert state reads a state file written before it was typed, and writes the same bytes back.

`fixtures/state_v1.json` was written by the alerts code of commit 34d00d0 (dict state): two keys (one
firing, one resolved, one long-expired key pruned), three emails and one failed chat post in the outbox,
four history entries (one a monthly statement's, without channels or link), a digest, a channel's state
and a statement record; one scope holds a quote and a newline.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson

from alerts import StateStore
from alerts._observation import Observation
from alerts._outbox import due
from alerts._state import advance

FIXTURE = Path(__file__).parent / "fixtures" / "state_v1.json"
NOW = datetime(2026, 11, 20, 14, tzinfo=UTC)


def saved(tmp_path: Path) -> StateStore:
    (tmp_path / "alerts").mkdir()
    shutil.copyfile(FIXTURE, tmp_path / "alerts" / "state.json")
    return StateStore(tmp_path)


def test_an_old_state_file_loads_whole_and_saves_byte_for_byte(tmp_path: Path) -> None:
    store = saved(tmp_path)
    state = store.read()
    assert state == orjson.loads(FIXTURE.read_bytes())
    store.save(state)
    assert (tmp_path / "alerts" / "state.json").read_bytes() == FIXTURE.read_bytes()


def test_its_rows_are_what_the_page_shows(tmp_path: Path) -> None:
    rows = saved(tmp_path).rows()
    assert [(row.kind, row.rule, row.channels, row.link) for row in rows.history] == [
        ("fired", "threshold", ("team",), "https://dash.example/spend?project=search"),
        ("fired", "errors", ("team",), None),
        ("resolved", "errors", ("team",), None),
        ("fired", "statement", (), None),  # a statement's entry has neither channels nor link
    ]
    assert rows.history[0].scope == 'project "search"\\n'  # the newline was made printable when recorded
    assert [(row.status, row.attempts, row.channel) for row in rows.outbox] == [
        ("sent", 1, None),
        ("pending", 2, None),
        ("pending", 0, None),
        ("failed", 0, "gone"),
    ]
    assert rows.outbox[1].last_error == "451 try later"


def test_the_engine_goes_on_from_an_old_state(tmp_path: Path) -> None:
    store = saved(tmp_path)
    key = "threshold:search:2026-11"
    same = Observation(key=key, rule="threshold", scope="search", level=0.8, subject="search at 83%")
    higher = Observation(key=key, rule="threshold", scope="search", level=1.0, subject="search at 101%")
    with store.locked() as state:
        assert advance(state, same, NOW, repeat_hours=24) is None  # already notified at 0.8 in this incident
        notice = advance(state, higher, NOW, repeat_hours=24)
        assert [m["subject"] for m in due(state, NOW)] == [m["subject"] for m in state["outbox"][1:3]]
        store.save(state)
    assert notice is not None and notice.kind == "fired"
    assert notice.since == "2026-11-20T12:00:00+00:00"  # the incident's start, read from the old file
    again = store.read()["alerts"][key]
    assert (again["state"], again["level"], again["notified_at"]) == ("firing", 1.0, NOW.isoformat())
