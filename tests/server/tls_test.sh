#!/usr/bin/env bash
# `refract serve --tls-cert/--tls-key` serves HTTPS: a self-signed certificate made here, the
# health endpoint over TLS, HSTS, and a session cookie that is Secure with the __Host- prefix.
#   tls_test.sh REFRACT_BINARY
set -euo pipefail
refract=$1
workdir=$(mktemp -d /tmp/refract-tls.XXXXXX)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT
fail() { echo "FAIL: $1"; [ -f "$workdir/out" ] && cat "$workdir/out"; exit 1; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$workdir/key.pem" -out "$workdir/cert.pem" >/dev/null 2>&1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$refract" serve --db "sqlite:$workdir/clinic.db" --listen "127.0.0.1:$port" --tls-cert "$workdir/cert.pem" \
  --tls-key "$workdir/key.pem" --quiet >"$workdir/out" 2>&1 &
server=$!
for _ in $(seq 1 200); do grep -q "Press Ctrl-C" "$workdir/out" 2>/dev/null && break; sleep 0.1; done
grep -q "https://127.0.0.1:$port" "$workdir/out" || fail "the server does not announce https"
token=$(awk '/set-up token/ {getline; print $1}' "$workdir/out")
[ -n "$token" ] || fail "no set-up token printed"

headers=$(curl -s --cacert "$workdir/cert.pem" -D - -o "$workdir/health" "https://127.0.0.1:$port/api/v1/health")
grep -q '"status":"ok"' "$workdir/health" || fail "health over TLS"
echo "$headers" | grep -qi '^strict-transport-security: max-age=' || fail "no HSTS header over TLS"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/health" || true)" != 200 ] || fail "plain HTTP answered on the TLS port"

curl -s --cacert "$workdir/cert.pem" -o /dev/null -H 'Content-Type: application/json' \
  -d "{\"token\":\"$token\",\"username\":\"admin\",\"password\":\"a long admin password\"}" "https://127.0.0.1:$port/api/v1/setup"
cookie=$(curl -s --cacert "$workdir/cert.pem" -D - -o /dev/null -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"a long admin password"}' "https://127.0.0.1:$port/api/v1/session" | grep -i '^set-cookie:')
echo "$cookie" | grep -q '__Host-refract_session=' || fail "the cookie lacks the __Host- prefix: $cookie"
echo "$cookie" | grep -q 'Secure' || fail "the cookie is not Secure: $cookie"
echo "$cookie" | grep -q 'HttpOnly' || fail "the cookie is not HttpOnly: $cookie"
echo "$cookie" | grep -q 'SameSite=Strict' || fail "the cookie is not SameSite=Strict: $cookie"
echo "tls: ok"
