"""Config: the example parses; every mistake names its key and the fix; the CLI exits 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from foundation.config import default_config, load_config
from foundation.errors import ConfigError
from tests.paths import REPO


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_example_config_parses():
    config = load_config(REPO / "collector" / "example.toml")
    assert [s.name for s in config.sources] == ["simulator", "gateway"]
    assert config.currency == "EUR" and config.data_dir == (REPO / "data").resolve()
    assert config.sources[1].token_env == "GATEWAY_USAGE_TOKEN" and not config.sources[1].enabled


SOURCE = '[[sources]]\nname = "a"\nkind = "usage_endpoint"\nurl = "http://127.0.0.1:1"\n'


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('data_dir = "d"\ntimezne = "UTC"\n', "timezne"),
        ('timezone = "Mars/Olympus"\n', "timezone"),
        ('currency = "GBP"\n', "currency"),
        (SOURCE + "poll_seconds = 0\n", "sources[0].poll_seconds"),
        (SOURCE + 'poll_seconds = "60"\n', "sources[0].poll_seconds"),
        (SOURCE.replace("usage_endpoint", "usage-endpoint"), "sources[0].kind"),
        (SOURCE.replace("http://127.0.0.1:1", "http://user:pw@host"), "sources[0].url"),
        (SOURCE + SOURCE, "sources"),
        ('[[sources]]\nname = "a"\nkind = "usage_endpoint"\n', "sources[0].url"),
        ('[[prices]]\nmodel = "m"\n', "prices[0].input_per_1m"),
        ("data_dir = [1\n", "invalid TOML"),
        ("[collector]\nmax_record_age_days = 0\n", "collector.max_record_age_days"),
        ('[collector]\nmax_record_age_days = "400"\n', "collector.max_record_age_days"),
        ("[collector]\nmax_future_skew_seconds = -1\n", "collector.max_future_skew_seconds"),
        ("[collector]\naccept_from = 3\n", "collector.accept_from"),
        (SOURCE + "max_pages_per_poll = 0\n", "sources[0].max_pages_per_poll"),
        (SOURCE + "max_page_bytes = 10\n", "sources[0].max_page_bytes"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, text))


@pytest.mark.slow
def test_cli_exits_2_with_one_line(tmp_path):
    path = write(tmp_path, 'currency = "GBP"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "collector", "--config", str(path), "--once"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "currency" in proc.stderr


@pytest.mark.slow
def test_missing_token_env_var_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    path = write(tmp_path, SOURCE + 'token_env = "NOPE_TOKEN"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "collector", "--config", str(path), "--once"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2 and "NOPE_TOKEN" in proc.stderr


@pytest.mark.slow
def test_cli_exits_2_naming_a_bad_timestamp_window_key(tmp_path):
    path = write(tmp_path, SOURCE + "[collector]\nmax_future_skew_seconds = -5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "collector", "--config", str(path), "--once"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "collector.max_future_skew_seconds" in proc.stderr


def test_window_and_page_bounds_parse_with_defaults(tmp_path):
    config = load_config(write(tmp_path, SOURCE + "max_pages_per_poll = 7\n[collector]\nmax_record_age_days = 30\n"))
    assert (config.max_record_age_days, config.max_future_skew_seconds) == (30, 300)
    assert (config.sources[0].max_pages_per_poll, config.sources[0].max_page_bytes) == (7, 64 * 1024 * 1024)


def test_the_embedded_default_polls_the_simulator_port_the_demo_chose(monkeypatch):
    from foundation.config import default_config
    from simulator.__main__ import _parser

    monkeypatch.setenv("SIMULATOR_PORT", "9123")
    assert {s.url for s in default_config().sources} == {"http://127.0.0.1:9123"}
    assert _parser().parse_args([]).port == 9123
    monkeypatch.delenv("SIMULATOR_PORT")
    assert {s.url for s in default_config().sources} == {"http://127.0.0.1:8765"}
    assert _parser().parse_args([]).port == 8765


def test_a_bad_simulator_port_names_the_variable(monkeypatch):
    from foundation.config import default_config

    monkeypatch.setenv("SIMULATOR_PORT", "87a5")
    with pytest.raises(ConfigError, match=r"^SIMULATOR_PORT: '87a5' is not a TCP port"):
        default_config()


@pytest.mark.parametrize("url", ["gs://b/p", "file:///srv/data", "http://127.0.0.1:9000/b"])
def test_a_url_as_data_dir_is_refused_in_one_line_never_taken_for_a_folder(tmp_path, monkeypatch, url, capsys):
    from collector.__main__ import main

    monkeypatch.chdir(tmp_path)
    config = write(tmp_path, f'data_dir = "{url}"\n')
    assert main(["--config", str(config), "--once"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"config error: data_dir: '{url}' is a URL;")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]  # no folder named after the URL


def test_an_s3_data_dir_is_a_local_working_folder_that_names_its_url(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    config = load_config(write(tmp_path, 'data_dir = "s3://ledger-bucket/prod/"\n'))
    assert config.data_dir == tmp_path / "xdg" / "mistral-monitor" / "ledger-bucket" / "prod"
    assert (config.data_dir / ".data_url").read_text() == "s3://ledger-bucket/prod\n"
    monkeypatch.setenv("DATA_DIR", "s3://ledger-bucket/prod")
    assert default_config().data_dir == config.data_dir
