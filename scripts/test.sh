#!/usr/bin/env bash
# Sets up everything the tests need, then lints and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# One worker per core (at most 4), whole test files to a worker so each module's servers start once.
.venv/bin/python -m pytest -n auto --maxprocesses 4 --dist loadfile --durations=15 "$@"
bash scripts/wheel_check.sh  # the wheel installs into a fresh venv and runs the demo from there
