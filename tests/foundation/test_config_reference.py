"""docs/configuration.md is generated from the `Setting`s themselves, so every key the
validators accept is documented with its type, default, allowed values and help text.

Regenerate after changing a setting: `python -m tests.foundation.test_config_reference`.
"""

from __future__ import annotations

from alerts._settings import ALERTS, SMTP
from foundation import config_keys as config
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

This page is generated from the settings (`python -m tests.foundation.test_config_reference`);
a test fails when it is stale.
"""
SECTIONS: tuple[tuple[str, str, tuple[Setting, ...]], ...] = (
    ("Top level", "", config.TOP),
    ("`[[sources]]`", "One table per polled source; kind-specific keys are in docs/billing.md.", config.SOURCE),
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


if __name__ == "__main__":
    DOC.write_text(render())
