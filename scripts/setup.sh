#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements; `setup.sh dev` adds the test tools, Chromium and
# tests/oidc's node packages (a real OpenID Connect provider for the sign-in tests, pinned by its lock file).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
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
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ]; then
      echo "setup: installing Debian's chromium for the browser tests"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "setup: /usr/bin/chromium is missing; run 'sudo apt-get install chromium' for the browser tests" >&2
    fi
  fi
  if [ ! -x /usr/bin/redis-server ]; then
    if [ "$(id -u)" = "0" ]; then
      echo "setup: installing Debian's redis-server for the shared-limits tests"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    else
      echo "setup: /usr/bin/redis-server is missing; run 'sudo apt-get install redis-server' for the shared-limits tests" >&2
    fi
  fi
  if [ ! -x /usr/bin/strace ]; then
    if [ "$(id -u)" = "0" ]; then
      echo "setup: installing strace for the kill-at-a-system-call tests"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null
    else
      echo "setup: /usr/bin/strace is missing; run 'sudo apt-get install strace' for the kill-at-a-system-call tests" >&2
    fi
  fi
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
fi
