"""STARTTLS and implicit TLS against aiosmtpd with a throwaway self-signed certificate (trusted via ca_file)."""

from __future__ import annotations

import gc
import shutil
import ssl
import subprocess
import warnings
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from alerts import DeliveryError, parse_smtp, send_test_email
from tests.support.alerts import Recorder, free_port

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(crt),
        ],
        check=True,
        capture_output=True,
    )
    return key, crt


def server_context(key: Path, crt: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(crt), str(key))
    return context


@pytest.mark.slow
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_modes_deliver(cert, security):
    key, crt = cert
    handler, port = Recorder(), free_port()
    options = (
        {"tls_context": server_context(key, crt), "require_starttls": True}
        if security == "starttls"
        else {"ssl_context": server_context(key, crt)}
    )
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        smtp = parse_smtp(
            {
                "host": "127.0.0.1",
                "port": port,
                "security": security,
                "sender": "m@example.com",
                "ca_file": str(crt),
                "timeout_seconds": 5,
            }
        )
        assert "sent a test email to me@example.com" in send_test_email(smtp, "me@example.com", ["me@example.com"])
        assert [m["To"] for m in handler.messages] == ["me@example.com"]
        untrusted = parse_smtp(
            {"host": "127.0.0.1", "port": port, "security": security, "sender": "m@example.com", "timeout_seconds": 5}
        )
        with pytest.raises(DeliveryError, match="TLS with 127.0.0.1:.* failed .*check smtp.security"):
            send_test_email(untrusted, "me@example.com", ["me@example.com"])
    finally:
        controller.stop()


@pytest.mark.slow
def test_a_server_without_starttls_is_an_error_and_the_connection_is_closed(smtp_server):
    """STARTTLS asked of a server that does not offer it: one DeliveryError, and no socket left open."""
    smtp = parse_smtp(
        {
            "host": "127.0.0.1",
            "port": smtp_server.port,
            "security": "starttls",
            "sender": "m@example.com",
            "timeout_seconds": 5,
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(DeliveryError):
            send_test_email(smtp, "me@example.com", ["me@example.com"])
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert smtp_server.messages == []
