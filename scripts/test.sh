#!/usr/bin/env bash
# Sets up everything the tests need, then lints and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
bash scripts/wheel_check.sh  # the wheel installs into a fresh venv and runs the demo from there
