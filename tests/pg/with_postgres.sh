#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL 15 server on loopback and REFRACT_TEST_PG_URL set.
#   tests/pg/with_postgres.sh CMD [ARGS...]
# The server lives in a temporary directory (data and socket), listens on a free port on
# 127.0.0.1 only, and is stopped and removed when the command ends, whatever its exit status.
# As root the server runs as the postgres user (PostgreSQL refuses to run as root).
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

bindir=""
for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then bindir=$candidate; break; fi
done
if [ -z "$bindir" ]; then
  echo "with_postgres: PostgreSQL server binaries not found (apt-get install postgresql); running without REFRACT_TEST_PG_URL" >&2
  exec "$@"
fi

workdir=$(mktemp -d /tmp/refract-pg.XXXXXX)
run_as=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$workdir"
  run_as=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

cleanup() {
  "${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

"${run_as[@]}" "$bindir/initdb" -D "$workdir/data" -U refract --auth=trust --encoding=UTF8 --locale=C >"$workdir/initdb.log" 2>&1 || {
  cat "$workdir/initdb.log" >&2; exit 1; }
"${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $workdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null || {
  cat "$workdir/server.log" >&2; exit 1; }
"${run_as[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U refract refract_test

export REFRACT_TEST_PG_URL="postgresql://refract@127.0.0.1:$port/refract_test"
echo "with_postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
set +e
"$@"
status=$?
set -e
exit $status
