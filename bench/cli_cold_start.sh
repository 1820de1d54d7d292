#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Whole-process timing of the refract CLI (cold start: exec, dynamic loading, built-in KB load,
# patient parse, assessment, JSON output), against baselines measured in the same run.
#
#   bench/cli_cold_start.sh BUILD_DIR
#
# Environment:
#   RUNS=200        timed runs per command (default 200)
#   WARMUP=10       untimed runs per command first (page cache, dynamic loader caches)
#   USE_HYPERFINE=0 force the plain bash loop even when hyperfine is installed
#
# Commands, all with output to /dev/null:
#   baseline  /bin/true                       (fork + exec of a trivial dynamically linked binary)
#   version   refract --version               (refract's own start-up: loader, static init, CLI11)
#   assess    refract assess examples/escitalopram-faded.json --as-of 2026-11-22 --format json
#
# Figures are medians in ms, and ratios against the baseline measured in the same go, so runs on
# different machines or under different load can be compared. The target (assess under 10 ms)
# is reported as met or missed; nothing here fails on time: the exit status is non-zero only
# when a command itself fails.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi

readonly build_dir=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly root
readonly runs=${RUNS:-200}
readonly warmup=${WARMUP:-10}
readonly target_ms=10

refract=$build_dir/refract
[[ -x $refract ]] || { echo "$0: $refract not found or not executable (build it first)" >&2; exit 2; }
refract=$(cd "$(dirname "$refract")" && pwd)/refract
readonly refract
readonly patient=$root/examples/escitalopram-faded.json
[[ -r $patient ]] || { echo "$0: $patient not readable" >&2; exit 2; }

readonly names=(baseline version assess)
readonly commands=(
  "/bin/true"
  "$refract --version"
  "$refract assess $patient --as-of 2026-11-22 --format json"
)

# Every command must succeed before anything is timed.
for i in "${!commands[@]}"; do
  if ! ${commands[$i]} >/dev/null; then
    echo "$0: '${commands[$i]}' failed" >&2
    exit 1
  fi
done

declare -A median_ms
declare -A min_ms

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

if [[ ${USE_HYPERFINE:-1} != 0 ]] && command -v hyperfine >/dev/null 2>&1; then
  method="hyperfine $(hyperfine --version | awk '{print $2}'), $runs runs, $warmup warm-up runs, no shell (-N)"
  hyperfine_args=(-N --style basic --runs "$runs" --warmup "$warmup" --export-csv "$workdir/results.csv")
  for i in "${!commands[@]}"; do hyperfine_args+=(-n "${names[$i]}" "${commands[$i]}"); done
  hyperfine "${hyperfine_args[@]}" >"$workdir/hyperfine.log" 2>&1 || { cat "$workdir/hyperfine.log" >&2; exit 1; }
  # CSV columns: command,mean,stddev,median,user,system,min,max (seconds).
  while IFS=, read -r name _mean _stddev median _user _system min _max; do
    [[ $name == command ]] && continue
    median_ms[$name]=$(awk -v s="$median" 'BEGIN { printf "%.3f", s * 1000 }')
    min_ms[$name]=$(awk -v s="$min" 'BEGIN { printf "%.3f", s * 1000 }')
  done <"$workdir/results.csv"
else
  # Plain loop. The commands are interleaved in every round so load changes hit all of them
  # alike. EPOCHREALTIME (bash 5) reads the clock without forking; `date +%s%N` is the fallback
  # (its fork then lands in every figure alike, baseline included).
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }
    clock="EPOCHREALTIME"
  else
    now_us() { echo $(( $(date +%s%N) / 1000 )); }
    clock="date +%s%N"
  fi
  method="bash loop ($clock), $runs interleaved rounds, $warmup warm-up rounds"
  for ((round = 0; round < warmup; ++round)); do
    for i in "${!commands[@]}"; do ${commands[$i]} >/dev/null; done
  done
  for ((round = 0; round < runs; ++round)); do
    for i in "${!commands[@]}"; do
      t0=$(now_us)
      ${commands[$i]} >/dev/null
      t1=$(now_us)
      echo $((t1 - t0)) >>"$workdir/${names[$i]}.us"
    done
  done
  for name in "${names[@]}"; do
    sort -n "$workdir/$name.us" >"$workdir/$name.sorted"
    median_ms[$name]=$(awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1000 }' "$workdir/$name.sorted")
    min_ms[$name]=$(awk 'NR == 1 { printf "%.3f", $1 / 1000 }' "$workdir/$name.sorted")
  done
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

echo "refract CLI cold start ($method)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binary:  $refract"
echo
printf '%-10s %12s %12s  %s\n' command "median ms" "min ms" "command line"
for i in "${!names[@]}"; do
  name=${names[$i]}
  printf '%-10s %12s %12s  %s\n' "$name" "${median_ms[$name]}" "${min_ms[$name]}" "${commands[$i]}"
done
echo
echo "ratio version/baseline: $(ratio "${median_ms[version]}" "${median_ms[baseline]}")"
echo "ratio assess/baseline:  $(ratio "${median_ms[assess]}" "${median_ms[baseline]}")"
echo "ratio assess/version:   $(ratio "${median_ms[assess]}" "${median_ms[version]}")"
echo "assess - version:       $(minus "${median_ms[assess]}" "${median_ms[version]}") ms (KB load, parse, assess, JSON output)"
echo "version - baseline:     $(minus "${median_ms[version]}" "${median_ms[baseline]}") ms (refract's own start-up beyond a trivial process)"
echo
if awk -v m="${median_ms[assess]}" -v t="$target_ms" 'BEGIN { exit !(m < t) }'; then
  echo "target: whole CLI process under ${target_ms} ms: met (median ${median_ms[assess]} ms)"
else
  echo "target: whole CLI process under ${target_ms} ms: missed (median ${median_ms[assess]} ms)"
fi
