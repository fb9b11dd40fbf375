#!/usr/bin/env bash
# Sets up and runs the whole product on its embedded default:
# the simulated usage endpoint, the collector polling it into data/, and the dashboard.
# The one implementation is monitor_cli/_demo.py (`mistral-monitor demo` from an installed package);
# SIMULATOR_PORT, DASHBOARD_PORT and SIMULATOR_DAYS still choose the ports and the history.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m monitor_cli demo "$@"
