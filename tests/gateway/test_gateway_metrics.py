"""/metrics is strict Prometheus text, whatever the names in it: every labelled family escapes its label values.

The parser below is written from the exposition format's rules (a label value is a double-quoted string
in which only \\\\, \\" and \\n may appear as escapes, and no raw double quote or newline), not from the
gateway's renderer, so a renderer that forgets to escape one family fails it.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from gateway._metrics import FAMILIES, Metrics
from tests.gateway.harness import ThreadServer, in_process

HOSTILE = 'a "quoted" \\ back\\slash\nnew line } {x="y"} # HELP'
"""Every character the format escapes, plus the ones a sloppy parser splits on."""
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(rf'^({NAME})(?:\{{({NAME})="((?:[^"\\\n]|\\[\\"n])*)"\}})? (\S+)$')
UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def parse(text: str) -> dict[str, tuple[str, dict[tuple[str, str] | None, float]]]:
    """{family: (type, {(label, value) or None: number})}; AssertionError on any line outside the format."""
    assert text.endswith("\n"), "the exposition ends with a newline"
    families: dict[str, tuple[str, dict[tuple[str, str] | None, float]]] = {}
    helped: set[str] = set()
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert re.fullmatch(NAME, name) and name not in helped, line
            helped.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name in helped and name not in families and kind in ("counter", "gauge"), line
            families[name] = (kind, {})
        else:
            found = SAMPLE.match(line)
            assert found, f"not a sample line: {line!r}"
            name, label, raw, number = found.groups()
            assert name in families, f"a sample before its TYPE: {line!r}"
            value = None if label is None else (label, re.sub(r'\\[\\"n]', lambda m: UNESCAPE[m.group()], raw))
            samples = families[name][1]
            assert value not in samples, f"a duplicate sample: {line!r}"
            samples[value] = float(number)
    return families


def test_every_labelled_family_escapes_its_label_values() -> None:
    """Fails on the previous code: upstream_failures and limit_state_errors were written unescaped."""
    metrics = Metrics()
    labelled = [family for family in FAMILIES if family.label is not None]
    assert len(labelled) == 6
    metrics.responses[HOSTILE] += 1
    metrics.upstream_failures[HOSTILE] += 2
    metrics.limit_refusals[HOSTILE] += 3
    metrics.limit_warnings[HOSTILE] += 4
    metrics.limit_state_errors[HOSTILE] += 5
    metrics.limit_reserved[HOSTILE] = 0.25
    parsed = parse(metrics.render(buffered=7, pending=8))
    assert list(parsed) == [family.name for family in FAMILIES]
    found = {family.name: parsed[family.name][1] for family in labelled}
    assert found == {
        "gateway_responses_total": {("class", HOSTILE): 1},
        "gateway_upstream_failures_total": {("kind", HOSTILE): 2},
        "gateway_limit_refusals_total": {("limit", HOSTILE): 3},
        "gateway_limit_warnings_total": {("limit", HOSTILE): 4},
        "gateway_limit_state_errors_total": {("part", HOSTILE): 5},
        "gateway_limit_reserved": {("limit", HOSTILE): 0.25},
    }
    assert parsed["gateway_records_buffered"] == ("gauge", {None: 7})
    assert parsed["gateway_errors_total"] == ("counter", {None: 0})  # the hostile class is neither 4xx nor 5xx


@pytest.mark.slow
def test_a_hostile_limit_name_round_trips_through_metrics(upstream: ThreadServer, tmp_path: Path) -> None:
    """A limit name from the budgets file (control characters are refused there; quotes and backslashes are not)."""
    name = 'soft "quoted" \\ name} {x="y"'
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    (tmp_path / "budgets.toml").write_text(
        f'[[limits]]\nname = "{escaped}"\nproject = "odd \\"project\\""\nrequests_per_minute = 1\nhard = false\n'
    )
    raw = {"upstream_url": upstream.url, "budgets_file": "budgets.toml", "limits_state_path": "limits.sqlite3"}
    headers = {"Authorization": "Bearer sk-metrics-0123456789", "X-Project": 'odd "project"'}
    body = {"model": "mistral-large-2411", "messages": [{"role": "user", "content": "hostile"}], "max_tokens": 5}
    with in_process(tmp_path, {**raw, "db_path": "buffer.sqlite3"}) as server, httpx.Client(base_url=server.url) as web:
        codes = [web.post("/v1/chat/completions", json=body, headers=headers).status_code for _ in range(2)]
        text = web.get("/metrics").text
    assert codes == [200, 200]
    assert parse(text)["gateway_limit_warnings_total"] == ("counter", {("limit", name): 1})
