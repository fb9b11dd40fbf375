"""Each default is written once, in its `Setting`: a value object's field takes it with
`default(SETTINGS, name)` (foundation.settings), so the documented default, the validated
default and the constructor's default cannot drift apart.

Checked by introspection: every module-level tuple of `Setting`s in the product is paired with
its value object (or listed as a raw table with none), every field named like a setting with a
default equals that setting's default, and the field's source reads it with `default(...)`.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import textwrap
from typing import Any

import pytest

from access.policy import ACCESS, TRUSTED, USER, Policy, TrustedHeader, UserRule
from alerts._anomaly_settings import ANOMALY, AnomalySettings
from alerts._budgets import BUDGET, Budget
from alerts._settings import ALERTS, SMTP, AlertSettings, SmtpSettings
from foundation import config_keys as keys
from foundation.config import Config, FxConfig, LeaseConfig, PriceOverride, SourceConfig
from foundation.limit_rules import LIMIT, PROJECTS, Limit, Projects
from foundation.settings import Setting
from gateway.config import SETTINGS as GATEWAY
from gateway.config import GatewayConfig
from tests.paths import REPO
from tests.test_layers import ALLOWED

PAIRS: list[tuple[type, tuple[Setting, ...], dict[str, str]]] = [
    (SourceConfig, keys.SOURCE, {}),
    (FxConfig, keys.FX, {}),
    (PriceOverride, keys.PRICE, {}),
    (LeaseConfig, keys.COLLECTOR, {"seconds": "lease_seconds", "password_env": "lease_password_env"}),
    (Config, keys.TOP + keys.COLLECTOR + keys.SAVINGS, {}),
    (Config, keys.COMPACTION, {"compaction_hour_utc": "hour_utc"}),
    (GatewayConfig, GATEWAY, {}),
    (AlertSettings, ALERTS, {}),
    (SmtpSettings, SMTP, {}),
    (AnomalySettings, ANOMALY, {}),
    (Budget, BUDGET, {"projects": "project", "models": "model", "api_keys": "api_key"}),
    (Limit, LIMIT, {}),
    (Projects, PROJECTS, {"listed": "known"}),
    (Policy, ACCESS, {}),
    (UserRule, USER, {}),
    (TrustedHeader, TRUSTED, {}),
]
"""(value object, its settings, field name -> setting name where they differ)."""
RAW = {
    "foundation.config_keys.FX_RATE",
    "collector.providers._buckets.BUCKET_OPTIONS",
    "alerts._budgets.BUDGETS_FILE",
}
"""Settings tuples whose table becomes no value object of its own (a tuple; a provider's `options`)."""
PARSED_FORM = {
    "Config.sources",
    "Config.fx",
    "SmtpSettings.port",
    "Projects.known",
    "Policy.users",
    "Policy.trusted_header",
}
"""Fields holding what a setting's value becomes, not the value itself (the port follows `security`;
`Projects.known` adds the projects the limits and bindings name)."""


def _declared(cls: type, settings: tuple[Setting, ...], renamed: dict[str, str]) -> list[tuple[str, Setting]]:
    by_name = {s.name: s for s in settings}
    fields = [f for f in dataclasses.fields(cls) if renamed.get(f.name, f.name) in by_name]
    return [
        (f.name, by_name[renamed.get(f.name, f.name)]) for f in fields if f"{cls.__name__}.{f.name}" not in PARSED_FORM
    ]


def _field_sources(cls: type) -> dict[str, str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    return {
        node.target.id: ast.unparse(node.value)
        for node in body.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None
    }


@pytest.mark.parametrize(("cls", "settings", "renamed"), PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_a_field_named_like_a_setting_takes_the_settings_default(
    cls: type, settings: tuple[Setting, ...], renamed: dict[str, str]
) -> None:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    sources = _field_sources(cls)
    pairs = _declared(cls, settings, renamed)
    assert pairs, f"{cls.__name__} shares no field with its settings"
    for name, setting in pairs:
        field = fields[name]
        if setting.required or field.default is dataclasses.MISSING:
            continue
        assert field.default == setting.default, f"{cls.__name__}.{name}"
        assert sources[name].startswith("default("), f"{cls.__name__}.{name} repeats its default: {sources[name]}"
        assert repr(setting.name) in sources[name], f"{cls.__name__}.{name} reads another setting's default"


def test_the_value_objects_constructed_bare_equal_the_settings_defaults() -> None:
    """Independently of the source: the defaults a bare constructor gives are the declared ones."""
    bare: dict[type, Any] = {
        SourceConfig: SourceConfig(name="a", kind="usage_endpoint", url="http://127.0.0.1:1"),
        GatewayConfig: GatewayConfig(),
        FxConfig: FxConfig(),
        SmtpSettings: SmtpSettings(host="h", sender="m@example.com"),
    }
    for cls, settings, renamed in PAIRS:
        if cls in bare:
            for name, setting in _declared(cls, settings, renamed):
                if not setting.required:
                    assert getattr(bare[cls], name) == setting.default, f"{cls.__name__}.{name}"


def _settings_tuples() -> dict[int, tuple[set[str], tuple[Setting, ...]]]:
    """Every module-level tuple of Settings, by identity, with each name it is found under."""
    found: dict[int, tuple[set[str], tuple[Setting, ...]]] = {}
    for path in sorted(REPO.glob("*/**/*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[0] not in ALLOWED or "Setting(" not in path.read_text():
            continue
        module = importlib.import_module(".".join(parts))
        for attr, value in vars(module).items():
            if isinstance(value, tuple) and value and all(isinstance(s, Setting) for s in value):
                found.setdefault(id(value), (set(), value))[0].add(f"{module.__name__}.{attr}")
    return found


def test_every_settings_tuple_is_paired_with_its_value_object() -> None:
    paired = {id(s) for _, settings, _ in PAIRS for s in settings}
    for names, settings in _settings_tuples().values():
        if not names & RAW:
            assert all(id(s) in paired for s in settings), f"{sorted(names)}: pair it with its value object in PAIRS"
