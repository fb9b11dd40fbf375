"""A real OpenID Connect provider (tests/oidc: oidc-provider on node) and the secrets.toml pointing at it."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Generator
from pathlib import Path

from tests.support.servers import wait_up

from .browser import REPO

OIDC_DIR = REPO / "tests" / "oidc"
CLIENT_ID = "monitor-dashboard"


def node_ready() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "needs node (scripts/setup.sh dev installs it)"
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return "needs tests/oidc/node_modules: run scripts/setup.sh dev (npm ci in tests/oidc)"
    return None


def provider(port: int, client_secret: str, redirect_uri: str) -> Generator[str, None, None]:
    """Run the provider on 127.0.0.1:port until the generator closes; yields its issuer URL."""
    cmd = ["node", "server.js", str(port), CLIENT_ID, client_secret, redirect_uri]
    proc = subprocess.Popen(cmd, cwd=OIDC_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{issuer}/.well-known/openid-configuration", proc, "oidc provider", timeout=30, every=0.2)
        yield issuer
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def write_secrets(path: Path, issuer: str, client_secret: str, redirect_uri: str) -> Path:
    """secrets.toml with an [auth] section, as docs/signin.md describes (test values, temp dir)."""
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "{redirect_uri}"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{client_secret}"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
        # Streamlit asks for prompt=select_account by default; oidc-provider refuses it.
        'client_kwargs = { prompt = "login" }\n'
    )
    return path
