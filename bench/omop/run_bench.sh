#!/usr/bin/env bash
# OMOP screening benchmark: refract against the same phenotype as SQL, on the same data, in one run.
#   bench/omop/run_bench.sh BUILD_DIR [PERSONS] [THREADS]
# Generates a synthetic CDM (refract synth-omop, SQLite and CSV), loads it into a throw-away
# PostgreSQL 15 (tests/pg/with_postgres.sh, unless REFRACT_TEST_PG_URL is set), then times:
#   refract screen on SQLite and on PostgreSQL (THREADS threads, default 2),
#   bench/omop/phenotype.sql on PostgreSQL and on SQLite,
# checks that all four give the same per-person TRD status and failed-trial count, and prints
# times, drug_exposure rows per second and the ratios. Use a Release build.
set -euo pipefail
build=$(cd "$1" && pwd)
persons=${2:-200000}
threads=${3:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${REFRACT_TEST_PG_URL:-}" ]; then
  exec "$root/tests/pg/with_postgres.sh" "$0" "$@"
fi
refract=$build/refract
python=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d /tmp/refract-omop-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
seconds() { python3 -c "print(f'{$2 - $1:.2f}')"; }

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); refract $("$refract" --version); persons $persons, threads $threads"
t0=$(now); "$refract" synth-omop --persons "$persons" --seed 2026 --out "$work/cdm.sqlite" >"$work/synth.txt"; t1=$(now)
"$refract" synth-omop --persons "$persons" --seed 2026 --out "$work/csv" >/dev/null
cat "$work/synth.txt"; echo "synth-omop (SQLite): $(seconds "$t0" "$t1") s"
rows=$(sqlite3 "$work/cdm.sqlite" "select count(*) from drug_exposure")
t0=$(now); bash "$root/bench/omop/load_postgres.sh" "$work/csv" "$REFRACT_TEST_PG_URL" >/dev/null; t1=$(now)
echo "PostgreSQL load (COPY + indexes + ANALYZE): $(seconds "$t0" "$t1") s"

run_refract() {  # label source out
  local start end
  start=$(now)
  "$refract" screen --omop "$2" --out "$3" --threads "$threads" --no-progress >"$work/$1.summary.txt" 2>/dev/null
  end=$(now)
  seconds "$start" "$end"
}
run_sql() {  # dialect db out
  "$python" "$root/bench/omop/run_sql_phenotype.py" --dialect "$1" --db "$2" --kb "$root/kb" --out "$3"
}
refract_sqlite=$(run_refract sqlite "sqlite:$work/cdm.sqlite" "$work/refract_sqlite.csv")
refract_pg=$(run_refract postgresql "$REFRACT_TEST_PG_URL" "$work/refract_pg.csv")
sql_pg=$(run_sql postgresql "$REFRACT_TEST_PG_URL" "$work/sql_pg.csv")
sql_sqlite=$(run_sql sqlite "$work/cdm.sqlite" "$work/sql_sqlite.csv")

agreement=$(python3 - "$work" <<'PY'
import csv, sys
work = sys.argv[1]
def load(name):
    with open(f"{work}/{name}.csv", newline="") as handle:
        return {row["person_id"]: (row["trd_status"], row["failed_adequate_trials"]) for row in csv.DictReader(handle)}
reference = load("refract_sqlite")
parts = []
for name in ("refract_pg", "sql_pg", "sql_sqlite"):
    other = load(name)
    differ = sum(1 for key in set(reference) | set(other) if reference.get(key) != other.get(key))
    parts.append(f"{name} {len(other) - differ}/{len(reference)} identical")
print("; ".join(parts))
PY
)
python3 - "$rows" "$refract_sqlite" "$refract_pg" "$sql_pg" "$sql_sqlite" <<'PY'
import sys
rows = int(sys.argv[1]); rs, rp, sp, ss = map(float, sys.argv[2:6])
print(f"{'run':<34}{'seconds':>10}{'drug_exposure rows/s':>24}")
for label, value in (("refract screen, SQLite", rs), ("refract screen, PostgreSQL", rp), ("SQL phenotype, PostgreSQL 15", sp), ("SQL phenotype, SQLite", ss)):
    print(f"{label:<34}{value:>10.2f}{rows / value:>24,.0f}")
print(f"refract (SQLite) vs SQL on PostgreSQL: {sp / rs:.1f}x faster (target >= 20x)")
print(f"refract (PostgreSQL) vs SQL on PostgreSQL: {sp / rp:.1f}x faster")
print(f"refract (SQLite) vs SQL on SQLite: {ss / rs:.1f}x faster")
print(f"refract end to end: {rows / rs / 1e6:.2f} M drug_exposure rows/s on SQLite (target >= 5 M/s on 2 cores)")
PY
echo "per-person agreement with refract on SQLite: $agreement"
