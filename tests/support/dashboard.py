"""A seeded synthetic ledger and independent figures computed from its files with plain pyarrow.

Every expected value in these tests comes from `Truth` (pyarrow over the parquet files the
fixture wrote), never from ledger.queries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ledger import write_rows
from tests.builders import build_ledger

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest


@dataclass
class Truth:
    """Plain pyarrow over every parquet file of a ledger written without compaction."""

    table: pa.Table

    @classmethod
    def read(cls, data_dir: Path) -> Truth:
        files = sorted((data_dir / "requests").glob("date=*/*.parquet"))
        return cls(pa.concat_tables([pq.read_table(f) for f in files]))

    def window(self, start: datetime, end: datetime, **equal: str) -> pa.Table:
        ts = self.table["timestamp"]
        mask = pc.and_(pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less(ts, pa.scalar(end, ts.type)))
        for column, value in equal.items():
            mask = pc.and_(mask, pc.equal(self.table[column], value))
        return self.table.filter(mask)

    @staticmethod
    def spend(rows: pa.Table) -> float:
        return float(pc.sum(rows["cost"]).as_py() or 0.0)

    @staticmethod
    def requests(rows: pa.Table) -> int:
        return int(pc.sum(rows["request_count"]).as_py() or 0)

    @staticmethod
    def per_request(rows: pa.Table) -> pa.Table:
        return rows.filter(pc.invert(rows["aggregated"]))

    @classmethod
    def error_rate(cls, rows: pa.Table) -> float:
        measured = cls.per_request(rows)
        return float(pc.sum(pc.greater_equal(measured["status_code"], 400)).as_py()) / measured.num_rows

    @classmethod
    def interactive(cls, rows: pa.Table) -> pa.Table:
        """Rows whose latency counts: per-request and not Batch API jobs."""
        measured = cls.per_request(rows)
        return measured.filter(pc.invert(pc.fill_null(measured["batch"], False)))

    @classmethod
    def p95(cls, rows: pa.Table) -> float:
        latency = cls.interactive(rows)["latency_ms"].drop_null().to_numpy()
        return float(np.percentile(latency, 95))


def utc_midnight(days_ago: int, now: datetime) -> datetime:
    day = (now - timedelta(days=days_ago)).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def write_status(data_dir: Path, last_success: datetime, poll_seconds: int = 60) -> None:
    stamp = last_success.isoformat(timespec="seconds")
    status = {
        "updated_at": stamp,
        "sources": {
            "simulator": {
                "kind": "usage_endpoint",
                "last_attempt": stamp,
                "last_success": stamp,
                "last_error": None,
                "records_total": 1,
                "quarantined_total": 0,
                "poll_seconds": poll_seconds,
            }
        },
    }
    (data_dir / "state").mkdir(parents=True, exist_ok=True)
    (data_dir / "state" / "collector.json").write_bytes(orjson.dumps(status))


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Truth]]:
    """40 days, 40k requests, ending now; a fresh collector status."""
    data_dir = tmp_path_factory.mktemp("ledger")
    build_ledger(data_dir, n_records=40_000, days=40, seed=11)
    write_status(data_dir, datetime.now(UTC))
    yield data_dir, Truth.read(data_dir)


@pytest.fixture
def app_env(seeded: tuple[Path, Truth], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Truth]:
    monkeypatch.setenv("DATA_DIR", str(seeded[0]))
    monkeypatch.setenv("MONITOR_TIMEZONE", "UTC")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return seeded


@pytest.fixture
def hostile_env(hostile: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The pages' environment over the `hostile` ledger (UTC, no config file)."""
    monkeypatch.setenv("DATA_DIR", str(hostile))
    monkeypatch.setenv("MONITOR_TIMEZONE", "UTC")
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    return hostile


BEACON = "beacon.invalid"
HOSTILE_MODEL = f"![x](http://{BEACON}/model.png) [login](http://{BEACON}/login)"
HOSTILE_UNPRICED = f"http://{BEACON}/bare www.{BEACON} <img src=http://{BEACON}/u.png>"
HOSTILE_PROJECT = f'<a href="http://{BEACON}/a">click</a><img src="http://{BEACON}/p.png"> **b** $x$ :red[r]'
HOSTILE_ERROR = f"[err](http://{BEACON}/e) <a href='http://{BEACON}/e2'>e</a>"
HOSTILE_SOURCE = f"[src](http://{BEACON}/s)"
HOSTILE_TAG = f'<b>b</b><img src="http://{BEACON}/t.png">'
"""A priced model named with HTML tags (under MAX_CHARS, so a chart shows it whole)."""
RENAMES = {
    "model": {
        "mistral-large-latest": HOSTILE_MODEL,
        "acme-finetune-1": HOSTILE_UNPRICED,
        "codestral-latest": HOSTILE_TAG,
    },
    "project": {"search": HOSTILE_PROJECT},
    "error_type": {"server_error": HOSTILE_ERROR},
    "api_key_id": {"key_00a1f3": HOSTILE_SOURCE},
}


def rename(table: pa.Table, column: str, mapping: dict[str, str] | Callable[[str], str]) -> pa.Table:
    """`table` with the values of `column` renamed (nulls kept)."""
    values = table[column].to_pylist()
    renamed = [v if v is None else (mapping(v) if callable(mapping) else mapping.get(v, v)) for v in values]
    return table.set_column(table.schema.get_field_index(column), column, pa.array(renamed, pa.string()))


def rewritten_ledger(source: Path, target: Path, edit: Callable[[pa.Table], pa.Table]) -> Path:
    """A copy of the fixture ledger at `source` with every day's rows passed through `edit`."""
    for path in sorted((source / "requests").glob("date=*/*.parquet")):
        write_rows(target, edit(pq.read_table(path)))
    return target


def hostile_names(table: pa.Table) -> pa.Table:
    for column, mapping in RENAMES.items():
        table = rename(table, column, mapping)
    return table


def write_hostile_state(data_dir: Path) -> None:
    """A stale source with a hostile name and error, and a budget whose name and scope are hostile."""
    stamp = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")
    source = {"kind": "usage_endpoint", "last_success": stamp, "last_error": HOSTILE_ERROR, "poll_seconds": 60}
    (data_dir / "state").mkdir(parents=True, exist_ok=True)
    (data_dir / "state" / "collector.json").write_bytes(orjson.dumps({"sources": {HOSTILE_SOURCE: source}}))
    budgets = f"""
[[budgets]]
name = {json.dumps(HOSTILE_MODEL)}
amount = 100
project = [{json.dumps(HOSTILE_PROJECT)}, {json.dumps(HOSTILE_ERROR)}]
recipients = ["ops@example.com"]
"""
    (data_dir / "budgets.toml").write_text(budgets)


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20-day ledger whose model, project, key and error names, source and budget are markup."""
    plain = tmp_path_factory.mktemp("plain")
    build_ledger(plain, n_records=8_000, days=20, seed=3)
    data_dir = rewritten_ledger(plain, tmp_path_factory.mktemp("hostile"), hostile_names)
    write_hostile_state(data_dir)
    return data_dir


MANY_MODELS = 100_000
HUGE_NAME = "y" * 1_000_000


def many_model_names(table: pa.Table) -> pa.Table:
    ids = pc.cast(table["id"], pa.string()).to_pylist()
    names = [HUGE_NAME if i == "7" else f"model-{int(i) % MANY_MODELS:06d}" if i.isdigit() else "agg" for i in ids]
    projects = [f"project-{int(i) % 5_000}" if i.isdigit() else None for i in ids]
    table = table.set_column(table.schema.get_field_index("project"), "project", pa.array(projects, pa.string()))
    return table.set_column(table.schema.get_field_index("model"), "model", pa.array(names, pa.string()))


@pytest.fixture(scope="session")
def many_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    """3 days, 300k requests over ~100,000 model names (one of them 1 MB long) and 5,000 projects."""
    plain = tmp_path_factory.mktemp("plain-many")
    build_ledger(plain, n_records=300_000, days=3, seed=4)
    data_dir = rewritten_ledger(plain, tmp_path_factory.mktemp("many"), many_model_names)
    write_status(data_dir, datetime.now(UTC))
    return data_dir, Truth.read(data_dir)


def vega_charts(at: AppTest) -> list[tuple[dict[str, Any], pa.Table]]:
    """Each Vega-Lite chart of the run: its spec and its rows (the data Streamlit sends, as Arrow IPC)."""
    charts = []
    for element in at.get("vega_lite_chart"):
        rows = pa.ipc.open_stream(element.proto.data.data).read_all() if element.proto.data.data else pa.table({})
        charts.append((json.loads(element.proto.spec), rows))
    return charts


@dataclass(frozen=True)
class Shown:
    """A tile as the browser shows it: st.metric's, or one of an HTML tile row's (pages/_tiles.py)."""

    label: str
    value: str
    delta: str
    help: str | None
    colour: str | None = None
    """The change's colour, as an HTML tile's style gives it (st.metric's is the theme's: None)."""


class _TileParser(HTMLParser):
    """The tiles of an HTML tile row, read from its markup as the browser shows them: each `mm-tile`'s
    label, value and delta texts (unescaped), and the value's `title`."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str]] = []
        self._part: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if "mm-tile" in classes:
            self.found.append({})
        self._part = next((c for c in classes if c in ("mm-label", "mm-value", "mm-delta")), None)
        if self._part == "mm-value" and found.get("title") is not None:
            self.found[-1]["help"] = str(found["title"])
        if self._part == "mm-delta":
            style = dict(p.split(":", 1) for p in (found.get("style") or "").split(";") if ":" in p)
            self.found[-1]["colour"] = style.get("color", "")

    def handle_data(self, data: str) -> None:
        if self._part is not None:
            self.found[-1][self._part] = self.found[-1].get(self._part, "") + data

    def handle_endtag(self, tag: str) -> None:
        self._part = None

    @property
    def tiles(self) -> list[Shown]:
        return [
            Shown(t["mm-label"], t["mm-value"], t.get("mm-delta", ""), t.get("help"), t.get("colour"))
            for t in self.found
        ]


def read_tiles(markup: str) -> list[Shown]:
    """The tiles an HTML element's markup shows (none when it holds no tile row)."""
    parser = _TileParser()
    parser.feed(markup)
    return parser.tiles


def tiles(at: AppTest) -> list[Shown]:
    """Every tile of the run, in order: st.metric's, then those of HTML tile rows."""
    shown = [Shown(m.label, m.value, m.proto.delta, m.proto.help or None) for m in at.metric]
    for element in at.get("html"):
        shown += read_tiles(element.proto.body)
    return shown
