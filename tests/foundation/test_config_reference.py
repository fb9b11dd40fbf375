"""docs/configuration.md is generated from the `Setting`s themselves, so every key the
validators accept is documented with its type, default, allowed values and help text.

Regenerate after changing a setting: `python -m tests.foundation.test_config_reference`.
"""

from __future__ import annotations

from access.policy import ACCESS, TRUSTED, USER
from alerts._anomaly_settings import ANOMALY
from alerts._budgets import BUDGET, BUDGETS_FILE
from alerts._settings import ALERTS, SMTP
from collector.providers import AnthropicUsageSource, MistralAdminSource, OpenAIUsageSource
from foundation import config_keys as config
from foundation.limit_rules import LABEL, LIMIT, PROJECT, PROJECTS
from foundation.settings import Setting, reference
from gateway.config import SETTINGS as GATEWAY
from tests.paths import REPO

DOC = REPO / "docs" / "configuration.md"
INTRO = """# Configuration reference

One TOML file configures the whole product (`python -m collector --config FILE`, `python -m
gateway --config FILE`, the dashboard via `$MONITOR_CONFIG`); `collector/example.toml`,
`collector/example-alerts.toml` and `gateway/example.toml` are commented examples. Every table
is validated by the same `Setting`s (`foundation/settings.py`): an unknown key, a value of the
wrong type (`true` is never a number), a number out of range or an unknown choice stops the
program with exit code 2 and one line naming the key path and the fix, e.g.
`sources[0].page_limit: expected an integer, got true; write e.g. page_limit = 10000`.
Secrets are never in the file: keys ending in `_env` name the environment variable holding them.
The budgets file and the access file are validated the same way; their keys are at the end.

This page is generated from the settings (`python -m tests.foundation.test_config_reference`);
a test fails when it is stale.
"""
SECTIONS: tuple[tuple[str, str, tuple[Setting, ...]], ...] = (
    ("Top level", "", config.TOP),
    ("`[[sources]]`", "One table per polled source; a provider kind adds its own keys (below).", config.SOURCE),
    *(
        (
            f"`[[sources]]` of kind `{kind}`",
            "Declared by the provider (collector/providers), checked when the collector starts (docs/billing.md).",
            options,
        )
        for kind, options in (
            ("anthropic_usage", AnthropicUsageSource.OPTIONS),
            ("mistral_admin", MistralAdminSource.OPTIONS),
            ("openai_usage", OpenAIUsageSource.OPTIONS),
        )
    ),
    (
        "`[[prices]]`",
        "Your own prices, in the config's `currency`, winning over list prices (docs/prices.md).",
        config.PRICE,
    ),
    ("`[compaction]`", "", config.COMPACTION),
    (
        "`[collector]`",
        "The timestamp window records must fit, else they are quarantined; the failover lease "
        '(docs/deployment.md "Collector failover").',
        config.COLLECTOR,
    ),
    ("`[fx]`", "Reference rates for showing money in the other currency.", config.FX),
    ("`[[fx.rates]]`", "Rate overrides; they win over fetched and seed rates.", config.FX_RATE),
    ("`[savings]`", "What the dashboard's Savings page may assume (docs/dashboard.md).", config.SAVINGS),
    (
        "`[gateway]`",
        "The recording gateway (docs/gateway.md); these keys may also sit at the top level of a "
        "gateway-only file. Relative paths are relative to the config file.",
        GATEWAY,
    ),
    (
        "`[alerts]`",
        "The alert engine (docs/alerts.md); `[alerts.channels.<name>]` and `[alerts.rule_channels]` "
        "are described there.",
        ALERTS,
    ),
    ("`[smtp]`", "Where alert emails are sent from (docs/alerts.md).", SMTP),
    (
        "Budgets file",
        "The budgets file (`[alerts] budgets_file`, the gateway's `budgets_file`; edited by hand or by the Budgets "
        "page) holds these tables; a mistake names the file, the line and the key path, e.g. `budgets[0].amount`.",
        BUDGETS_FILE,
    ),
    ("Budgets file: `[[budgets]]`", "One table per budget (docs/alerts.md).", BUDGET),
    ("Budgets file: `[anomaly]`", "How sensitive the per-scope anomaly rule is, and muted scopes.", ANOMALY),
    (
        "Budgets file: `[[limits]]`",
        "The gateway's spend and rate limits (docs/gateway.md), read from its `budgets_file`.",
        LIMIT,
    ),
    (
        "Budgets file: `[key_labels]`, `[key_projects]`",
        'Each line of `[key_labels]` is `"key-..." = label`, each line of `[key_projects]` '
        '`"<label or key-...>" = project`; the values are checked as below.',
        (LABEL, PROJECT),
    ),
    ("Budgets file: `[projects]`", "Projects a request may name (docs/gateway.md).", PROJECTS),
    (
        "Access file",
        "Who may sign in to the dashboard (`$MONITOR_ACCESS`, else `<data_dir>/access.toml`; docs/signin.md).",
        ACCESS,
    ),
    ('Access file: `[users."<email>"]`', "One person's role and project scope.", USER),
    ("Access file: `[trusted_header]`", "Sign-in by a trusted proxy's header (MONITOR_SIGNIN=header).", TRUSTED),
)


def render() -> str:
    parts = [INTRO]
    for title, text, settings in SECTIONS:
        parts.append(f"## {title}\n\n" + (f"{text}\n\n" if text else "") + reference(settings) + "\n")
    return "\n".join(parts)


def test_the_configuration_reference_is_generated_from_the_settings():
    assert DOC.read_text() == render(), "stale: run python -m tests.foundation.test_config_reference"


def test_every_setting_has_real_help():
    for _, _, settings in SECTIONS:
        for setting in settings:
            assert len(setting.help) > 12 and setting.help.endswith("."), setting.name


def test_every_provider_kind_has_its_section():
    titles = {title for title, _, _ in SECTIONS}
    assert {f"`[[sources]]` of kind `{kind}`" for kind in config.PROVIDER_KINDS} <= titles


if __name__ == "__main__":
    DOC.write_text(render())
