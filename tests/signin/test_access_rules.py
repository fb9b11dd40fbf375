"""The access file's rules: allowed emails and domains, role resolution, bad files, the sign-in mode, the
trusted header, the audit log and its hash chain."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from access import (
    AccessError,
    AuditLog,
    ChainCheck,
    Principal,
    TrustedHeader,
    load_policy,
    parse_policy,
    require_policy,
    role_allows,
    signin_mode,
    trusted_email,
)
from tests.paths import REPO

POLICY = {
    "allowed_emails": ["Solo@Gmail.com"],
    "allowed_domains": ["example.com", "@corp.example.org"],
    "users": {
        "ana@example.com": {"role": "admin"},
        "eddie@example.com": {"role": "editor"},
        "lead@partner.net": {"projects": ["search", "chat", "search"]},
    },
}


def test_allowed_domains_match_the_whole_domain_only() -> None:
    policy = parse_policy(POLICY, "t")
    assert policy.resolve("bob@example.com") == Principal("bob@example.com", "viewer", None)
    assert policy.resolve("x@corp.example.org") is not None
    for outsider in ("bob@evil-example.com", "bob@example.com.evil.net", "bob@sub.example.com", "bob@gmail.com"):
        assert policy.resolve(outsider) is None, outsider


def test_listed_emails_and_users_get_in_case_insensitively() -> None:
    policy = parse_policy(POLICY, "t")
    assert policy.resolve(" solo@GMAIL.com ") == Principal("solo@gmail.com", "viewer", None)
    assert policy.resolve("LEAD@partner.net") == Principal("lead@partner.net", "viewer", ("chat", "search"))
    assert policy.resolve("other@partner.net") is None


@pytest.mark.parametrize(
    "email",
    [
        None,
        "",
        "no-at-sign",
        "@example.com",
        "a@",
        "a@b@example.com",
        "a b@example.com",
        "a@example.com, b@example.com",
    ],
)
def test_anything_but_one_plain_address_is_refused(email: str | None) -> None:
    assert parse_policy(POLICY, "t").resolve(email) is None


def test_role_resolution_and_order() -> None:
    policy = parse_policy({**POLICY, "default_role": "editor"}, "t")
    ana, bob = policy.resolve("ana@example.com"), policy.resolve("bob@example.com")
    assert ana is not None and ana.role == "admin"
    assert bob is not None and bob.role == "editor"
    assert [role_allows("editor", need) for need in ("viewer", "editor", "admin")] == [True, True, False]
    assert [role_allows("viewer", need) for need in ("viewer", "editor", "admin")] == [True, False, False]
    assert not role_allows("root", "viewer")


def test_no_file_means_no_policy_and_a_bad_file_names_the_key(tmp_path: Path) -> None:
    assert load_policy(tmp_path / "missing.toml") is None
    bad = tmp_path / "access.toml"
    bad.write_text('allowed_domain = ["example.com"]\n')
    with pytest.raises(AccessError, match="access.toml: allowed_domain: unknown key; remove it or use one of"):
        load_policy(bad)
    bad.write_text('[users."ana@example.com"]\nrole = "owner"\n')
    with pytest.raises(
        AccessError,
        match=r'users\."ana@example\.com"\.role: \'owner\' is not supported; use one of viewer, editor, admin$',
    ):
        load_policy(bad)
    bad.write_text('allowed_domains = ["not a domain"]\n')
    with pytest.raises(AccessError, match="allowed_domains: 'not a domain' is not a domain; write it as example.com"):
        load_policy(bad)
    bad.write_text("[trusted_header]\nheader = 'X-Email'\n")
    with pytest.raises(AccessError, match=r"trusted_header\.proxies: missing; add it"):
        load_policy(bad)
    bad.write_text("[trusted_header]\nheader = 'X-Email'\nproxies = []\n")
    with pytest.raises(AccessError, match=r"trusted_header\.proxies: empty; list the proxy's address"):
        load_policy(bad)


def test_trusted_header_only_from_the_proxy() -> None:
    rule = TrustedHeader("X-Forwarded-Email", ("10.1.2.3", "::1"))
    headers = [("x-forwarded-email", "ana@example.com")]
    assert trusted_email(headers, "10.1.2.3", rule) == "ana@example.com"
    assert trusted_email(headers, "::ffff:10.1.2.3", rule) == "ana@example.com"
    assert trusted_email(headers, "10.1.2.4", rule) is None
    assert trusted_email(headers, "not-an-ip", rule) is None
    assert trusted_email([("x-other", "ana@example.com")], "10.1.2.3", rule) is None


def test_an_unknown_peer_is_never_the_proxy() -> None:
    """An agent API session has no peer (None); it used to count as loopback, so as a loopback proxy."""
    headers = [("X-Forwarded-Email", "ana@example.com")]
    for proxies in (("127.0.0.1",), ("::1",), ("127.0.0.1", "::1")):
        assert trusted_email(headers, None, TrustedHeader("X-Forwarded-Email", proxies)) is None
    assert trusted_email(headers, "127.0.0.1", TrustedHeader("X-Forwarded-Email", ("127.0.0.1",))) == "ana@example.com"


def test_a_repeated_identity_header_is_refused() -> None:
    rule = TrustedHeader("X-Forwarded-Email", ("127.0.0.1",))
    twice = [("X-Forwarded-Email", "ana@example.com"), ("x-forwarded-email", "mallory@example.com")]
    assert trusted_email(twice, "127.0.0.1", rule) is None
    assert trusted_email([("X-Forwarded-Email", " ")], "127.0.0.1", rule) is None


@pytest.mark.parametrize(
    ("env", "auth", "mode"),
    [
        ({"MONITOR_SIGNIN": "open"}, False, "open"),
        ({"MONITOR_SIGNIN": "Header"}, False, "header"),
        ({"MONITOR_SIGNIN": "oidc"}, True, "oidc"),
        ({}, True, "oidc"),
        ({"MONITOR_SIGNIN": "open"}, True, "open"),
    ],
)
def test_the_sign_in_mode_is_asked_for_by_name(env: dict[str, str], auth: bool, mode: str) -> None:
    assert signin_mode(env, auth=auth) == mode


def test_no_mode_a_wrong_mode_or_a_missing_section_is_an_error_never_open(tmp_path: Path) -> None:
    with pytest.raises(AccessError, match="no sign-in mode: set MONITOR_SIGNIN=oidc"):
        signin_mode({}, auth=False)
    with pytest.raises(AccessError, match="MONITOR_SIGNIN is 'opne'; use one of oidc, header, open"):
        signin_mode({"MONITOR_SIGNIN": "opne"}, auth=False)
    with pytest.raises(AccessError, match="MONITOR_SIGNIN=oidc but secrets.toml has no \\[auth\\]"):
        signin_mode({"MONITOR_SIGNIN": "oidc"}, auth=False)
    where = tmp_path / "access.toml"
    for how in ("header", "oidc"):
        with pytest.raises(AccessError, match=f"MONITOR_SIGNIN={how} but the access file .* does not exist"):
            require_policy(how, None, where)
    with pytest.raises(AccessError, match="has no \\[trusted_header\\]"):
        require_policy("header", parse_policy({"allowed_domains": ["example.com"]}, "t"), where)
    require_policy("open", None, where)


def test_audit_log_appends_and_reads_newest_first(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit" / "audit.jsonl")
    log.append("ana@example.com", "admin", "sql", "SELECT 1")
    log.append("eddie@example.com", "editor", "test_email", "ops@example.com")
    with log.path.open("a") as torn:
        torn.write('{"at": "2026-')
    records = log.read()
    assert [(r["who"], r["action"], r["detail"]) for r in records] == [
        ("eddie@example.com", "test_email", "ops@example.com"),
        ("ana@example.com", "sql", "SELECT 1"),
    ]
    log.append("ana@example.com", "admin", "sql", "SELECT 2")  # after a torn line: on a line of its own
    assert [r["detail"] for r in log.read()] == ["SELECT 2", "ops@example.com", "SELECT 1"]
    assert log.verify().ok


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\r", "\n"])
def test_no_character_in_a_detail_hides_a_record(tmp_path: Path, separator: str) -> None:
    """A U+2028 in a SQL comment used to split the line for str.splitlines(), so the record vanished."""
    log = AuditLog(tmp_path / "audit.jsonl")
    sql = f"SELECT 1 -- note{separator}FROM ledger"
    log.append("ana@example.com", "admin", "sql", sql)
    log.append("ana@example.com", "admin", "sql", "SELECT 2")
    assert [r["detail"] for r in log.read()] == ["SELECT 2", sql]
    assert log.path.read_bytes().count(b"\n") == 2


def test_the_hash_chain_finds_an_edited_or_deleted_record(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    for n in range(5):
        log.append("ana@example.com", "admin", "sql", f"SELECT {n}")
    assert log.verify() == ChainCheck(True, 5)
    lines = log.path.read_bytes().split(b"\n")
    first = json.loads(lines[0])
    assert first["prev"] == "0" * 64
    assert json.loads(lines[3])["prev"] == hashlib.sha256(lines[2]).hexdigest()
    log.path.write_bytes(b"\n".join([*lines[:2], lines[2].replace(b"SELECT 2", b"SELECT 9"), *lines[3:]]))
    assert log.verify() == ChainCheck(False, 3, 4)
    log.path.write_bytes(b"\n".join([*lines[:1], *lines[2:]]))
    assert log.verify() == ChainCheck(False, 1, 2)
    assert "broken at line 2" in log.verify().summary()


def test_records_written_before_the_chain_are_counted_not_failed(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    old = {"at": "2026-01-01T00:00:00+00:00", "who": "a@example.com", "role": "admin", "action": "sql", "detail": "x"}
    log.path.write_text(json.dumps(old) + "\n")
    log.append("ana@example.com", "admin", "sql", "SELECT 1")
    assert log.verify() == ChainCheck(True, 1, None, 1)
    with log.path.open("a") as out:
        out.write(json.dumps(old) + "\n")
    assert not log.verify().ok


@pytest.mark.slow
def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    """Four processes appending at once: every record lands whole and the chain verifies."""
    path = tmp_path / "audit.jsonl"
    code = (
        "import sys; from pathlib import Path; from access import AuditLog\n"
        "log = AuditLog(Path(sys.argv[1]))\n"
        "for n in range(100): log.append(sys.argv[2], 'admin', 'sql', 'x' * 3000)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), f"w{i}@example.com"], cwd=REPO) for i in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    log = AuditLog(path)
    assert len(log.read(limit=10_000)) == 400
    assert log.verify() == ChainCheck(True, 400)
