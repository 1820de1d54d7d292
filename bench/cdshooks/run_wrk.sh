#!/usr/bin/env bash
# CDS Hooks order-select under wrk against `refract serve` on loopback (issue 8's target: at least
# 5,000 requests/s with p99 under 20 ms on 2 cores). A benchmark, not a test: it prints one line per
# run with throughput, p50/p99 latency, errors, and the CPU time per request of the server and of wrk
# (both share the 2 cores). Runs: the same patient again and again (the EHR firing order-select at
# every change to a draft order: answered from the assessment memo) and 1,000 patients in turn (every
# call imports and assesses the prefetch), at several connection counts.
#   bench/cdshooks/run_wrk.sh [BUILD_DIR] [SECONDS]      (default build/ci, 10 s per run)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build/ci}
seconds=${2:-10}
refract=$build/refract
loopback=$build/bench/cdshooks/refract_cdshooks_loopback
command -v wrk >/dev/null || { echo "run_wrk: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -x "$refract" ] && [ -x "$loopback" ] || { echo "run_wrk: build $build first (refract and refract_cdshooks_loopback)" >&2; exit 1; }

workdir=$(mktemp -d /tmp/refract-cds-wrk.XXXXXX)
"$loopback" --write-request "$workdir/body.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$refract" serve --db "sqlite:$workdir/clinic.db" --listen "127.0.0.1:$port" --as-of 2026-11-22 --quiet >"$workdir/server.out" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$workdir"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  grep -q "Press Ctrl-C" "$workdir/server.out" 2>/dev/null && break
  sleep 0.1
done
url="http://127.0.0.1:$port/cds-services/refract-medication-order-select"
ticks=$(getconf CLK_TCK)
server_cpu() { awk -v t="$ticks" '{printf "%.3f", ($14 + $15) / t}' "/proc/$server/stat"; }
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(head -1 "$workdir/server.out")"
printf "%-28s %6s %10s %9s %9s %7s %14s %12s\n" patients connections requests/s p50_ms p99_ms errors server_us/req wrk_us/req
for patients in 1 1000; do
  for connections in 2 8 32; do
    threads=$(( connections >= 8 ? 2 : 1 ))
    before=$(server_cpu)
    out=$(WRK_BODY_FILE="$workdir/body.json" WRK_PATIENTS=$patients /usr/bin/time -f "WRKCPU %U %S" \
      wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s "$here/post.lua" "$url" 2>&1)
    after=$(server_cpu)
    python3 - "$patients" "$connections" "$before" "$after" <<PY
import re, sys
out = """$out"""
patients, connections, before, after = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
r = dict(kv.split("=") for kv in re.search(r"RESULT (.*)", out).group(1).split())
user, system = map(float, re.search(r"WRKCPU ([\d.]+) ([\d.]+)", out).groups())
n = int(r["requests"]); seconds = int(r["duration_us"]) / 1e6
errors = sum(int(r[k]) for k in r if k.startswith("errors_"))
label = "1 (repeated: memo)" if patients == "1" else patients + " (each call new)"
print(f"{label:<28} {connections:>6} {n / seconds:>10.0f} {int(r['p50_us']) / 1000:>9.2f} {int(r['p99_us']) / 1000:>9.2f} {errors:>7} "
      f"{(after - before) * 1e6 / n:>14.0f} {(user + system) * 1e6 / n:>12.0f}")
PY
  done
done
