#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests of `refract score`: exit codes, exact error messages, text and JSON output.
#
# Usage: tests/cli/score_tests.sh REFRACT_BINARY SOURCE_DIR
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, M failed".
# Expected totals, bands and cut-offs are read from the KB files under SOURCE_DIR/kb/scales, never
# written here, except where a check is about the exact wording of a message.
set -u
export LC_ALL=C
if [ "$#" -ne 2 ]; then
  echo "usage: $0 REFRACT_BINARY SOURCE_DIR" >&2
  exit 2
fi
BIN=$(realpath "$1")
SRC=$(realpath "$2")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/refract-score.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 2
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
fail() {
  FAILED=$((FAILED + 1)); echo "not ok - $1"; shift
  local detail
  for detail in "$@"; do printf '%s\n' "$detail" | sed 's/^/    # /'; done
}
run() { timeout 60 "$BIN" "$@" </dev/null >"$WORK/out" 2>"$WORK/err"; RC=$?; }
check_error() {
  local name=$1 want_rc=$2 want_err=$3 problems=()
  [ "$RC" -eq "$want_rc" ] || problems+=("exit code $RC, expected $want_rc")
  [ "$(cat "$WORK/err")" == "$want_err" ] || problems+=("stderr:   $(cat "$WORK/err")" "expected: $want_err")
  [ ! -s "$WORK/out" ] || problems+=("stdout is not empty")
  if [ "${#problems[@]}" -eq 0 ]; then pass "$name"; else fail "$name" "${problems[@]}"; fi
}
# json_is NAME PYTHON_EXPRESSION: evaluates the expression with `out` (parsed stdout) and `kb(name)` (a KB scale file).
json_is() {
  local name=$1 expression=$2 result
  result=$(python3 - "$WORK/out" "$SRC/kb/scales" "$expression" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
kb = lambda name: json.load(open(f"{sys.argv[2]}/{name}.json"))
band = lambda name, total: next(b["label"] for b in kb(name)["bands"] if b["min"] <= total <= b["max"])
print("yes" if eval(sys.argv[3]) else "no: " + json.dumps(out)[:600])
PY
)
  if [ "$RC" -eq 0 ] && [ "$result" == "yes" ]; then pass "$name"; else fail "$name" "exit $RC" "$result" "stderr: $(head -c 300 "$WORK/err")"; fi
}

# Valid administrations: totals, bands, screens.
run score phq9 2 2 1 2 1 1 1 1 0 --format json
json_is "phq9 JSON: total, band from the KB, LOINC codes" 'out["scale"] == "scale.phq9" and out["total"] == 11 and out["band"] == band("phq9", 11) and out["loinc"]["total"] == kb("phq9")["loinc"]["total"] and out["alerts"] == []'
run score PHQ-9 3 3 3 3 3 3 3 3 3 --format json
json_is "phq9 maximum 27 is the top band" 'out["total"] == kb("phq9")["total_range"][1] and out["band"] == kb("phq9")["bands"][-1]["label"]'
run score qids_sr16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 --format json
json_is "qids takes domain maxima: 16 items at 1 give one point per domain" 'out["total"] == len(kb("qids_sr16")["scoring"]["domains"]) and len(out["domains"]) == 9'
run score audit_c 2 1 0 --sex female --format json
json_is "audit-c women: 3 is positive" 'out["screen"]["result"] == "positive" and out["screen"]["rule"] == "women'"'"'s cut-off" and out["alerts"][0]["severity"] == "warning"'
run score audit_c 2 1 0 --sex male --format json
json_is "audit-c men: 3 is negative" 'out["screen"]["result"] == "negative" and out["alerts"] == []'
run score audit_c 2 1 0 --format json
json_is "audit-c sex not given: the women's cut-off, said so" 'out["screen"]["result"] == "positive" and out["notes"][0]["code"] == "sex_unknown_cutoff"'
run score cssrs 1 1 1 1 0 0 --format json --date 2026-11-20
json_is "c-ssrs intent is the high tier and a critical alert" 'out["risk_tier"] == "high" and out["total"] is None and out["alerts"][0]["severity"] == "critical" and "988" in out["alerts"][0]["message"]'
run score phq9 1 1 - 0 0 0 0 0 0 --format json
json_is "an unanswered item (-) gives no total and a note" 'out["total"] is None and out["complete"] is False and out["notes"][0]["code"] == "items_unanswered"'

# The suicide alert leads the text output, with the date and the crisis line.
run score phq9 0 0 0 0 0 0 0 0 1 --date 2026-11-20
first=$(head -n 1 "$WORK/out")
want="[critical] SUICIDE RISK: PHQ-9 item 9 (thoughts that you would be better off dead or of hurting yourself): item 9 = 1 (several days) on 2026-11-20 (the assessment date), the latest PHQ-9. Assess suicide risk today (ask directly, e.g. with the C-SSRS screener) and agree a safety plan. Crisis line (US): call or text 988 (988 Suicide & Crisis Lifeline), or chat at 988lifeline.org; call 911 if in immediate danger"
if [ "$RC" -eq 0 ] && [ "$first" == "$want" ]; then pass "phq9 item 9 > 0: critical alert is the first line"; else fail "phq9 item 9 > 0: critical alert is the first line" "got: $first"; fi
run score phq9 0 0 0 0 0 0 0 0 1 --date 2026-11-20 --locale CA
if grep -q "Crisis line (CA): call or text 9-8-8" "$WORK/out"; then pass "--locale CA names the Canadian line"; else fail "--locale CA names the Canadian line" "$(head -n 1 "$WORK/out")"; fi
run score phq9 0 0 0 0 0 0 0 0 1 --date 2026-11-20 --locale FR
if grep -q 'No crisis line is configured in the KB for locale "FR": give the local emergency number' "$WORK/out" && head -n 1 "$WORK/out" | grep -q '^\[critical\] SUICIDE RISK'; then
  pass "unknown locale: still critical, says no line is configured"
else
  fail "unknown locale: still critical, says no line is configured" "$(head -n 1 "$WORK/out")"
fi

# Errors: exact messages, exit 65 for bad input, 2 for usage.
run score phq9 2 2 1 2 1 1 1 1 4
check_error "item above its maximum" 65 "refract: error: ITEMS: item 9 of scale.phq9 is 4, above its maximum 3"
run score hamd17 2 1 0 3 1 0 2 0 0 0 0 0 0 0 0 0 0
check_error "HAM-D17 0-2 item above its maximum" 65 "refract: error: ITEMS: item 4 of scale.hamd17 is 3, above its maximum 2"
run score madrs 3 4 7 2 1 0 2 3 1 0
check_error "MADRS item above six" 65 "refract: error: ITEMS: item 3 of scale.madrs is 7, above its maximum 6"
run score gad7 1 1 1 1 1 1 1 1
check_error "too many items" 65 "refract: error: ITEMS: scale.gad7 expects 7 items, got 8"
run score phq9 1 1 1 1 1 1 1 1
check_error "too few items" 65 "refract: error: ITEMS: scale.phq9 expects 9 to 10 items, got 8"
run score phq8 1 1
check_error "unknown scale with suggestion" 65 'refract: error: SCALE: unknown scale "phq8" (did you mean "phq9"?)'
run score phq9 1 x 1 1 1 1 1 1 1
check_error "item that is not a number" 65 'refract: error: ITEMS: item 2 is "x": expected a whole number, or - for an unanswered item'
run score phq9 1 1 1 1 1 1 1 1 1 --date 2026-02-30
check_error "impossible date" 65 'refract: error: --date: "2026-02-30" is not a valid date (expected YYYY-MM-DD)'
run score phq9
if [ "$RC" -eq 2 ]; then pass "missing items is a usage error (exit 2)"; else fail "missing items is a usage error (exit 2)" "exit $RC"; fi
run score phq9 1 1 1 1 1 1 1 1 1 --format xml
if [ "$RC" -eq 2 ]; then pass "unknown --format is a usage error (exit 2)"; else fail "unknown --format is a usage error (exit 2)" "exit $RC"; fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
