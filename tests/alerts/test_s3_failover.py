"""Alert state beside an S3 ledger (issue 21): with an s3 data_dir, the alerts' state and outbox are
the object `<data_dir>/state/alerts.json`, so an engine on a fresh host (an empty working folder,
the same data_dir) goes on from where the last one stopped: an alert fires exactly once across hosts,
and a save refused because another host moved the object overwrites nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from alerts import Engine, StateStore
from foundation.config import parse_config
from ledger.storage import remote
from tests.support.alerts import SEARCH_MONTHLY, budgets_toml, config_dict, paris, rows
from tests.support.s3 import working_folder

NOW = paris("2026-11-20T12:00")
KEY = "threshold:search-monthly:2026-11"


def engine_on(s3, tmp_path: Path, host: str, port: int) -> Engine:
    """An engine on `host`: its own working folder, the shared s3 data_dir, the budgets file from the config."""
    raw = config_dict(Path(s3.url()), port, budgets_file=str(tmp_path / "budgets.toml"))
    raw["data_dir"], raw["cache_dir"] = s3.url(), str(tmp_path / host)
    return Engine.from_config(parse_config(raw, base=tmp_path))


@pytest.fixture
def spent(s3, tmp_path: Path) -> None:
    """Project search at 82% of its 500 monthly budget (410 in November), written to the s3 ledger."""
    budgets_toml(tmp_path / "budgets.toml", SEARCH_MONTHLY)
    rows(
        working_folder(s3, tmp_path, "writer"),
        [
            {"timestamp": paris("2026-11-02T10:00"), "cost": 300.0},
            {"timestamp": paris("2026-11-10T10:00"), "cost": 110.0},
            {"timestamp": paris("2026-10-31T23:30"), "cost": 400.0},  # October: does not count
        ],
    )


def test_an_alert_fired_on_one_host_is_not_sent_again_from_a_fresh_host(s3, tmp_path, smtp_server, spent):
    host_a = engine_on(s3, tmp_path, "host-a", smtp_server.port)
    first = host_a.run(NOW)
    assert ([n.observation.key for n in first.notices], first.sent) == ([KEY], 1)
    saved = orjson.loads(remote.read(f"{s3.url()}/state/alerts.json")[0])
    assert saved["alerts"][KEY]["level"] == 80  # 410 / 500 = 82%: the 80% threshold
    assert [m["status"] for m in saved["outbox"]] == ["sent"]
    assert not (tmp_path / "host-b").exists()
    host_b = engine_on(s3, tmp_path, "host-b", smtp_server.port)
    for hours in (0, 1, 25):
        assert host_b.run(NOW + timedelta(hours=hours)).notices == ()
    assert [m["To"] for m in smtp_server.messages] == ["ops@example.com"]
    assert not (tmp_path / "host-b" / "alerts" / "state.json").exists()  # nothing host-local to lose
    assert "project search at 82%" in StateStore(tmp_path / "host-b").rows().history[0].subject


def test_an_email_queued_on_a_host_that_stopped_is_delivered_once_by_the_next(s3, tmp_path, smtp_port, spent):
    from tests.support.alerts import SmtpServer

    down = engine_on(s3, tmp_path, "host-a", smtp_port).run(NOW)  # nothing listens: the email waits
    assert (down.queued, down.sent, down.failed) == (1, 0, 1)
    server = SmtpServer(smtp_port)
    server.start()
    try:
        host_b = engine_on(s3, tmp_path, "host-b", smtp_port)
        later = host_b.run(NOW + timedelta(minutes=2))
        assert (later.notices, later.sent) == ((), 1)
        assert host_b.run(NOW + timedelta(minutes=3)).sent == 0
        assert [m["To"] for m in server.messages] == ["ops@example.com"]
    finally:
        server.stop()


def test_a_save_after_another_host_moved_the_state_overwrites_nothing(s3, tmp_path, smtp_server, spent):
    host_a = StateStore(working_folder(s3, tmp_path, "host-a"))
    host_b = StateStore(working_folder(s3, tmp_path, "host-b"))
    with host_a.locked() as state:
        state["digests"]["a"] = "from a"
        host_a.save(state)
    with host_a.locked() as stale:
        fresh, tag = host_b.doc.read()  # host B's save, in its own process (the lock is host-local)
        fresh["digests"]["b"] = "from b"
        host_b.doc.write(fresh, tag)
        stale["digests"]["a"] = "overwritten"
        with pytest.raises(remote.Moved):
            host_a.save(stale)
    assert host_b.read()["digests"] == {"a": "from a", "b": "from b"}


def test_an_engine_whose_first_save_is_refused_decides_again_from_the_other_hosts_state(
    s3, tmp_path, smtp_server, spent, monkeypatch
):
    url = f"{s3.url()}/state/alerts.json"
    fired_on_b = engine_on(s3, tmp_path, "host-b", smtp_server.port).run(NOW)
    assert [n.observation.key for n in fired_on_b.notices] == [KEY]
    b_state = remote.read(url)[0]
    remote.client().delete_object(Bucket=s3.bucket, Key="monitor/state/alerts.json")
    host_a = engine_on(s3, tmp_path, "host-a", smtp_server.port)
    real, writes = StateStore.save, []

    def b_first(store: StateStore, state) -> None:
        if not writes:  # host B saves what it fired between A's read and A's first save
            writes.append(remote.write(url, b_state, None))
        real(store, state)

    monkeypatch.setattr(StateStore, "save", b_first)
    result = host_a.run(NOW)
    assert (result.notices, result.sent) == ((), 0)
    assert [m["To"] for m in smtp_server.messages] == ["ops@example.com"]  # B's email, and only it
    assert [m["status"] for m in orjson.loads(remote.read(url)[0])["outbox"]] == ["sent"]
