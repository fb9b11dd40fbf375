"""Reference payloads, copied from the providers' public docs (shapes as of 2026)."""

from __future__ import annotations

from typing import Any

ADMIN_USAGE_EUR: dict[str, Any] = {
    "completion": {
        "models": {
            "mistral-small-2603": {
                "input": [
                    {"billing_metric": "input_tokens", "value": 2_000_000, "unit_price": "0.0000001", "amount": "0.20"}
                ],
                "output": [
                    {"billing_metric": "output_tokens", "value": 500_000, "unit_price": "0.0000003", "amount": "0.15"}
                ],
            },
            "mistral-large-2512": {"tokens": {"quantity": "1000000", "price": "0.0000005"}},
        }
    },
    "chat": {"models": {}},
    "ocr": {"models": {"mistral-ocr-2505": {"pages": [{"value": 120, "amount": "0.12", "brand_new_field": {"x": 1}}]}}},
    "connectors": {"models": {}},
    "audio": {"models": {}},
    "audio_characters": {"models": {}},
    "libraries_api": {"pages": {}, "tokens": {}, "audio_seconds": {}},
    "fine_tuning": {"training": {"ft:mistral-small-2603:acme:7f3a": 3.5}, "storage": {}},
    "vibe_code": {},
    "vibe_usage": 0,
    "date": "2026-05-01T00:00:00Z",
    "start_date": "2026-05-01T00:00:00Z",
    "end_date": "2026-05-31T23:59:59Z",
    "previous_month": "2026-04",
    "next_month": None,
    "currency": "EUR",
    "currency_symbol": "€",
    "prices": [
        {
            "event_type": "x",
            "billing_metric": "input_tokens",
            "billing_group": "g",
            "api_zone": "global",
            "service_tier": "standard",
            "price": "0.00000015",
        }
    ],
}

SPEND_LIMIT: dict[str, Any] = {
    "limits": {
        "completion": {
            "no_monthly_limit": False,
            "monthly_limit_reached": False,
            "usage": 412.5,
            "vibe_usage": 0,
            "total_usage": 412.5,
            "usage_limit": 500,
        },
        "last_payment_failure": False,
        "last_payment_failure_protection": None,
        "currency": "EUR",
    }
}

RATE_LIMIT: dict[str, Any] = {
    "requests_per_second": 6,
    "tokens_limits_by_model": {
        "mistral-small-2603": {"tokens_per_minute": 2_000_000, "tokens_per_month": 10_000_000_000}
    },
}


def openai_usage_page(start: int, results: list[dict[str, Any]], next_page: str | None) -> dict[str, Any]:
    bucket = {"object": "bucket", "start_time": start, "end_time": start + 3600, "results": results}
    return {"object": "page", "has_more": next_page is not None, "next_page": next_page, "data": [bucket]}


def openai_result(
    model: str,
    inp: int | str,
    out: int,
    cached: int,
    n: int,
    project: str = "proj_abc",
    key: str = "key_xyz",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": inp,
        "output_tokens": out,
        "input_cached_tokens": cached,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": n,
        "project_id": project,
        "user_id": None,
        "api_key_id": key,
        "model": model,
        "batch": False,
        **extra,
    }


def openai_cost(start: int, value: float, line_item: str, project: str = "proj_abc") -> dict[str, Any]:
    return {
        "object": "bucket",
        "start_time": start,
        "end_time": start + 86_400,
        "results": [
            {
                "object": "organization.costs.result",
                "amount": {"value": value, "currency": "usd"},
                "line_item": line_item,
                "project_id": project,
            }
        ],
    }


def anthropic_usage(start: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"starting_at": start, "ending_at": start, "results": results}


def anthropic_result(
    model: str,
    uncached: int,
    read: int,
    write: int,
    out: int,
    key: str = "apikey_01",
    workspace: str | None = "wrkspc_01",
) -> dict[str, Any]:
    return {
        "uncached_input_tokens": uncached,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": out,
        "server_tool_use": {"web_search_requests": 0},
        "api_key_id": key,
        "workspace_id": workspace,
        "model": model,
        "service_tier": "standard",
        "context_window": "0-200k",
        "inference_geo": None,
    }
