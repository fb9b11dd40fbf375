#!/usr/bin/env bash
# Builds the wheel from the tree, installs it into a fresh venv in a temp dir and runs the demo's
# parts from there, in an empty working directory (nothing of the repository on the path): the
# simulator, one `mistral-monitor collector --once` into ./data, the gateway (health), the dashboard
# (health, front page, the Overview rendered from site-packages, the SQL box); then `mistral-monitor
# demo` in another empty directory (the three together, records polled, SIGTERM stops them all).
# Exits non-zero with one line `wheel_check: <reason>` on any failure. The dependencies come from
# the registry (PIP_CACHE_DIR keeps them between runs); PYTHON picks the interpreter (python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
BUILDER=.venv/bin/python  # has pip (setup.sh made it); a bare python3 may not
[ -x "$BUILDER" ] || BUILDER="$PYTHON"
START=$SECONDS
TMP="$(mktemp -d "${TMPDIR:-/tmp}/wheel-check.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
  [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 20 "$2" >&2
  echo "wheel_check: $1" >&2
  exit 1
}

# A copy of the tracked and new files, so the build leaves no build/ or egg-info in the tree
# (and no stale build/lib from an earlier build slips into the wheel).
mkdir -p "$TMP/src" "$TMP/dist" "$TMP/work"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$TMP/src" \
  || fail "could not copy the tree (needs git and tar)"
"$BUILDER" -m pip wheel -q --disable-pip-version-check --no-deps -w "$TMP/dist" "$TMP/src" >"$TMP/build.log" 2>&1 \
  || fail "building the wheel failed (pip wheel; log above)" "$TMP/build.log"
WHEEL="$(ls "$TMP"/dist/*.whl)"
"$PYTHON" -m venv "$TMP/venv" || fail "$PYTHON -m venv failed (Debian: apt-get install python3-venv)"
VPY="$TMP/venv/bin/python"
CLI="$TMP/venv/bin/mistral-monitor"
"$VPY" -m pip install -q --disable-pip-version-check --no-compile "$WHEEL" >"$TMP/install.log" 2>&1 \
  || fail "installing $(basename "$WHEEL") into a fresh venv failed (log above)" "$TMP/install.log"
[ -x "$CLI" ] || fail "the wheel installed no mistral-monitor command"
echo "wheel_check: built and installed $(basename "$WHEEL") in $((SECONDS - START)) s"

cd "$TMP/work"
unset PYTHONPATH MONITOR_CONFIG DATA_DIR MONITOR_ACCESS
free_port() { "$VPY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_for NAME URL BODY PID: until URL answers with BODY in it (60 s), while PID lives; NAME.log is its log.
wait_for() {
  for _ in $(seq 300); do
    kill -0 "$4" 2>/dev/null || fail "mistral-monitor $1 exited before $2 answered (log above)" "$1.log"
    "$VPY" -c 'import sys, httpx; sys.exit(sys.argv[2] not in httpx.get(sys.argv[1], timeout=2).text)' "$2" "$3" \
      2>/dev/null && return 0
    sleep 0.2
  done
  fail "mistral-monitor $1: $2 did not answer within 60 s (log above)" "$1.log"
}

SIMULATOR_PORT="$(free_port)"
export SIMULATOR_PORT
"$CLI" simulator --port "$SIMULATOR_PORT" --days 2 >simulator.log 2>&1 &
pids+=($!)
wait_for simulator "http://127.0.0.1:$SIMULATOR_PORT/healthz" "" "${pids[-1]}"

"$CLI" collector --once >collector.log 2>&1 || fail "mistral-monitor collector --once failed (log above)" collector.log
ROWS="$("$VPY" -c 'import pyarrow.dataset as ds; print(ds.dataset("data/requests", format="parquet").count_rows())' \
  2>/dev/null)" || fail "no parquet ledger in ./data/requests after collector --once (log above)" collector.log
[ "$ROWS" -gt 0 ] || fail "collector --once wrote 0 records into ./data/requests" collector.log
echo "wheel_check: collector --once wrote $ROWS records into ./data/requests"

GATEWAY_PORT="$(free_port)"
printf 'port = %s\ndb_path = "data/gateway/buffer.sqlite3"\nlimits_state_path = "data/gateway/limits.sqlite3"\n' \
  "$GATEWAY_PORT" >gateway.toml
GATEWAY_USAGE_TOKEN="$("$VPY" -c 'import secrets; print(secrets.token_hex(24))')" \
  GATEWAY_KEY_SALT="$("$VPY" -c 'import secrets; print(secrets.token_hex(16))')" \
  "$CLI" gateway --config gateway.toml >gateway.log 2>&1 &
pids+=($!)
wait_for gateway "http://127.0.0.1:$GATEWAY_PORT/healthz" "" "${pids[-1]}"
[ -f data/gateway/buffer.sqlite3 ] || fail "the gateway's buffer is not in ./data/gateway (log above)" gateway.log
echo "wheel_check: gateway healthy, buffering in ./data/gateway"

DASHBOARD_PORT="$(free_port)"
export MONITOR_SIGNIN=open  # the demo's sign-in mode, named (docs/signin.md): the dashboard and the AppTest below
"$CLI" dashboard --server.port "$DASHBOARD_PORT" >dashboard.log 2>&1 &
pids+=($!)
wait_for dashboard "http://127.0.0.1:$DASHBOARD_PORT/_stcore/health" ok "${pids[-1]}"
wait_for dashboard "http://127.0.0.1:$DASHBOARD_PORT/" "<title>Streamlit</title>" "${pids[-1]}"
"$VPY" - >apptest.log 2>&1 <<'PY' || fail "the installed app.py or SQL box failed (log above)" apptest.log
import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ledger.queries import Filters, run_sql

app = importlib.util.find_spec("app").origin
assert "site-packages" in app, f"app.py came from {app}, not the installed package"
at = AppTest.from_file(app, default_timeout=120).run()
assert not at.exception, at.exception
assert at.title and at.title[0].value == "Overview", [t.value for t in at.title]
today = datetime.now(UTC).date()
week = Filters.for_dates(today - timedelta(days=7), today)
assert run_sql(Path("data"), week, "SELECT count(*) AS n FROM ledger")["n"].iloc[0] > 0, "the SQL box saw no rows"
PY
echo "wheel_check: dashboard healthy, front page, Overview and SQL box work; all in $((SECONDS - START)) s"

mkdir "$TMP/demo" && cd "$TMP/demo"
DEMO_SIM="$(free_port)"
DEMO_DASH="$(free_port)"
"$CLI" demo --port "$DEMO_SIM" --dashboard-port "$DEMO_DASH" --days 1 >demo.log 2>&1 &
DEMO=$!
pids+=("$DEMO")
wait_for demo "http://127.0.0.1:$DEMO_DASH/_stcore/health" ok "$DEMO"
for _ in $(seq 300); do
  DEMO_ROWS="$("$VPY" -c 'import pyarrow.dataset as ds; print(ds.dataset("data/requests", format="parquet").count_rows())' \
    2>/dev/null)" && [ "$DEMO_ROWS" -gt 0 ] && break
  sleep 0.2
done
[ "${DEMO_ROWS:-0}" -gt 0 ] || fail "mistral-monitor demo: no records in ./data/requests within 60 s (log above)" demo.log
kill -TERM "$DEMO"
for _ in $(seq 100); do kill -0 "$DEMO" 2>/dev/null || break; sleep 0.2; done
kill -0 "$DEMO" 2>/dev/null && fail "mistral-monitor demo did not stop on SIGTERM within 20 s" demo.log
"$VPY" -c 'import sys, httpx; httpx.get(sys.argv[1], timeout=2)' "http://127.0.0.1:$DEMO_SIM/healthz" 2>/dev/null \
  && fail "mistral-monitor demo left its simulator running after SIGTERM" demo.log
echo "wheel_check: mistral-monitor demo polled $DEMO_ROWS records and stopped on SIGTERM; all in $((SECONDS - START)) s"
