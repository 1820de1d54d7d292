#!/usr/bin/env bash
# Installs exactly what refract needs to build and test, from Debian 12 packages.
# Idempotent: packages already present are not touched and apt is not called at all.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev libexpected-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-jsonschema python3-yaml
  libhts-dev
  chromium fonts-dejavu-core
  libsqlite3-dev sqlite3 libpqxx-dev postgresql pybind11-dev python3-dev python3-dask python3-distributed python3-pandas python3-psycopg2 hyperfine
  libcpp-httplib-dev libsqlitecpp-dev libargon2-dev libssl-dev wrk curl openssl
  libgoogle-perftools-dev
)
# Node.js and npm build the web assets; a machine that already has them (any origin) keeps its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
