"""OpenAI and Anthropic usage sources against MockTransport: paging, costs, re-fetch replacing rows."""

from __future__ import annotations

import httpx
import pytest

from ledger import read_ledger
from tests.support.billing import SECRET, Router, utc

from . import payloads as p

T0 = int(utc(2026, 5, 14, 8).timestamp())
T1 = T0 + 3600
DAY = int(utc(2026, 5, 14).timestamp())


def openai_router(state: dict) -> Router:
    def usage(request: httpx.Request) -> dict:
        if request.url.params.get("page") == "page_2":
            return {
                "object": "page",
                "has_more": False,
                "next_page": None,
                "data": [
                    {"object": "bucket", "start_time": T1 + 3600, "end_time": T1 + 7200, "results": []},
                    {
                        "object": "bucket",
                        "start_time": T1,
                        "end_time": T1 + 3600,
                        "results": [
                            p.openai_result(
                                "gpt-4o-mini-2024-07-18", state["t1_input"], 1800, 0, 7, brand_new_field={"nested": 1}
                            ),
                            p.openai_result("gpt-4o", "lots", 1, 0, 1),
                        ],
                    },
                ],
            }
        return p.openai_usage_page(
            T0,
            [
                p.openai_result("gpt-4o-mini-2024-07-18", 5000, 1200, 3000, 42),
                p.openai_result("gpt-4o-2024-08-06", 1000, 100, 0, 3),
            ],
            "page_2",
        )

    costs = {
        "object": "page",
        "has_more": False,
        "next_page": None,
        "data": [
            p.openai_cost(DAY, 0.06, "gpt-4o-mini, input"),
            p.openai_cost(DAY, 0.03, "gpt-4o-mini, output"),
            p.openai_cost(DAY, 0.01, "gpt-4o, input"),
            p.openai_cost(DAY, 0.5, "web search tool calls"),
            {"object": "bucket", "start_time": DAY - 86_400, "end_time": DAY, "results": []},
        ],
    }
    return Router({"/v1/organization/usage/completions": usage, "/v1/organization/costs": lambda r: costs})


def by_model_hour(table) -> dict[tuple[str, int], dict]:
    return {(r["model"], r["timestamp"].hour): r for r in table.to_pylist()}


def test_openai_pages_allocates_costs_and_marks_rows_aggregated(make_provider):
    state = {"t1_input": 3000}
    router = openai_router(state)
    source = make_provider("openai_usage", router, utc(2026, 5, 14, 10, 30))
    result = source.poll()
    usage_calls = [c for c in router.calls if c.url.path.endswith("completions")]
    assert [c.url.params.get("page") for c in usage_calls] == [None, "page_2"]
    first = usage_calls[0].url.params
    assert (first["start_time"], first["bucket_width"]) == (str(int(utc(2026, 5, 12).timestamp())), "1h")
    assert first["group_by"] == "model,project_id,api_key_id"
    assert router.calls[0].headers["authorization"] == f"Bearer {SECRET}"
    assert result.skipped == 1  # the result with input_tokens = "lots"
    rows = by_model_hour(read_ledger(source.context.data_dir))
    mini0, mini1 = rows[("gpt-4o-mini-2024-07-18", 8)], rows[("gpt-4o-mini-2024-07-18", 9)]
    # input 0.06 split by uncached input 2000:3000, output 0.03 split by output 1200:1800
    assert mini0["cost"] == pytest.approx(0.06 * 2 / 5 + 0.03 * 2 / 5)
    assert mini1["cost"] == pytest.approx(0.06 * 3 / 5 + 0.03 * 3 / 5)
    assert rows[("gpt-4o-2024-08-06", 8)]["cost"] == pytest.approx(0.01)
    search = rows[("web search tool calls", 0)]
    assert (search["cost"], search["prompt_tokens"], search["request_count"]) == (0.5, 0, 0)
    assert (mini0["prompt_tokens"], mini0["cached_tokens"], mini0["completion_tokens"]) == (5000, 3000, 1200)
    assert (mini0["request_count"], mini0["aggregated"], mini0["currency"]) == (42, True, "USD")
    assert (mini0["project"], mini0["api_key_id"], mini0["status_code"]) == ("proj_abc", "key_xyz", 200)
    total = sum(r["cost"] for r in rows.values())
    assert total == pytest.approx(0.06 + 0.03 + 0.01 + 0.5)


def test_openai_refetch_replaces_the_partial_bucket(make_provider):
    state = {"t1_input": 3000}
    source = make_provider("openai_usage", openai_router(state), utc(2026, 5, 14, 10, 30))
    source.poll()
    before = read_ledger(source.context.data_dir)
    state["t1_input"] = 7000
    source.clock_box["now"] = utc(2026, 5, 14, 10, 45)
    source.poll()
    after = read_ledger(source.context.data_dir)
    assert after.num_rows == before.num_rows == 4
    assert sorted(after["id"].to_pylist()) == sorted(before["id"].to_pylist())
    assert by_model_hour(after)[("gpt-4o-mini-2024-07-18", 9)]["prompt_tokens"] == 7000


def test_openai_empty_window_writes_nothing(make_provider):
    empty = {"object": "page", "data": [], "has_more": False, "next_page": None}
    router = Router({"/v1/organization/usage/completions": lambda r: empty, "/v1/organization/costs": lambda r: empty})
    source = make_provider("openai_usage", router, utc(2026, 5, 14, 10), bucket_width="1d")
    assert source.poll().records == 0
    assert router.calls[0].url.params["limit"] == "3"
    assert read_ledger(source.context.data_dir).num_rows == 0


def anthropic_router() -> Router:
    usage = {
        "data": [
            p.anthropic_usage(
                "2026-05-14T00:00:00Z",
                [
                    p.anthropic_result("claude-sonnet-4-5", 1500, 200, 100, 500, key="apikey_01"),
                    p.anthropic_result("claude-sonnet-4-5", 500, 0, 0, 500, key="apikey_02"),
                ],
            )
        ],
        "has_more": False,
        "next_page": None,
    }

    def cost(amount: str, token_type: str | None, cost_type: str = "tokens") -> dict:
        return {
            "amount": amount,
            "currency": "USD",
            "workspace_id": "wrkspc_01",
            "description": "d",
            "cost_type": cost_type,
            "model": "claude-sonnet-4-5" if token_type else None,
            "service_tier": "standard",
            "token_type": token_type,
        }

    costs = {
        "data": [
            {
                "starting_at": "2026-05-14T00:00:00Z",
                "ending_at": "2026-05-15T00:00:00Z",
                "results": [
                    cost("600", "uncached_input_tokens"),
                    cost("100.5", "output_tokens"),
                    cost("20", "cache_read_input_tokens"),
                    cost("37.5", "cache_creation.ephemeral_5m_input_tokens"),
                    cost("250", None, "web_search"),
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    return Router(
        {"/v1/organizations/usage_report/messages": lambda r: usage, "/v1/organizations/cost_report": lambda r: costs}
    )


def test_anthropic_cents_strings_headers_and_allocation(make_provider):
    router = anthropic_router()
    source = make_provider("anthropic_usage", router, utc(2026, 5, 14, 12), bucket_width="1d")
    source.poll()
    call = router.calls[0]
    assert (call.headers["x-api-key"], call.headers["anthropic-version"]) == (SECRET, "2023-06-01")
    assert "authorization" not in call.headers
    assert call.url.params.get_list("group_by[]") == ["model", "workspace_id", "api_key_id", "service_tier"]
    assert call.url.params["starting_at"] == "2026-05-12T00:00:00Z"
    rows = {r["api_key_id"]: r for r in read_ledger(source.context.data_dir).to_pylist()}
    assert rows["apikey_01"]["cost"] == pytest.approx(4.5 + 0.5025 + 0.2 + 0.375)
    assert rows["apikey_02"]["cost"] == pytest.approx(1.5 + 0.5025)
    assert rows[None]["cost"] == pytest.approx(2.5) and rows[None]["prompt_tokens"] == 0
    one = rows["apikey_01"]
    assert (one["prompt_tokens"], one["cached_tokens"], one["completion_tokens"]) == (1800, 200, 500)
    assert (one["request_count"], one["aggregated"], one["project"], one["endpoint"]) == (
        0,
        True,
        "wrkspc_01",
        "/v1/messages",
    )


def test_anthropic_has_more_pages_follow_next_page(make_provider):
    pages = {
        None: (
            {
                "data": [
                    p.anthropic_usage("2026-05-13T00:00:00Z", [p.anthropic_result("claude-haiku-4-5", 10, 0, 0, 5)])
                ],
                "has_more": True,
                "next_page": "pg2",
            }
        ),
        "pg2": {
            "data": [p.anthropic_usage("2026-05-14T00:00:00Z", [p.anthropic_result("claude-haiku-4-5", 20, 0, 0, 5)])],
            "has_more": False,
            "next_page": None,
        },
    }
    empty = {"data": [], "has_more": False, "next_page": None}
    router = Router(
        {
            "/v1/organizations/usage_report/messages": lambda r: pages[r.url.params.get("page")],
            "/v1/organizations/cost_report": lambda r: empty,
        }
    )
    source = make_provider("anthropic_usage", router, utc(2026, 5, 14, 12))
    assert source.poll().records == 2
    table = read_ledger(source.context.data_dir)
    assert sorted(table["prompt_tokens"].to_pylist()) == [10, 20]
    assert table["cost"].to_pylist() == [None, None]  # not in the Mistral price book: null, never 0
