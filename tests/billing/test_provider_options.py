"""A provider kind's own `[[sources]]` keys are declared next to the provider (`OPTIONS`) and
validated like every config table when the collector builds the source: one ConfigError naming
the key path and the fix; the foundation only carries them (it imports nothing of the collector)."""

from __future__ import annotations

import pytest

from collector.providers import FACTORIES
from foundation.config import parse_config
from foundation.config_keys import PROVIDER_KINDS, SOURCE_KINDS
from foundation.errors import ConfigError
from tests.support.billing import Router, utc

NOW = utc(2026, 5, 14, 10, 30)


def test_the_foundations_provider_kinds_are_the_collectors_providers() -> None:
    assert set(FACTORIES) == set(PROVIDER_KINDS) and set(PROVIDER_KINDS) < set(SOURCE_KINDS)


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("mistral_admin", {"workspace_idd": "w"}, "sources.mistral_admin.workspace_idd: unknown key; remove it or use"),
        ("mistral_admin", {"auth": "basic"}, "sources.mistral_admin.auth: 'basic' is not supported; use one of x-api-"),
        ("mistral_admin", {"previous_month_days": True}, "sources.mistral_admin.previous_month_days: expected an int"),
        ("openai_usage", {"bucket_width": "1m"}, "sources.openai_usage.bucket_width: '1m' is not supported; use one"),
        ("openai_usage", {"anthropic_version": "x"}, "sources.openai_usage.anthropic_version: unknown key"),
        (
            "anthropic_usage",
            {"trailing_days": "2"},
            "sources.anthropic_usage.trailing_days: expected an integer, got",
        ),
    ],
)
def test_a_bad_provider_key_is_one_line_naming_it(make_provider, kind, options, message) -> None:
    with pytest.raises(ConfigError) as caught:
        make_provider(kind, Router({}), NOW, **options)
    assert str(caught.value).startswith(message)


def test_the_declared_defaults_apply_and_the_config_carries_the_keys(make_provider, tmp_path) -> None:
    admin = make_provider("mistral_admin", Router({}), NOW)
    assert (admin.workspace, admin.previous_days, admin.usage_every) == (None, 5, 3600)
    assert admin.client.headers["x-api-key"]
    bucket = make_provider("anthropic_usage", Router({}), NOW, bucket_width="1d")
    assert (bucket.width, bucket.trailing, bucket.client.headers["anthropic-version"]) == ("1d", 2, "2023-06-01")
    table = {"name": "a", "kind": "openai_usage", "url": "http://127.0.0.1:1", "trailing_days": 3}
    assert parse_config({"sources": [table]}, base=tmp_path).sources[0].options == {"trailing_days": 3}
