"""The access file's rules: allowed emails and domains, role resolution, bad files, trusted header, audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from access import AccessError, AuditLog, Principal, load_policy, parse_policy, role_allows, trusted_email
from access.policy import TrustedHeader

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
    with pytest.raises(AccessError, match="unknown key 'allowed_domain'"):
        load_policy(bad)
    bad.write_text('[users."ana@example.com"]\nrole = "owner"\n')
    with pytest.raises(AccessError, match="role is 'owner'; use one of viewer, editor, admin"):
        load_policy(bad)
    bad.write_text('allowed_domains = ["not a domain"]\n')
    with pytest.raises(AccessError, match="is not a domain"):
        load_policy(bad)
    bad.write_text("[trusted_header]\nheader = 'X-Email'\n")
    with pytest.raises(AccessError, match="proxies is empty"):
        load_policy(bad)


def test_trusted_header_only_from_the_proxy() -> None:
    rule = TrustedHeader("X-Forwarded-Email", ("10.1.2.3", "::1"))
    headers = {"x-forwarded-email": "ana@example.com"}
    assert trusted_email(headers, "10.1.2.3", rule) == "ana@example.com"
    assert trusted_email(headers, "10.1.2.4", rule) is None
    assert trusted_email(headers, "not-an-ip", rule) is None
    assert trusted_email(headers, None, rule) == "ana@example.com"  # Streamlit reports loopback as None
    assert trusted_email({"x-other": "ana@example.com"}, "10.1.2.3", rule) is None
    only_v4 = TrustedHeader("X-Forwarded-Email", ("127.0.0.9",))
    assert trusted_email(headers, None, only_v4) is None


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
