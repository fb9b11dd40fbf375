#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements; `setup.sh dev` adds the test tools, Chromium and
# tests/oidc's node packages (a real OpenID Connect provider for the sign-in tests, pinned by its lock file).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# debian PACKAGE NAME PURPOSE: /usr/bin/PACKAGE from Debian's packages (as root), or say how to get it.
debian() {
  [ -x "/usr/bin/$1" ] && return 0
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing $2 for $3"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    echo "setup: /usr/bin/$1 is missing; run 'sudo apt-get install $1' for $3" >&2
  fi
}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
if [ "${1:-}" = "dev" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  if command -v npm >/dev/null; then
    (cd tests/oidc && npm ci --no-audit --no-fund --silent)
  elif [ "$(id -u)" = "0" ]; then
    echo "setup: installing node and npm for the OpenID Connect provider of the sign-in tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    (cd tests/oidc && npm ci --no-audit --no-fund --silent)
  else
    echo "setup: node/npm missing; run 'sudo apt-get install nodejs npm' for the sign-in tests" >&2
  fi
  debian chromium "Debian's chromium" "the browser tests"
  debian redis-server "Debian's redis-server" "the shared-limits tests"
  debian strace strace "the kill-at-a-system-call tests"
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
fi
