#!/usr/bin/env bash
# Runs a command with REFRACT_TEST_PG_URL pointing at a real PostgreSQL: the one already named by
# REFRACT_TEST_PG_URL, or one started on loopback for the run by tests/pg/with_postgres.sh.
# Without either, says so and exits 77 (ctest reports the test as skipped, not passed).
#   run_with_postgres.sh SOURCE_DIR COMMAND [ARGS...]
set -euo pipefail
source_dir=$1
shift
if [ -n "${REFRACT_TEST_PG_URL:-}" ]; then
  exec "$@"
fi
if [ -x "$source_dir/tests/pg/with_postgres.sh" ] || [ -f "$source_dir/tests/pg/with_postgres.sh" ]; then
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exec bash "$source_dir/tests/pg/with_postgres.sh" "$@"
  fi
fi
echo "SKIPPED: no PostgreSQL for the clinic store and server tests (set REFRACT_TEST_PG_URL, or install postgresql for tests/pg/with_postgres.sh)"
exit 77
