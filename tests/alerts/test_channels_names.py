"""Names from traffic in Slack and Teams messages are data: escaped for each format, never a
mention, a link or markup; and the config refuses URLs, unknown channels and missing env vars."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts import Budget, BudgetFileError, load_budgets, parse_alerts, parse_budget, save_budgets
from alerts._post import retry_after
from foundation.errors import ConfigError
from tests.alerts.test_engine_smtp import NOW
from tests.support.alerts import CHANNELS, paris, rows

EVIL = "<!channel> *bold* [click](http://evil.example/x) & @here https://evil.example\nBcc: {{DATE(x)}}"
EVIL_MODEL = "<https://evil.example|Click me>_`x`"
TEAMS_SPECIAL = set("\\`*_{}[]()#+-.!|<>~:&/")


def _mrkdwn_objects(value: Any) -> list[dict[str, Any]]:
    """Every mrkdwn text object anywhere in a Block Kit payload."""
    if isinstance(value, dict):
        own = [value] if value.get("type") == "mrkdwn" else []
        return own + [o for v in value.values() for o in _mrkdwn_objects(v)]
    if isinstance(value, list):
        return [o for v in value for o in _mrkdwn_objects(v)]
    return []


def _teams_texts(card: dict[str, Any]) -> list[str]:
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    facts = [f for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]]
    return texts + [f[k] for f in facts for k in ("title", "value")]


def _unescape_markdown(text: str) -> str:
    """Read CommonMark text, failing on any markdown character left unescaped (an independent reader)."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in TEAMS_SPECIAL:
            out.append(text[i + 1])
            i += 2
            continue
        assert char not in TEAMS_SPECIAL, f"unescaped {char!r} at {i} in {text!r}"
        out.append(char)
        i += 1
    return "".join(out)


@pytest.fixture
def evil_run(tmp_path, smtp_server, receivers, make_engine, monkeypatch):
    rows(
        tmp_path / "data",
        [{"timestamp": paris("2026-11-10T10:00"), "cost": 90.0, "project": EVIL, "model": EVIL_MODEL}],
    )
    budget = Budget(name="evil", amount=100.0, projects=(EVIL,), forecast=False, channels=("slack", "teams", "hook"))
    engine = make_engine(smtp_server.port, channels=CHANNELS)
    monkeypatch.setattr(engine, "budgets", lambda: [budget])
    assert engine.run(NOW).posted == 3
    return receivers


@pytest.mark.slow
def test_slack_escapes_names_and_turns_off_autolinks(evil_run):
    message = evil_run["slack"].accepted[0].json()
    objects = _mrkdwn_objects(message["blocks"])
    assert objects and all(o["verbatim"] is True for o in objects)
    for obj in objects:
        assert "<" not in obj["text"] and ">" not in obj["text"], obj["text"]
        assert not re.search(r"&(?!amp;|lt;|gt;)", obj["text"]), obj["text"]
    everything = "\n".join(o["text"] for o in objects)
    assert r"&lt;!channel&gt; *bold* [click](http://evil.example/x) &amp; @here https://evil.example\nBcc" in everything
    assert r"&lt;https://evil.example|Click me&gt;_`x`: 90.00 (100%)" in everything
    assert message["unfurl_links"] is False and message["unfurl_media"] is False
    fallback = message["text"]
    assert "<" not in fallback and "evil.example" not in fallback and "http://" not in fallback
    assert "@here" not in fallback and "\n" not in fallback
    assert fallback.replace("\u2060", "").startswith("[Mistral spend] project &lt;!channel&gt; *bold* [click](http")


@pytest.mark.slow
def test_teams_escapes_every_markdown_character(evil_run):
    card = evil_run["teams"].accepted[0].json()["attachments"][0]["content"]
    texts = [_unescape_markdown(t) for t in _teams_texts(card)]
    printable_evil = EVIL.replace("\n", "\\n")
    assert any(t.startswith(f"[Mistral spend] project {printable_evil} at 90% of EUR 100") for t in texts)
    assert f"{EVIL_MODEL}: 90.00 (100%)" in texts
    [facts] = [b["facts"] for b in card["body"] if b["type"] == "FactSet"]
    pairs = [(_unescape_markdown(f["title"]), _unescape_markdown(f["value"])) for f in facts]
    assert ("Budget", f"EUR 100 monthly budget for project {printable_evil}") in pairs


@pytest.mark.slow
def test_webhook_carries_names_as_plain_json_strings(evil_run):
    body = evil_run["hook"].accepted[0].json()
    assert body["scope"] == "project " + EVIL.replace("\n", "\\n")
    assert body["contributors"][0]["items"][0]["name"] == EVIL_MODEL


@pytest.mark.slow
def test_overlong_names_are_clipped_to_slack_limits(tmp_path, smtp_server, receivers, make_engine, monkeypatch):
    long = "&" * 5000
    rows(
        tmp_path / "data",
        [{"timestamp": paris("2026-11-10T10:00"), "cost": 30.0, "project": long, "model": long + m} for m in "abc"],
    )
    budget = Budget(name="long", amount=100.0, projects=(long,), forecast=False, channels=("slack",))
    engine = make_engine(smtp_server.port, channels=CHANNELS)
    monkeypatch.setattr(engine, "budgets", lambda: [budget])
    engine.run(NOW)
    message = receivers["slack"].accepted[0].json()
    for block in message["blocks"]:
        if block["type"] == "section":
            text = block.get("text", {}).get("text", "")
            assert len(text) <= 3000 and not re.search(r"&(?!amp;|lt;|gt;)", text)
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
    assert any(len(b.get("text", {}).get("text", "")) > 2900 for b in message["blocks"])  # the list was cut


def _alerts(**raw: Any):
    return parse_alerts(raw, data_dir=__import__("pathlib").Path("data"))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"channels": {"s": {"kind": "slack", "url": "https://hooks.slack.com/x"}}},
            "alerts.channels.s.url: never put the url in the file; set url_env to a variable name",
        ),
        (
            {"channels": {"s": {"kind": "slack"}}},
            "alerts.channels.s.url_env: expected the name of an environment variable",
        ),
        (
            {"channels": {"s": {"kind": "discord", "url_env": "X"}}},
            "alerts.channels.s.kind: 'discord' is not supported",
        ),
        ({"channels": {"h": {"kind": "webhook", "url_env": "X"}}}, "alerts.channels.h.secret_env: expected the name"),
        (
            {"channels": {"h": {"kind": "webhook", "url_env": "X", "secret": "s3cret"}}},
            "alerts.channels.h.secret: never put the secret in the file",
        ),
        ({"channels": {"s": {"kind": "slack", "url_env": "X", "colour": 1}}}, "alerts.channels.s.colour: unknown key"),
        (
            {"channels": {"s": {"kind": "slack", "url_env": "X"}}, "rule_channels": {"error_rate": ["t"]}},
            "alerts.rule_channels.error_rate: channel 't' is not configured; add [alerts.channels.t]",
        ),
        (
            {"rule_channels": {"threshold": []}},
            "alerts.rule_channels.threshold: budget rules post to each budget's own",
        ),
        ({"rule_channels": {"error_rat": []}}, "alerts.rule_channels.error_rat: unknown rule"),
    ],
)
def test_channel_config_mistakes_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _alerts(**raw)


def test_missing_or_malformed_env_names_the_variable_never_the_value(monkeypatch):
    channel = _alerts(channels=CHANNELS).channels["slack"]
    monkeypatch.delenv("TEST_SLACK_URL", raising=False)
    with pytest.raises(ConfigError, match="environment variable TEST_SLACK_URL is not set"):
        channel.url()
    monkeypatch.setenv("TEST_SLACK_URL", "hooks.slack.com/services/SECRETPART")
    with pytest.raises(ConfigError, match=r"\$TEST_SLACK_URL is not an http\(s\) URL") as caught:
        channel.url()
    assert "SECRETPART" not in str(caught.value)


def test_budget_channels_round_trip_and_are_checked(tmp_path):
    budget = parse_budget({"name": "b", "amount": 5, "channels": ["ops-slack", "hook_2"]})
    assert budget.channels == ("ops-slack", "hook_2")
    save_budgets(tmp_path / "budgets.toml", [budget, Budget(name="plain", amount=1.0)])
    assert load_budgets(tmp_path / "budgets.toml") == [budget, Budget(name="plain", amount=1.0)]
    assert "channels" not in (tmp_path / "budgets.toml").read_text().split("plain")[1]
    with pytest.raises(BudgetFileError, match="channels: expected a list of channel names"):
        parse_budget({"name": "b", "amount": 5, "channels": ["ops slack\n"]})


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert retry_after("30", now) == 30.0
    assert retry_after("Fri, 20 Nov 2026 12:01:30 GMT", now) == 90.0
    assert retry_after("Fri, 20 Nov 2026 11:00:00 GMT", now) == 0.0
    assert retry_after("99999999", now) == 86_400.0
    assert retry_after("soon", now) is None and retry_after(None, now) is None
