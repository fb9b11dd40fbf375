"""Issue 20's limit bypasses, each sent by a real client to the gateway as a real server on loopback.

The gateway (uvicorn, a thread of this process, so its clock is fixed mid-minute: a rate limit of
one request a minute trips on the second call, whatever the wall clock) forwards to the fake
upstream; the fake upstream's SEEN log says which calls really went upstream. Spellings a client
chooses (the project header, the Authorization scheme, the model's case) are sent by the official
mistralai SDK where it can send them, else by httpx (the SDK always writes `Bearer `).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import fake_upstream
import httpx
import orjson
import pytest
from mistralai.client import Mistral
from mistralai.client.errors import MistralError
from mistralai.client.models import UserMessageTypedDict
from test_gateway_sdk import fingerprint

from gateway import Secrets, create_app, parse_config
from tests.gateway.harness import SALT, TOKEN, ThreadServer
from tests.support.alerts import rows

pytestmark = pytest.mark.slow

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 15, 30, 20, tzinfo=PARIS)
FREE_KEY = "sk-bypass-free-0123456789"
BOUND_KEY = "sk-bypass-bound-0123456789"
KEYED = "sk-bypass-keyed-0123456789"
SMALL = "mistral-small-latest"
BUDGETS = f"""
[key_labels]
"{fingerprint(BOUND_KEY)}" = "search app"
"{fingerprint(KEYED)}" = "keyed"

[key_projects]
"search app" = "search"

[projects]
known = ["Web"]

[[limits]]
name = "search rpm"
project = "search"
requests_per_minute = 1

[[limits]]
name = "strays"
project = "(no project)"
requests_per_minute = 1

[[limits]]
name = "keyed rpm"
api_key = "keyed"
requests_per_minute = 1

[[limits]]
name = "large rpm"
model = "mistral-large-latest"
requests_per_minute = 1
"""

Serve = Callable[..., tuple[str, Path]]


@pytest.fixture()
def serve(upstream: ThreadServer, tmp_path: Path) -> Iterator[Serve]:
    """Start a gateway on `budgets` (and extra config keys); its URL and folder."""
    servers: list[ThreadServer] = []

    def start(budgets: str = BUDGETS, **extra: Any) -> tuple[str, Path]:
        (tmp_path / "budgets.toml").write_text(budgets)
        raw = {
            "upstream_url": upstream.url,
            "db_path": "buffer.sqlite3",
            "budgets_file": "budgets.toml",
            "limits_state_path": "limits.sqlite3",
            "limits_timezone": "Europe/Paris",
            **extra,
        }
        config = parse_config(raw, base=tmp_path)
        server = ThreadServer(create_app(config, Secrets(TOKEN, SALT.encode()), clock=NOW.timestamp))
        servers.append(server.__enter__())
        return server.url, tmp_path

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def sdk_chat(url: str, content: str, project: str | None, key: str = FREE_KEY, model: str = SMALL) -> int:
    """One chat call by the official SDK; the status the caller saw."""
    client = Mistral(api_key=key, server_url=url)
    messages: list[UserMessageTypedDict] = [{"role": "user", "content": content}]
    headers = {} if project is None else {"X-Project": project}
    try:
        client.chat.complete(model=model, messages=messages, max_tokens=5, http_headers=headers)
    except MistralError as exc:
        return exc.status_code
    return 200


def refusal(url: str, content: str, project: str | None, key: str = FREE_KEY, model: str = SMALL) -> dict[str, Any]:
    """The 429 body the SDK got for this call (and the call did not reach the upstream)."""
    client = Mistral(api_key=key, server_url=url)
    messages: list[UserMessageTypedDict] = [{"role": "user", "content": content}]
    headers = {} if project is None else {"X-Project": project}
    with pytest.raises(MistralError) as refused:
        client.chat.complete(model=model, messages=messages, max_tokens=5, http_headers=headers)
    assert upstream_calls(content) == 0, f"{content!r} reached the upstream"
    assert refused.value.status_code == 429, refused.value.body
    body: dict[str, Any] = orjson.loads(refused.value.body)
    return body


def upstream_calls(tag: str) -> int:
    return sum(tag.encode() in seen["body"] for seen in fake_upstream.SEEN)


def records(url: str) -> list[dict[str, Any]]:
    page = httpx.get(url + "/v1/usage/requests", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    page.raise_for_status()
    found: list[dict[str, Any]] = page.json()["data"]
    return found


def first_answered(url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The record of this gateway's first answered call (each test has its own buffer; the writer commits async)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = [r for r in records(url) if r["status_code"] == 200]
        if answered:
            return answered[0]
        time.sleep(0.05)
    raise AssertionError("no answered call was recorded")


@pytest.mark.parametrize("spelling", ["Search", "SEARCH", "search.", "search !"])
def test_a_project_limit_holds_whatever_the_spelling(serve: Serve, spelling: str) -> None:
    url, _ = serve()
    assert sdk_chat(url, f"first search call {spelling!r}", "search") == 200
    body = refusal(url, f"spelled {spelling!r}", spelling)
    assert body["message"].startswith("search rpm: rate limit of 1 requests per minute for project search reached")


@pytest.mark.parametrize("spelling", ["ｓｅａｒｃｈ", "sea\u200brch", "Séarch"])
def test_a_project_limit_holds_for_utf8_spellings(serve: Serve, spelling: str) -> None:
    """Sent as UTF-8 bytes (the SDK's httpx only sends Latin-1 text); fullwidth letters and a zero-width
    space are the project they look like; an accent makes another project (a stray)."""
    url, _ = serve()
    assert sdk_chat(url, "first utf8 search", "search") == 200
    assert sdk_chat(url, "first utf8 stray", None) == 200
    body = {"model": SMALL, "messages": [{"role": "user", "content": f"utf8 {spelling!r}"}], "max_tokens": 5}
    headers = {b"Authorization": f"Bearer {FREE_KEY}".encode(), b"X-Project": spelling.encode()}
    answer = httpx.post(url + "/v1/chat/completions", json=body, headers=headers)
    assert answer.status_code == 429 and upstream_calls(f"utf8 {spelling!r}") == 0
    expected = "strays:" if spelling == "Séarch" else "search rpm:"
    assert answer.json()["message"].startswith(expected)


@pytest.mark.parametrize("project", ["", None, "searchh", "(no project)"])
def test_no_or_an_unknown_project_counts_against_the_catch_all(serve: Serve, project: str | None) -> None:
    url, _ = serve()
    assert sdk_chat(url, "the first stray", None) == 200
    body = refusal(url, f"stray {project!r}", project)
    assert body["message"].startswith("strays: rate limit of 1 requests per minute for project (no project)")
    assert sdk_chat(url, "a known project", "WEB.") == 200  # listed in [projects] known: not a stray


def test_a_bound_key_is_its_binding_whatever_the_header_says(serve: Serve) -> None:
    url, _ = serve()
    assert sdk_chat(url, "bound first", "web", key=BOUND_KEY) == 200
    assert first_answered(url)["project"] == "search"  # the record agrees with the limits
    for index, project in enumerate(["web", None, "", "other"]):
        body = refusal(url, f"bound again {index}", project, key=BOUND_KEY)
        assert body["message"].startswith("search rpm:")


def test_the_record_holds_the_normalised_project(serve: Serve) -> None:
    url, _ = serve()
    assert sdk_chat(url, "normalised record", "Web!") == 200
    assert first_answered(url)["project"] == "web"


def test_require_known_project_refuses_unbound_keys(serve: Serve) -> None:
    url, _ = serve(require_known_project=True)
    status = sdk_chat(url, "unbound refused", "web")
    assert status == 403 and upstream_calls("unbound refused") == 0
    assert sdk_chat(url, "bound passes", "anything", key=BOUND_KEY) == 200
    refused = [r for r in records(url) if r["status_code"] == 403]
    assert [(r["error_type"], r["billable"]) for r in refused] == [("project_required", False)]


@pytest.mark.parametrize("scheme", ["BEARER ", "bearer ", "Bearer\t", "Bearer  ", "BeArEr \t "])
def test_a_key_limit_holds_whatever_the_authorization_spelling(serve: Serve, scheme: str) -> None:
    url, _ = serve()
    body = {"model": SMALL, "messages": [{"role": "user", "content": "keyed"}], "max_tokens": 5}
    headers = {"X-Project": "web"}
    first = httpx.post(url + "/v1/chat/completions", json=body, headers={**headers, "Authorization": f"Bearer {KEYED}"})
    assert first.status_code == 200
    spelled = {**headers, "Authorization": f"{scheme}{KEYED}"}
    body["messages"] = [{"role": "user", "content": f"keyed {scheme!r}"}]
    again = httpx.post(url + "/v1/chat/completions", json=body, headers=spelled)
    assert again.status_code == 429, again.text
    assert again.json()["message"].startswith("keyed rpm:")
    limited = [r for r in records(url) if r["status_code"] == 429]
    assert [r["api_key_id"] for r in limited] == [fingerprint(KEYED)]


@pytest.mark.parametrize("model", ["Mistral-Large-Latest", " MISTRAL-LARGE-LATEST", "mistral-large-2512"])
def test_a_model_limit_holds_for_its_spellings_and_its_dated_model(serve: Serve, model: str) -> None:
    url, _ = serve()
    assert sdk_chat(url, "large first", "web", model="mistral-large-latest") == 200
    body = refusal(url, f"large as {model!r}", "web", model=model)
    assert body["message"].startswith("large rpm: rate limit of 1 requests per minute for model mistral-large-latest")


def test_a_model_limit_leaves_the_models_the_alias_does_not_mean_that_day(serve: Serve) -> None:
    url, _ = serve()
    assert sdk_chat(url, "large first", "web", model="mistral-large-latest") == 200
    assert sdk_chat(url, "an older large", "web", model="mistral-large-2411") == 200  # the alias left it in 2025-08


WIDE = """
[[limits]]
name = "org daily"
period = "day"
amount = 1

[[limits]]
name = "small daily"
model = "mistral-small-latest"
period = "day"
amount = 1

[[limits]]
name = "search daily"
project = "search"
period = "day"
amount = 1
"""


def seed_spend(state: Path, spend: dict[str, float]) -> None:
    """Spend each limit's day already holds (as another replica would have written it to the shared state)."""
    from gateway._limit_state import LimitState

    minute = int(NOW.timestamp() // 60)
    holder = LimitState(state, timeout=1.0)
    holder.add_usage([], [(name, "2026-03-10", minute, amount) for name, amount in spend.items()])
    holder.close()


def test_a_wide_spend_limit_refusal_shows_no_spend(serve: Serve, tmp_path: Path) -> None:
    seed_spend(tmp_path / "limits.sqlite3", {"org daily": 1234.56})
    url, _ = serve(WIDE)
    body = refusal(url, "org wide", "web", model="codestral-latest")
    assert body["message"] == "org daily: spend limit reached; it resets at 2026-03-11T00:00:00+01:00"
    assert "1,234" not in str(body) and "1234" not in str(body)


def test_a_model_spend_limit_refusal_shows_no_spend(serve: Serve, tmp_path: Path) -> None:
    seed_spend(tmp_path / "limits.sqlite3", {"small daily": 77.5})
    url, _ = serve(WIDE)
    body = refusal(url, "model wide", "web")
    assert body["message"] == "small daily: spend limit reached; it resets at 2026-03-11T00:00:00+01:00"


def test_a_project_spend_limit_refusal_still_shows_the_projects_spend(serve: Serve, tmp_path: Path) -> None:
    seed_spend(tmp_path / "limits.sqlite3", {"search daily": 3.25})
    url, _ = serve(WIDE)
    body = refusal(url, "project spend", "search", model="codestral-latest")
    assert (
        "search daily: spend limit of USD 1.00 per day for project search reached (USD 3.25 spent)" in (body["message"])
    )


@pytest.mark.parametrize("first", ["rate", "none"])
def test_a_spend_limit_added_later_counts_the_ledger(serve: Serve, tmp_path: Path, first: str) -> None:
    """Issue 23: a gateway started without spend limits (a rate limit only, or no limit at all) built no
    ledger refresher, so a spend limit added by hot reload counted only the gateway's own spend, never the ledger's."""
    rows(  # the ledger counts up to the minute of its newest gateway row (14:00 UTC), 3.00 before it
        tmp_path / "data",
        [
            {"source": "gateway", "timestamp": datetime(2026, 3, 10, 9, 0, tzinfo=UTC), "cost": 2.5, "project": "late"},
            {"source": "other", "timestamp": datetime(2026, 3, 10, 10, 0, tzinfo=UTC), "cost": 0.5, "project": "late"},
            {"source": "gateway", "timestamp": datetime(2026, 3, 10, 14, 0, tzinfo=UTC), "cost": 0.0, "project": "x"},
        ],
    )
    rated = '[[limits]]\nname = "a rate"\nproject = "rated"\nrequests_per_minute = 100\n' if first == "rate" else ""
    url, root = serve(rated, ledger_dir="data", ledger_refresh_seconds=3600)
    assert sdk_chat(url, "late before", "late") == 200
    spend = '\n[[limits]]\nname = "late daily"\nproject = "late"\nperiod = "day"\namount = 1\n'
    (root / "budgets.toml").write_text(rated + spend)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = sdk_chat(url, "late again", "late")
        if status == 429:
            break
        time.sleep(0.2)
    body = refusal(url, "late refused", "late")
    assert "(USD 3.00 spent)" in body["message"], body


def test_every_stray_shares_one_catch_all_counter(serve: Serve, tmp_path: Path) -> None:
    """The catch-all is one more limit in the state: its minute row counts the stray let through, not the refused."""
    url, _ = serve()
    sdk_chat(url, "probe 1", None)
    sdk_chat(url, "probe 2", "nobody")
    with sqlite3.connect(tmp_path / "limits.sqlite3") as db:
        found = db.execute("SELECT requests FROM rate WHERE lim = 'strays'").fetchall()
    assert found == [(1,)]
