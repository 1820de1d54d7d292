#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests of `refract check` and `refract naranjo`: exit codes, verbatim errors, outputs.
# Usage: tests/cli/check_tests.sh REFRACT_BINARY SOURCE_DIR. Ends with "N passed, M failed".
set -u
export LC_ALL=C
if [ "$#" -ne 2 ]; then echo "usage: $0 REFRACT_BINARY SOURCE_DIR" >&2; exit 2; fi
BIN=$(realpath "$1")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/refract-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 2
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "not ok - $1"; shift; for d in "$@"; do printf '    # %s\n' "$d"; done; }
run() { timeout 60 "$BIN" "$@" </dev/null >"$WORK/out" 2>"$WORK/err"; RC=$?; }
check_error() {
  local got; got=$(cat "$WORK/err")
  if [ "$RC" -eq "$2" ] && [ "$got" == "$3" ] && [ ! -s "$WORK/out" ]; then pass "$1"; else fail "$1" "exit $RC (want $2)" "stderr: $got" "want:   $3"; fi
}
# json_check NAME PYTHON_EXPR: the expression must be true for the JSON on stdout (bound to j).
json_check() {
  if [ "$RC" -eq 0 ] && python3 -c "import json,sys; j=json.load(open('$WORK/out')); sys.exit(0 if ($2) else 1)"; then pass "$1"; else fail "$1" "exit $RC" "$(head -c 400 "$WORK/out")" "$(head -c 300 "$WORK/err")"; fi
}

cat >"$WORK/patient.json" <<'JSON'
{"schema": "refract.patient/v1", "id": "check-cli",
 "medications": [{"drug": "Prozac", "start": "2026-01-10", "end": "2026-10-29", "doses": [{"from": "2026-01-10", "mg_per_day": 40}]}],
 "other_medications": [{"drug": "ibuprofen", "ongoing": true}, {"drug": "ashwagandha", "ongoing": true}],
 "adverse_reactions": [{"drug": "fluoxetine", "reaction": "insomnia", "date": "2026-02-01",
                        "naranjo": {"previous_reports": "yes", "after_drug": "yes", "improved_on_stop": "yes", "alternative_causes": "no"}}]}
JSON

run check sertraline tramadol --as-of 2026-11-22 --format json
json_check "check: SSRI + tramadol is major" "[f['rule'] for f in j['interactions']] == ['rule.ddi.sri_major_partner'] and j['interactions'][0]['severity'] == 'major' and j['engine']['kb_version']"

run check --with "$WORK/patient.json" --adding tranylcypromine --as-of 2026-11-22 --format json
json_check "check: MAOI washout after fluoxetine names the earliest start" "any(f['rule'] == 'rule.ddi.maoi_washout' and f['earliest_start'] == '2026-12-03' and f['severity'] == 'contraindicated' for f in j['interactions'])"
json_check "check: an unknown other medication is reported" "[u['input_name'] for u in j['unresolved']] == ['ashwagandha']"

run check --with "$WORK/patient.json" --adding tranylcypromine --as-of 2026-11-22 --format text
if [ "$RC" -eq 0 ] && grep -q "tranylcypromine cannot start before 2026-12-03 (35 days after the last dose of fluoxetine on 2026-10-29)" "$WORK/out" \
   && grep -q "^NOT CHECKED  unknown drug \"ashwagandha\"" "$WORK/out"; then pass "check: text names the date and the unchecked drug"; else fail "check: text" "$(head -c 600 "$WORK/out")"; fi

run check --with "$WORK/patient.json" --adding tranylcypromine --as-of 2026-11-22 --format json
json_check "check: the washout contraindication leads as a critical alert" "j['alerts'][0]['severity'] == 'critical' and j['alerts'][0]['rule'] == 'rule.ddi.maoi_washout'"

cat >"$WORK/suicidal.json" <<'JSON'
{"schema": "refract.patient/v1", "id": "check-suicide",
 "medications": [{"drug": "sertraline", "start": "2026-06-01", "ongoing": true, "doses": [{"from": "2026-06-01", "mg_per_day": 100}]}],
 "scales": [{"scale": "phq9", "date": "2026-11-20", "items": [2, 2, 2, 2, 1, 1, 1, 1, 2]}]}
JSON
run check --with "$WORK/suicidal.json" --adding tranylcypromine --as-of 2026-11-22 --format json
json_check "check --with: the record's suicide-risk alert leads, before the contraindicated combination" "[a['code'] for a in j['alerts']][:2] == ['suicide_risk', 'interaction_contraindicated'] and '988' in j['alerts'][0]['message']"
run check --with "$WORK/suicidal.json" --as-of 2026-11-22 --format text
if [ "$RC" -eq 0 ] && [ "$(head -n 1 "$WORK/out")" == "ALERTS" ] && sed -n 2p "$WORK/out" | grep -q "^  \[critical\] SUICIDE RISK: PHQ-9 item 9"; then
  pass "check --with: text starts with ALERTS and the suicide-risk alert"
else
  fail "check --with: text alerts first" "$(head -c 400 "$WORK/out")"
fi
run check sertraline --as-of 2026-11-22 --format json
json_check "check: no alert for a regimen without findings" "j['alerts'] == []"

run check lithium ibuprofen --adding Zoloft --dose 50 --as-of 2026-11-22 --format json
json_check "check: what-if adding sertraline to lithium and ibuprofen" "sorted(f['rule'] for f in j['interactions']) == ['rule.ddi.bleeding_nsaid', 'rule.ddi.lithium_raiser_major', 'rule.ddi.sri_moderate_partner'] and [d['mg_per_day'] for d in j['checked'] if d['proposed']] == [50]"

run check sertraline --adding sertralime --as-of 2026-11-22
check_error "check: unknown --adding drug" 65 'refract: error: --adding: unknown drug "sertralime" (did you mean "sertraline"?)'

run check sertraline --dose 50 --as-of 2026-11-22
check_error "check: --dose without --adding" 65 'refract: error: --dose: --dose needs --adding (the dose of the proposed drug)'

run check sertraline --as-of 2026-13-01
check_error "check: bad date" 65 'refract: error: --as-of: "2026-13-01" is not a valid date (expected YYYY-MM-DD)'

run check
check_error "check: nothing to check" 2 'refract: error: give drugs, --with PATIENT.json or --adding DRUG'

run naranjo after_drug=yes improved_on_stop=yes alternative_causes=no objective_evidence=yes --format json
json_check "naranjo: calculator" "j['naranjo']['total'] == 6 and j['naranjo']['band'] == 'probable' and j['naranjo']['dechallenge'] == 'positive'"

run naranjo after_drugs=yes
check_error "naranjo: unknown key" 65 'refract: error: after_drugs: unknown Naranjo question "after_drugs" (did you mean "after_drug"?)'

run naranjo after_drug
check_error "naranjo: not KEY=ANSWER" 65 'refract: error: ANSWERS: "after_drug" is not KEY=ANSWER (e.g. after_drug=yes)'

run naranjo --with "$WORK/patient.json" --format json
json_check "naranjo: record reactions scored with the dechallenge" "j['adverse_reactions'][0]['naranjo']['total'] == 6 and j['adverse_reactions'][0]['naranjo']['dechallenge'] == 'positive'"

cat >"$WORK/tramadol-course.json" <<'JSON'
{"schema": "refract.patient/v1", "id": "x", "medications": [{"drug": "tramadol", "start": "2026-01-01", "ongoing": true}]}
JSON
run assess "$WORK/tramadol-course.json" --as-of 2026-11-22 --format json
check_error "assess: a non-psychiatric drug in medications is refused" 65 "refract: error: $WORK/tramadol-course.json#/medications/0/drug: tramadol is not an antidepressant or augmenting agent: list it under other_medications"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
