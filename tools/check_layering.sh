#!/usr/bin/env bash
# Enforces the layering of ARCHITECTURE.md: the core includes only std, nlohmann_json, fmt,
# tl::expected and its own headers, and does no I/O, clock or environment access.
set -u
cd "$(dirname "$0")/.."
status=0
fail() { echo "layering: $1"; status=1; }

core_files=$(ls src/core/*.cc include/refract/core/*.h)
allowed='^#include (<(nlohmann/json\.hpp|fmt/[a-z]+\.h|tl/expected\.hpp|[a-z_]+)>|"refract/core/[a-z0-9_]+\.h"|"[a-z0-9_]+\.h")$'
while IFS= read -r line; do
  file=${line%%:*}
  include=${line#*:}
  echo "$include" | grep -Eq "$allowed" || fail "$file includes $include (core may include only std, nlohmann_json, fmt, tl::expected and refract/core)"
done < <(grep -H '^#include' $core_files)

forbidden='<(fstream|iostream|filesystem|thread|ctime|cstdlib|random|unistd\.h|sqlite3\.h)>'
grep -HnE "^#include $forbidden" $core_files | grep -v 'basics.cc:.*<cstdlib>' && fail "core includes an I/O, clock or environment header"
grep -HnE '\b(getenv|system_clock|steady_clock|std::cout|std::cerr|fopen|std::rand|time\()' $core_files && fail "core reads the clock or the environment, or does I/O"

for file in src/app/*.cc include/refract/app/*.h; do
  grep -HE '^#include "refract/(cli|server)/' "$file" && fail "$file (app) includes an outer adapter"
done

for file in src/store/*.cc src/store/*.h include/refract/store/*.h; do
  grep -HE '^#include "refract/(app|cli|server)/' "$file" && fail "$file (store) includes app or an outer adapter"
done
for file in src/server/*.cc src/server/*.h include/refract/server/*.h; do
  grep -HE '^#include "refract/cli/' "$file" && fail "$file (server) includes the command line"
done

[ $status -eq 0 ] && echo "layering: ok"
exit $status
