#!/usr/bin/env bash
# Load benchmark of `refract serve` on loopback with wrk: reads and assessments at hundreds of
# concurrent connections. A benchmark, not a test: it prints a table of throughput, p50 and p99
# latency and errors (non-2xx answers and socket errors) for bench/README.md.
#   bench/load/run.sh [REFRACT_BINARY] [--db sqlite|postgresql] [--duration SECONDS]
# Defaults: build/web-release/refract (or build/release/refract), SQLite, 15 s per run.
# PostgreSQL needs REFRACT_TEST_PG_URL (e.g. under tests/pg/with_postgres.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
refract=""
db=sqlite
duration=15
while [ $# -gt 0 ]; do
  case $1 in
    --db) db=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) refract=$1; shift ;;
  esac
done
if [ -z "$refract" ]; then
  for candidate in "$root/build/web-release/refract" "$root/build/release/refract"; do
    if [ -x "$candidate" ]; then refract=$candidate; break; fi
  done
fi
command -v wrk >/dev/null || { echo "load: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -x "$refract" ] || { echo "load: no refract binary; build Release first" >&2; exit 1; }

workdir=$(mktemp -d /tmp/refract-load.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
if [ "$db" = postgresql ]; then
  : "${REFRACT_TEST_PG_URL:?REFRACT_TEST_PG_URL is needed for --db postgresql}"
  schema="refract_load_$$"
  psql "$REFRACT_TEST_PG_URL" -qc "CREATE SCHEMA $schema"
  case $REFRACT_TEST_PG_URL in *\?*) sep='&' ;; *) sep='?' ;; esac
  db_url="${REFRACT_TEST_PG_URL}${sep}options=-csearch_path%3D${schema}"
else
  db_url="sqlite:$workdir/clinic.db"
fi
# One worker thread per connection (keep-alive holds one): more than the most connections used.
"$refract" serve --db "$db_url" --listen "127.0.0.1:$port" --demo --seed "$root/examples" --as-of 2026-11-22 \
  --threads 600 --quiet >"$workdir/server.out" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ -n "${schema:-}" ]; then psql "$REFRACT_TEST_PG_URL" -q -c "SET client_min_messages = warning" -c "DROP SCHEMA $schema CASCADE" || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  grep -q "Press Ctrl-C" "$workdir/server.out" 2>/dev/null && break
  sleep 0.1
done
password=$(awk '$1 == "clinician" && $2 == "password" {print $3}' "$workdir/server.out")
[ -n "$password" ] || { cat "$workdir/server.out" >&2; exit 1; }
base="http://127.0.0.1:$port"
cookie=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
  -d "{\"username\":\"clinician\",\"password\":\"$password\"}" "$base/api/v1/session" | awk -F': ' 'tolower($1)=="set-cookie" {split($2,a,";"); print a[1]}')
[ -n "$cookie" ] || { echo "load: sign-in failed" >&2; exit 1; }
patient=$(curl -s -H "Cookie: $cookie" "$base/api/v1/patients?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

cpus=$(nproc)
printf '\nrefract %s, %s, %s CPU(s), %s s per run, wrk -t%s\n\n' "$("$refract" --version)" "$db" "$cpus" "$duration" "$cpus"
printf '| Endpoint | Connections | Requests/s | p50 | p99 | Errors |\n| --- | ---: | ---: | ---: | ---: | ---: |\n'
run() {
  local name=$1 path=$2 connections=$3 random=${4:-0}
  local out
  out=$(WRK_PATH=$path WRK_COOKIE=$cookie WRK_RANDOM_AS_OF=$random \
    wrk -t"$cpus" -c"$connections" -d"${duration}s" --timeout 10s -s "$here/get.lua" "$base" 2>&1)
  local line
  line=$(echo "$out" | grep '^RESULT') || { echo "$out" >&2; return 1; }
  python3 - "$name" "$connections" "$line" <<'PY'
import sys
name, connections, line = sys.argv[1], sys.argv[2], sys.argv[3]
values = dict(part.split("=") for part in line.split()[1:])
seconds = int(values["duration_us"]) / 1e6
errors = sum(int(values[key]) for key in ("errors_status", "errors_connect", "errors_read", "errors_timeout"))
print(f"| {name} | {connections} | {int(values['requests']) / seconds:,.0f} | {int(values['p50_us']) / 1000:.1f} ms | {int(values['p99_us']) / 1000:.1f} ms | {errors} |")
PY
}
run "GET /api/v1/health (no database write)" /api/v1/health 200
run "GET patient record" "/api/v1/patients/$patient" 200
run "GET assessment (cached)" "/api/v1/patients/$patient/assessment" 200
run "GET assessment (cached)" "/api/v1/patients/$patient/assessment" 500
run "GET assessment (evaluated each time)" "/api/v1/patients/$patient/assessment" 200 1
run "GET patient list (6 patients)" /api/v1/patients 200
echo
if [ "$db" = sqlite ]; then
  records=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])' "$workdir/clinic.db")
else
  records=$(psql "$db_url" -Atc "SELECT COUNT(*) FROM audit_log")
fi
echo "Every read of patient data above wrote its audit record before answering (group commit): $records audit records."
