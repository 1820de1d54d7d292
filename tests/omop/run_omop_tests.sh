#!/usr/bin/env bash
# End-to-end OMOP screening tests with the real binary:
#  - ground-truth agreement on a synthetic CDM (SQLite and CSV),
#  - identical results whatever the source, the thread count, the chunk size and drifted concept ids,
#  - PostgreSQL too when REFRACT_TEST_PG_URL is set (tests/pg/with_postgres.sh sets it),
#  - error messages and exit codes.
#   tests/omop/run_omop_tests.sh REFRACT_BINARY SOURCE_DIR [PERSONS]
set -uo pipefail
refract=$1
source_dir=$2
persons=${3:-3000}
work=$(mktemp -d /tmp/refract-omop-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { echo "ok: $1"; passed=$((passed + 1)); }
bad() { echo "FAILED: $1"; failed=$((failed + 1)); }
same() { if cmp -s "$2" "$3"; then ok "$1"; else bad "$1 ($2 and $3 differ)"; diff "$2" "$3" | head -5; fi; }

"$refract" synth-omop --persons "$persons" --seed 11 --out "$work/cdm.sqlite" >/dev/null || bad "synth-omop sqlite"
"$refract" synth-omop --persons "$persons" --seed 11 --out "$work/csv" >/dev/null || bad "synth-omop csv"
"$refract" synth-omop --persons "$persons" --seed 11 --out "$work/drift.sqlite" --drift-concept-ids >/dev/null || bad "synth-omop drift"
"$refract" synth-omop --persons "$persons" --seed 11 --out "$work/again.sqlite" >/dev/null
if [ "$(sqlite3 "$work/cdm.sqlite" 'select count(*), sum(drug_concept_id), sum(quantity) from drug_exposure')" = \
     "$(sqlite3 "$work/again.sqlite" 'select count(*), sum(drug_concept_id), sum(quantity) from drug_exposure')" ]; then
  ok "synth-omop is deterministic by seed"
else
  bad "synth-omop is deterministic by seed"
fi

"$refract" screen --omop "sqlite:$work/cdm.sqlite" --out "$work/sqlite.csv" --threads 2 >"$work/summary.txt" 2>"$work/stderr.txt" || bad "screen sqlite"
if python3 "$source_dir/tests/omop/check_truth.py" "$work/sqlite.csv" "$work/cdm.sqlite" >"$work/truth.txt"; then
  ok "ground truth agreement (SQLite): $(tail -1 "$work/truth.txt")"
else
  bad "ground truth agreement (SQLite)"; cat "$work/truth.txt"
fi
[ -s "$work/sqlite.summary.html" ] && grep -q "<svg" "$work/sqlite.summary.html" && grep -q "Data quality" "$work/sqlite.summary.html" \
  && ok "HTML summary with chart and data-quality report" || bad "HTML summary"
grep -q "^data quality" "$work/summary.txt" && ok "text summary has the data-quality report" || bad "text summary"
ls "$work" | grep -q "tmp-" && bad "temporary results file left behind" || ok "results written atomically (no temporary left)"

"$refract" screen --omop "sqlite:$work/cdm.sqlite" --threads 1 --chunk 97 >"$work/sqlite_1.csv" 2>/dev/null || bad "screen 1 thread"
same "1 thread, chunks of 97 = 2 threads" "$work/sqlite.csv" "$work/sqlite_1.csv"
# The SQLite reader scans drug_exposure in rowid order where that order follows person_id (from the
# file's pages, or through SQLite when the file is in WAL mode or a row is stored in a way the page
# reader leaves to SQLite), and must give the same results through its fallbacks: rows shuffled, the
# first person's rows moved to the end, the last person's to the front, no person_id index at all.
variant() {  # name sql [reference csv, or - for none]
  cp "$work/cdm.sqlite" "$work/$1.sqlite"
  sqlite3 "$work/$1.sqlite" "$2" >/dev/null || bad "prepare $1"
  "$refract" screen --omop "sqlite:$work/$1.sqlite" --out "$work/$1.csv" --threads 2 --chunk 500 >/dev/null 2>&1 || bad "screen $1"
  local reference=${3:-$work/sqlite.csv}
  [ "$reference" = - ] || same "drug_exposure $1 = $(basename "$reference" .csv)" "$reference" "$work/$1.csv"
}
unordered() { variant "$@"; }
columns="person_id, drug_exposure_id, drug_concept_id, drug_exposure_start_date, drug_exposure_end_date, drug_type_concept_id, quantity, days_supply"
shuffled="CREATE TABLE scratch AS SELECT * FROM drug_exposure ORDER BY random(); DELETE FROM drug_exposure;
  INSERT INTO drug_exposure SELECT * FROM scratch; DROP TABLE scratch;"
unordered shuffled "$shuffled"
unordered shuffled_wal "$shuffled PRAGMA journal_mode = WAL;"  # the scan through SQLite
unordered last_person_at_front "CREATE TABLE scratch AS SELECT rowid AS moved FROM drug_exposure WHERE person_id = (SELECT max(person_id) FROM drug_exposure);
  INSERT INTO drug_exposure (rowid, $columns) SELECT rowid - (SELECT max(rowid) + 1 FROM drug_exposure), $columns FROM drug_exposure WHERE rowid IN scratch;
  DELETE FROM drug_exposure WHERE rowid IN scratch AND rowid > 0; DROP TABLE scratch;"
unordered no_person_index "DROP INDEX idx_drug_exposure_person_id;"
first_person_at_end="CREATE TABLE scratch AS SELECT rowid AS moved FROM drug_exposure WHERE person_id = (SELECT min(person_id) FROM drug_exposure);
  INSERT INTO drug_exposure ($columns) SELECT $columns FROM drug_exposure WHERE rowid IN scratch ORDER BY rowid;
  DELETE FROM drug_exposure WHERE rowid IN scratch; DROP TABLE scratch;"
unordered first_person_at_end "$first_person_at_end"
unordered first_person_at_end_wal "$first_person_at_end PRAGMA journal_mode = WAL;"  # the checks through SQLite
# The page reader reads leaf pages in runs of consecutive page numbers: the same results with small
# pages (deeper trees, runs cut by the window) and with the table's pages interleaved with another's.
variant small_pages "PRAGMA page_size = 1024; VACUUM;"
variant interleaved_pages "CREATE TABLE moved AS SELECT * FROM drug_exposure WHERE 0; CREATE TABLE filler (x);
  CREATE TRIGGER interleave AFTER INSERT ON moved BEGIN INSERT INTO filler VALUES (randomblob(300)); END;
  INSERT INTO moved SELECT * FROM drug_exposure ORDER BY rowid; DROP TRIGGER interleave; DROP TABLE drug_exposure;
  ALTER TABLE moved RENAME TO drug_exposure; CREATE INDEX idx_drug_exposure_person_id ON drug_exposure (person_id);"
# The other tables (person, observation_period, conditions, procedures, PHQ-9 scores) are read from
# their pages too, each checked against its person_id index chunk by chunk, else through SQL.
shuffle() { echo "CREATE TABLE scratch AS SELECT * FROM $1 ORDER BY random(); DELETE FROM $1; INSERT INTO $1 SELECT * FROM scratch; DROP TABLE scratch;"; }
unordered other_tables_shuffled "$(shuffle person) $(shuffle observation_period) $(shuffle condition_occurrence) $(shuffle procedure_occurrence) $(shuffle measurement) $(shuffle observation)"
unordered other_tables_without_index "DROP INDEX idx_observation_period_person_id; DROP INDEX idx_condition_occurrence_person_id;
  DROP INDEX idx_procedure_occurrence_person_id; DROP INDEX idx_measurement_person_id; DROP INDEX idx_observation_person_id;"
unordered condition_of_first_person_at_end "CREATE TABLE scratch AS SELECT rowid AS moved FROM condition_occurrence WHERE person_id = (SELECT min(person_id) FROM condition_occurrence);
  INSERT INTO condition_occurrence SELECT * FROM condition_occurrence WHERE rowid IN scratch ORDER BY rowid;
  DELETE FROM condition_occurrence WHERE rowid IN scratch; DROP TABLE scratch;"
unordered other_tables_small_pages_wal "$(shuffle condition_occurrence) PRAGMA page_size = 1024; VACUUM; PRAGMA journal_mode = WAL;"
text_scores="UPDATE measurement SET value_as_number = 'about ' || value_as_number WHERE rowid % 3 = 0;
  UPDATE observation SET value_as_number = 'about ' || value_as_number WHERE rowid % 3 = 0;"
variant text_scores_wal "$text_scores PRAGMA journal_mode = WAL;" -
variant text_scores "$text_scores" "$work/text_scores_wal.csv"
# Storage the page reader handles itself (dates as day numbers, as seconds in REAL) or leaves to SQLite
# (WAL mode, rows on overflow pages, text where a number is expected) gives the same results.
variant day_number_dates "UPDATE drug_exposure SET drug_exposure_start_date = CAST(julianday(drug_exposure_start_date) - 2440587.5 AS INTEGER),
  drug_exposure_end_date = CAST(julianday(drug_exposure_end_date) - 2440587.5 AS INTEGER);"
variant real_second_dates "UPDATE drug_exposure SET drug_exposure_start_date = (julianday(drug_exposure_start_date) - 2440587.5) * 86400.0 + 0.5;"
variant wal_mode "PRAGMA journal_mode = WAL;"
variant overflow_rows "UPDATE drug_exposure SET drug_type_concept_id = printf('%.9000c', 'x') WHERE rowid % 101 = 0;"
text_quantity="UPDATE drug_exposure SET quantity = 'about ' || quantity WHERE rowid % 7 = 0;"
variant text_quantity_wal "$text_quantity PRAGMA journal_mode = WAL;" -
variant text_quantity "$text_quantity" "$work/text_quantity_wal.csv"

# The summary says how each table was read, and a note says when a table was read chunk by chunk
# through range queries (slow) rather than in one pass. Chunks are of 500 persons by default.
chunks=$(( (persons + 499) / 500 ))
grep -Eq "^reading \(chunks of each table\): .*drug_exposure $chunks from pages; .*person $chunks from pages" "$work/summary.txt" && ! grep -q "note:" "$work/stderr.txt" \
  && ok "summary: every table read from its pages, no note" || bad "summary reading line: $(grep '^reading' "$work/summary.txt")"
"$refract" screen --omop "sqlite:$work/shuffled.sqlite" --out "$work/shuffled_again.csv" >"$work/shuffled_summary.txt" 2>"$work/shuffled_stderr.txt"
grep -q "^refract: note: $chunks of $chunks chunks of drug_exposure were read by person_id range queries" "$work/shuffled_stderr.txt" \
  && grep -q "drug_exposure $chunks by query" "$work/shuffled_summary.txt" && grep -q "<h2>Reading</h2>" "$work/shuffled_again.summary.html" \
  && ok "shuffled drug_exposure: a note on standard error, the summary and the HTML say so" || bad "shuffled drug_exposure note: $(cat "$work/shuffled_stderr.txt")"
"$refract" screen --omop "sqlite:$work/wal_mode.sqlite" --out "$work/wal_again.csv" 2>/dev/null | grep -q "drug_exposure $chunks by rowid cursor" \
  && ok "WAL mode: drug_exposure read by SQLite's cursor in rowid order" || bad "WAL mode reading line"

"$refract" screen --omop "$work/csv" --out "$work/csv.csv" --threads 2 >/dev/null 2>&1 || bad "screen csv"
same "CSV export = SQLite" "$work/sqlite.csv" "$work/csv.csv"
"$refract" screen --omop "sqlite:$work/drift.sqlite" --out "$work/drift.csv" >/dev/null 2>"$work/drift_err.txt" || bad "screen drift"
same "drifted concept ids resolved by code = SQLite" "$work/sqlite.csv" "$work/drift.csv"
grep -q "has concept_id 100440383 in this database, not the expected 440383: using 100440383" "$work/drift_err.txt" \
  && ok "concept drift is logged" || bad "concept drift is logged"

if [ -n "${REFRACT_TEST_PG_URL:-}" ]; then
  if bash "$source_dir/bench/omop/load_postgres.sh" "$work/csv" "$REFRACT_TEST_PG_URL" >"$work/pg_load.txt" 2>&1; then
    "$refract" screen --omop "$REFRACT_TEST_PG_URL" --out "$work/pg.csv" --threads 2 >/dev/null 2>&1 || bad "screen postgresql"
    same "PostgreSQL = SQLite" "$work/sqlite.csv" "$work/pg.csv"
    "$refract" screen --omop "$REFRACT_TEST_PG_URL" --threads 1 --chunk 250 >"$work/pg_1.csv" 2>/dev/null
    same "PostgreSQL, 1 thread = SQLite" "$work/sqlite.csv" "$work/pg_1.csv"
  else
    bad "load PostgreSQL"; cat "$work/pg_load.txt"
  fi
else
  echo "SKIPPED: PostgreSQL OMOP tests: REFRACT_TEST_PG_URL is not set (run through tests/pg/with_postgres.sh)"
fi

# Errors: message and exit code.
out=$("$refract" screen --omop "$work/nothing.txt" 2>&1); code=$?
expected="refract: error: --omop: cannot tell what kind of OMOP source \"$work/nothing.txt\" is (expected sqlite:PATH, postgresql://..., csv:DIR or a directory)"
[ "$code" -eq 65 ] && [ "$out" = "$expected" ] && ok "unknown source kind: exit 65 and message" || bad "unknown source kind: got $code: $out"
out=$("$refract" screen --omop "sqlite:$work/missing.sqlite" 2>&1); code=$?
expected="refract: error: $work/missing.sqlite: cannot open the OMOP database: unable to open database file"
[ "$code" -eq 74 ] && [ "$out" = "$expected" ] && ok "missing SQLite file: exit 74 and message" || bad "missing SQLite file: got $code: $out"
sqlite3 "$work/empty.sqlite" "create table person(person_id integer)"
out=$("$refract" screen --omop "sqlite:$work/empty.sqlite" 2>&1); code=$?
expected="refract: error: $work/empty.sqlite: not an OMOP CDM database: table drug_exposure is missing"
[ "$code" -eq 74 ] && [ "$out" = "$expected" ] && ok "not a CDM: exit 74 and message" || bad "not a CDM: got $code: $out"

echo "omop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
