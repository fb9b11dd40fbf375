"""One validator for every config table: the same mistakes are refused in the same words,
each as one line naming the full key path and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alerts import parse_alerts, parse_smtp
from foundation.config import FxConfig, LeaseConfig, SourceConfig, default_config, load_config, parse_config
from foundation.config_keys import COLLECTOR
from foundation.errors import ConfigError, MonitorError
from foundation.settings import Setting, default, validate
from gateway import GatewayConfig
from gateway import load_config as load_gateway
from gateway import parse_config as parse_gateway
from tests.paths import REPO

SOURCE_TABLE = {"name": "a", "kind": "usage_endpoint", "url": "http://127.0.0.1:1"}
PAGE_LIMIT_TRUE = "sources[0].page_limit: expected an integer, got true; write e.g. page_limit = 10000"


def source(**keys: object) -> dict:
    return {"sources": [SOURCE_TABLE | keys]}


def collector_error(raw: dict, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, base=tmp_path)
    return str(caught.value)


def gateway_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text('data_dir = "data"\n[gateway]\n' + body)
    return path


def test_a_bool_is_not_a_number_in_sources_gateway_and_alerts(tmp_path):
    source = collector_error({"sources": [SOURCE_TABLE | {"page_limit": True}]}, tmp_path)
    assert source == PAGE_LIMIT_TRUE
    timeout = collector_error({"sources": [SOURCE_TABLE | {"timeout_seconds": False}]}, tmp_path)
    assert timeout.startswith("sources[0].timeout_seconds: expected a number, got false; write e.g.")
    with pytest.raises(ConfigError, match=r"^gateway\.port: expected an integer, got true; write e\.g\. port = 8080$"):
        load_gateway(gateway_file(tmp_path, "port = true\n"))
    with pytest.raises(ConfigError, match=r"^alerts\.error_rate_pct: expected a number, got true; write e\.g\."):
        parse_alerts({"error_rate_pct": True}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"^smtp\.port: expected a number, got true"):
        parse_smtp({"host": "h", "sender": "m@example.com", "port": True})


@pytest.mark.slow
def test_the_collector_cli_refuses_page_limit_true_with_exit_2(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[sources]]\nname = "a"\nkind = "usage_endpoint"\nurl = "http://127.0.0.1:1"\npage_limit = true\n')
    done = subprocess.run(
        [sys.executable, "-m", "collector", "--config", str(path), "--once"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == f"config error: {PAGE_LIMIT_TRUE}\n"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (source(colour=1), "sources[0].colour: unknown key; remove it or use one of enabled,"),
        (source(page_limit="10"), 'sources[0].page_limit: expected an integer, got "10"; write'),
        (source(page_limit=0), "sources[0].page_limit: 0 is out of range; use 1..10000"),
        ({"currency": "GBP"}, "currency: 'GBP' is not supported; use one of USD, EUR"),
        ({"sources": [{"name": "a", "kind": "usage_endpoint"}]}, "sources[0].url: missing; add it (The source's base"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'; use an IANA name"),
        ({"fx": {"timeout_seconds": 0}}, "fx.timeout_seconds: must be greater than 0, got 0; use a number above 0"),
        ({"fx": []}, "fx: expected a table, got []; write it as a table, [fx]"),
        ({"collector": {"max_record_age_days": 0}}, "collector.max_record_age_days: 0 is out of range; use 1..36500"),
    ],
)
def test_each_kind_of_mistake_is_one_line_naming_the_key_path_and_the_fix(tmp_path, raw, message):
    found = collector_error(raw, tmp_path)
    assert found.startswith(message) and "\n" not in found and "; " in found


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_dir = [1\n", "invalid TOML"),
        (None, "not found; pass an existing file to --config"),
    ],
)
def test_file_errors_name_the_file_and_the_fix(tmp_path, text, message):
    path = tmp_path / "c.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=f"^config file {path}.*{message}"):
        load_config(path)


def test_unknown_keys_in_gateway_alerts_and_sources_name_the_path_and_the_known_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"^gateway\.listen: unknown key; remove it or use one of api_zone, budgets_"):
        load_gateway(gateway_file(tmp_path, "listen = 1\n"))
    with pytest.raises(ConfigError, match=r"^alerts\.error_rate_pc: unknown key; remove it or use one of anomaly_"):
        parse_alerts({"error_rate_pc": 5}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"^smtp\.hots: unknown key; remove it or use one of ca_file, host, "):
        parse_smtp({"hots": "h", "host": "h", "sender": "m@example.com"})
    found = collector_error({"sources": [SOURCE_TABLE | {"workspace_id": "w"}]}, tmp_path)
    assert found.startswith("sources[0].workspace_id: unknown key; remove it or use one of enabled, kind, ")
    admin = parse_config({"sources": [SOURCE_TABLE | {"kind": "mistral_admin", "workspace_id": "w"}]}, base=tmp_path)
    assert admin.sources[0].options == {"workspace_id": "w"}


def test_a_gateway_only_file_keeps_bare_key_paths(tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text("port = true\n")
    with pytest.raises(ConfigError, match=r"^port: expected an integer"):
        load_gateway(path)


def test_there_is_one_config_error_class():
    import alerts
    import collector.errors
    import gateway

    assert gateway.ConfigError is ConfigError and issubclass(alerts.BudgetFileError, ConfigError)
    assert not hasattr(collector.errors, "ConfigError")
    assert issubclass(collector.errors.PollError, MonitorError) and issubclass(gateway.GatewayError, MonitorError)


def test_parsing_nothing_gives_the_value_objects_defaults(tmp_path):
    assert parse_config({"sources": [SOURCE_TABLE]}, base=tmp_path).sources[0] == SourceConfig(**SOURCE_TABLE)
    assert parse_config({}, base=tmp_path).fx == FxConfig()
    assert parse_gateway({}, base=tmp_path).retry_count_headers == GatewayConfig().retry_count_headers
    collector = validate({}, COLLECTOR)
    assert collector == {
        "max_record_age_days": 400,
        "max_future_skew_seconds": 300,
        "lease_url": None,
        "lease_seconds": 15,
        "lease_password_env": "COLLECTOR_LEASE_PASSWORD",
    }
    lease = LeaseConfig(url="redis://127.0.0.1:6379/0")
    assert (lease.seconds, lease.password_env) == (collector["lease_seconds"], collector["lease_password_env"])


def test_default_paths_are_relative_to_the_current_directory_not_the_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATA_DIR", raising=False)
    assert default_config().data_dir == tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", "/srv/ledger")
    assert default_config().data_dir == Path("/srv/ledger")
    gateway = parse_gateway({}, base=tmp_path / "etc")
    assert gateway.limits_state_path == tmp_path / "data" / "gateway" / "limits.sqlite3"
    assert gateway.db_path == tmp_path / "etc" / "data" / "gateway" / "buffer.sqlite3"
    assert load_gateway(None).db_path.resolve() == tmp_path / "data" / "gateway" / "buffer.sqlite3"


def test_a_check_may_normalise_and_its_message_gets_the_key_path():
    def even(value: int) -> int:
        if value % 2:
            raise ValueError(f"{value} is odd; use an even number")
        return value // 2

    half = Setting(name="pairs", kind=int, default=2, check=even, help="Pairs of things.")
    assert validate({"pairs": 8}, (half,), "x") == {"pairs": 4}
    with pytest.raises(ConfigError, match=r"^x\.pairs: 3 is odd; use an even number$"):
        validate({"pairs": 3}, (half,), "x")


def test_a_spend_limit_currency_the_gateway_cannot_price_is_refused(tmp_path):
    """`limits_currency = "GBP"` used to start cleanly and price every record at 0, so no spend
    limit could ever trip; it is now one line naming the key and the currencies that work."""
    path = tmp_path / "monitor.toml"
    path.write_text('[gateway]\nlimits_currency = "GBP"\n')
    with pytest.raises(ConfigError) as caught:
        load_gateway(path)
    assert str(caught.value).startswith("gateway.limits_currency: ")
    assert "USD" in str(caught.value) and "EUR" in str(caught.value)
    path.write_text('[gateway]\nlimits_currency = "eur"\n')
    assert load_gateway(path).limits_currency == "EUR"


def test_a_file_with_its_own_error_class_gets_it_from_the_one_validator():
    class FileError(MonitorError, ValueError):
        pass

    port = Setting(name="port", kind=int, default=8080, low=1, high=65_535, help="TCP port.")
    for table, message in [
        ({"port": 0}, "f.port: 0 is out of range; use 1..65535"),
        ({"port": True}, "f.port: expected an integer, got true; write e.g. port = 8080"),
        ({"porr": 1}, "f.porr: unknown key; remove it or use one of port"),
        ([], "f: expected a table ([f]), got []; fix the section"),
    ]:
        with pytest.raises(FileError) as caught:
            validate(table, (port,), "f", error=FileError)
        assert str(caught.value) == message and not isinstance(caught.value, ConfigError)
    assert default((port,), "port") == 8080
    with pytest.raises(KeyError):
        default((port,), "host")
