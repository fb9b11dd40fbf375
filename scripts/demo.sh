#!/usr/bin/env bash
# Sets up and runs the whole product on its embedded default:
# the simulated usage endpoint, the collector polling it into data/, and the dashboard.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SIMULATOR_PORT="${SIMULATOR_PORT:-8765}"  # the collector's embedded default polls it there
PORT="$SIMULATOR_PORT"
DASHBOARD_PORT="${DASHBOARD_PORT:-8501}"
mkdir -p data/logs
[ -f data/budgets.toml ] || cat > data/budgets.toml <<'TOML'
# A sample budget for the demo; edit it on the Budgets page.
[[budgets]]
name = "organisation monthly"
period = "month"
amount = 600
thresholds = [50, 80, 100]
forecast = true
recipients = ["finance@example.com"]
TOML
pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
.venv/bin/python -m simulator --port "$PORT" --days "${SIMULATOR_DAYS:-30}" >data/logs/simulator.log 2>&1 &
pids+=($!)
.venv/bin/python -m collector >data/logs/collector.log 2>&1 &
pids+=($!)
echo "simulator on http://127.0.0.1:$PORT, collector logging to data/logs/collector.log"
echo "dashboard on http://localhost:$DASHBOARD_PORT (Ctrl-C stops everything)"
.venv/bin/python -m streamlit run app.py --server.port "$DASHBOARD_PORT" --server.headless true
