#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests of the refract command line: runs the real binary as a user would, in a
# fresh temporary directory, and checks exit codes, stderr messages (verbatim: they are part
# of the interface) and outputs.
#
# Usage: tests/cli/run_cli_tests.sh REFRACT_BINARY SOURCE_DIR
#
# Prints one line per check ("ok - ..." / "not ok - ..." followed by what differed) and ends
# with "N passed, M failed". Exit status 1 when a check failed, 2 on bad usage.
# Needs bash, coreutils and python3 (standard library only, for JSON checks).
set -u
# Fixed messages from the C library (strerror) and a fixed sort order.
export LC_ALL=C

if [ "$#" -ne 2 ]; then
  echo "usage: $0 REFRACT_BINARY SOURCE_DIR" >&2
  exit 2
fi
BIN=$(realpath "$1")
SRC=$(realpath "$2")
if [ ! -x "$BIN" ]; then
  echo "$0: $1 is not an executable file" >&2
  exit 2
fi
if [ ! -d "$SRC/examples" ] || [ ! -d "$SRC/kb" ]; then
  echo "$0: $2 does not look like the refract source tree (no examples/ or kb/)" >&2
  exit 2
fi
INPUTS="$SRC/tests/cli/inputs"
AS_OF=2026-11-22

WORK=$(mktemp -d "${TMPDIR:-/tmp}/refract-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 2

PASSED=0
FAILED=0

pass() {
  PASSED=$((PASSED + 1))
  echo "ok - $1"
}

# fail NAME DETAIL...: DETAIL lines say what differed.
fail() {
  local name=$1
  shift
  FAILED=$((FAILED + 1))
  echo "not ok - $name"
  local detail
  for detail in "$@"; do
    printf '%s\n' "$detail" | sed 's/^/    # /'
  done
}

# run ARGS...: runs the binary with stdin closed; sets RC, and the files out / err.
run() {
  timeout 60 "$BIN" "$@" </dev/null >"$WORK/out" 2>"$WORK/err"
  RC=$?
}

stderr_text() { cat "$WORK/err"; }

# check_exit NAME WANT: the last run exited with WANT.
check_exit() {
  if [ "$RC" -eq "$2" ]; then pass "$1"; else fail "$1" "exit code $RC, expected $2" "stderr: $(head -c 600 "$WORK/err")"; fi
}

# check_error NAME WANT_RC WANT_STDERR: exit code, the exact stderr, and nothing on stdout.
check_error() {
  local name=$1 want_rc=$2 want_err=$3 problems=()
  local got_err
  got_err=$(cat "$WORK/err")
  [ "$RC" -eq "$want_rc" ] || problems+=("exit code $RC, expected $want_rc")
  [ "$got_err" == "$want_err" ] || problems+=("stderr:   $got_err" "expected: $want_err")
  [ ! -s "$WORK/out" ] || problems+=("stdout is not empty: $(head -c 200 "$WORK/out")")
  if [ "${#problems[@]}" -eq 0 ]; then pass "$name"; else fail "$name" "${problems[@]}"; fi
}

# check_true NAME DETAIL COMMAND...: passes when COMMAND succeeds; DETAIL is shown otherwise.
check_true() {
  local name=$1 detail=$2
  shift 2
  if "$@"; then pass "$name"; else fail "$name" "$detail"; fi
}

# Python helper for JSON checks (standard library only).
cat >"$WORK/jsontool.py" <<'PY'
import json
import re
import sys


def load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def first_difference(got, want, where=""):
    """Returns a description of the first difference between two JSON values, or None."""
    if type(got) is not type(want) and not (isinstance(got, (int, float)) and isinstance(want, (int, float))
                                            and not isinstance(got, bool) and not isinstance(want, bool)):
        return f"{where or '/'}: got {json.dumps(got)[:200]}, expected {json.dumps(want)[:200]}"
    if isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            if key not in got:
                return f"{where}/{key}: missing, expected {json.dumps(want[key])[:200]}"
            if key not in want:
                return f"{where}/{key}: unexpected member {json.dumps(got[key])[:200]}"
            found = first_difference(got[key], want[key], f"{where}/{key}")
            if found:
                return found
        return None
    if isinstance(want, list):
        for index, (left, right) in enumerate(zip(got, want)):
            found = first_difference(left, right, f"{where}/{index}")
            if found:
                return found
        if len(got) != len(want):
            return f"{where or '/'}: {len(got)} items, expected {len(want)}"
        return None
    if got != want:
        return f"{where or '/'}: got {json.dumps(got)[:200]}, expected {json.dumps(want)[:200]}"
    return None


def normalise(report):
    engine = report.get("engine")
    if isinstance(engine, dict):
        engine["version"] = "<engine>"
        engine["kb_version"] = "<kb>"
        engine["kb_digest"] = "<kb>"
    return report


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "valid":  # valid FILE: exit 0 when FILE holds one JSON document
        try:
            load(args[0])
        except (ValueError, OSError) as error:
            print(error)
            return 1
        return 0
    if command == "get":  # get FILE EXPR: prints EXPR evaluated with d = the document
        d = load(args[0])
        value = eval(args[1], {"d": d, "re": re})  # noqa: S307 (test helper, trusted input)
        print(value if isinstance(value, str) else json.dumps(value))
        return 0
    if command == "assert":  # assert FILE EXPR...: prints each EXPR that is not true
        d = load(args[0])
        failed = 0
        for expression in args[1:]:
            try:
                ok = eval(expression, {"d": d, "re": re})  # noqa: S307
            except Exception as error:  # noqa: BLE001 (report any failure of the expression)
                ok = False
                expression += f"  ({type(error).__name__}: {error})"
            if not ok:
                failed += 1
                print(f"false: {expression}")
        return 1 if failed else 0
    if command == "same":  # same FILE_A FILE_B: the same JSON value
        found = first_difference(load(args[0]), load(args[1]))
        if found:
            print(found)
            return 1
        return 0
    if command == "golden":  # golden REPORT GOLDEN: report equals golden after normalising versions
        found = first_difference(normalise(load(args[0])), load(args[1]))
        if found:
            print(found)
            return 1
        return 0
    if command == "position":  # position FILE: LINE:COL of the first JSON syntax error (Python's json)
        try:
            load(args[0])
        except json.JSONDecodeError as error:
            print(f"{error.lineno}:{error.colno}")
            return 0
        print("valid")
        return 1
    if command == "cases":  # cases DIR CASE.in.json...: writes each patient to DIR/<slug>.json
        # and prints "slug|as_of|criteria|golden .out.json" per case (criteria may be empty).
        import os
        for path in args[1:]:
            case = load(path)
            slug = os.path.basename(os.path.dirname(path)) + "--" + os.path.basename(path)[: -len(".in.json")]
            with open(os.path.join(args[0], slug + ".json"), "w", encoding="utf-8") as handle:
                json.dump(case["patient"], handle, indent=2)
            golden = path[: -len(".in.json")] + ".out.json"
            print("|".join([slug, case["as_of"], case.get("criteria", ""), "full" if case.get("next_steps") else "core", golden]))
        return 0
    if command == "error":  # error OUT.json LABEL: the CLI's stderr line for a golden error
        error = load(args[0])["error"]
        location = error["location"]
        if location.startswith("patient"):
            location = args[1] + location[len("patient"):]
        print(f"refract: error: {location}: {error['message']}")
        return 0
    if command == "goldens":  # goldens DIR SLUG=GOLDEN...: compares DIR/<slug>.json with each golden
        import os
        for pair in args[1:]:
            slug, golden = pair.split("=", 1)
            report = os.path.join(args[0], slug + ".json")
            if not os.path.exists(report):
                print(f"FAIL\t{slug}\tno report written")
                continue
            try:
                found = first_difference(normalise(load(report)), load(golden))
            except ValueError as error:
                found = f"not valid JSON: {error}"
            print(f"FAIL\t{slug}\t{found}" if found else f"PASS\t{slug}\t")
        return 0
    if command == "edit":  # edit FILE POINTER JSON_VALUE: sets a member of a JSON file in place
        d = load(args[0])
        parts = [part.replace("~1", "/").replace("~0", "~") for part in args[1].split("/")[1:]]
        node = d
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = json.loads(args[2])
        else:
            node[last] = json.loads(args[2])
        with open(args[0], "w", encoding="utf-8") as handle:
            json.dump(d, handle, indent=2)
        return 0
    if command == "tty":  # tty BINARY ARGS...: runs with stdout on a pseudo-terminal, prints it
        import os
        import pty
        import subprocess
        leader, follower = pty.openpty()
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.DEVNULL)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
        os.close(leader)
        sys.stdout.write(b"".join(chunks).decode("utf-8", "replace"))
        return process.returncode
    print(f"jsontool: unknown command {command}", file=sys.stderr)
    return 2


sys.exit(main())
PY

# Resolve the interpreter once: version-manager shims can cost a tenth of a second per call.
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
jt() { "$PYTHON" "$WORK/jsontool.py" "$@"; }

# check_json NAME FILE EXPR...: FILE is valid JSON and every python EXPR (over d) is true.
check_json() {
  local name=$1 file=$2
  shift 2
  local why
  if ! why=$(jt valid "$file"); then
    fail "$name" "not valid JSON: $why" "output starts: $(head -c 200 "$file")"
    return
  fi
  if why=$(jt assert "$file" "$@"); then pass "$name"; else fail "$name" "$why"; fi
}

no_files_in() { [ -z "$(find "$1" -mindepth 1 -print -quit 2>/dev/null)" ]; }

echo "# refract CLI tests: $BIN (source $SRC), working in $WORK"

# ---------------------------------------------------------------------------------------------
echo "# usage errors exit 2"
run
check_exit "no subcommand exits 2" 2
run frobnicate
check_exit "unknown subcommand exits 2" 2
run assess
check_exit "assess without a patient file exits 2" 2
run kb
check_exit "kb without a subcommand exits 2" 2
run assess "$SRC/examples/too-short-trial.json" --as-of "$AS_OF" --format xml
check_exit "assess --format xml exits 2" 2
run --version
if [ "$RC" -eq 0 ] && [ -s out ]; then pass "--version exits 0 and prints the version"; else fail "--version exits 0 and prints the version" "exit $RC, stdout: $(cat out)"; fi
run --help
check_exit "--help exits 0" 0

# ---------------------------------------------------------------------------------------------
echo "# built-in KB facts used below"
run kb info
check_json "kb info prints JSON with kb_version, kb_digest (sha256:), kb_source built-in" out \
  "isinstance(d.get('kb_version'), str) and d['kb_version'] != ''" \
  "re.fullmatch(r'sha256:[0-9a-f]{64}', d.get('kb_digest', ''))" \
  "d.get('kb_source') == 'built-in'" \
  "isinstance(d.get('criteria'), list) and d['criteria']"
BUILTIN_DIGEST=$(jt get out "d.get('kb_digest', '')" 2>/dev/null)
BUILTIN_VERSION=$(jt get out "d.get('kb_version', '')" 2>/dev/null)
KNOWN_CRITERIA=$(jt get out "', '.join(d.get('criteria', []))" 2>/dev/null)
MANIFEST_VERSION=$(jt get "$SRC/kb/manifest.json" "d['kb_version']")
check_true "kb info kb_version equals kb/manifest.json ($MANIFEST_VERSION)" \
  "kb info says '$BUILTIN_VERSION' (rebuild the binary after KB changes)" test "$BUILTIN_VERSION" == "$MANIFEST_VERSION"

# ---------------------------------------------------------------------------------------------
echo "# assess every example"
for example in "$SRC"/examples/*.json; do
  name=$(basename "$example" .json)
  patient_id=$(jt get "$example" "d['id']")
  run assess "$example" --as-of "$AS_OF" --format json
  cp out "json-$name.json"
  if [ "$RC" -ne 0 ] || [ -s err ]; then
    fail "assess $name --format json exits 0 with an empty stderr" "exit $RC" "stderr: $(head -c 600 err)"
  else
    pass "assess $name --format json exits 0 with an empty stderr"
  fi
  check_json "assess $name: JSON report with schema, engine, patient, criteria, alerts" "json-$name.json" \
    "d.get('schema') == 'refract.assessment/v1'" \
    "isinstance(d['engine'].get('kb_version'), str) and d['engine']['kb_version'] == '$BUILTIN_VERSION'" \
    "d['engine'].get('kb_digest') == '$BUILTIN_DIGEST'" \
    "d['engine'].get('kb_source') == 'built-in'" \
    "d['engine'].get('name') == 'refract' and d['engine'].get('version')" \
    "d.get('patient_id') == '$patient_id'" \
    "d.get('as_of') == '$AS_OF'" \
    "d['criteria'].get('id') == 'criteria.atrq'" \
    "isinstance(d.get('alerts'), list)" \
    "all({'severity', 'code', 'message'} <= set(alert) for alert in d['alerts'])" \
    "isinstance(d.get('trials'), list) and d['trd'].get('status') in ('meets', 'does_not_meet', 'indeterminate', 'not_applicable')"

  run assess "$example" --as-of "$AS_OF" --format json
  if cmp -s out "json-$name.json"; then
    pass "assess $name twice gives byte-identical JSON"
  else
    fail "assess $name twice gives byte-identical JSON" "$(diff "json-$name.json" out | head -5)"
  fi

  run assess "$example" --as-of "$AS_OF" --format text
  cp out "text-$name.txt"
  if [ "$RC" -eq 0 ] && [ -s out ] && grep -qF "$patient_id" out && grep -qF "$BUILTIN_VERSION" out && ! grep -q '^[[:space:]]*{' <(head -1 out); then
    pass "assess $name --format text prints a text report naming the patient and KB version"
  else
    fail "assess $name --format text prints a text report naming the patient and KB version" "exit $RC" "stdout starts: $(head -c 300 out)" "stderr: $(head -c 300 err)"
  fi

  run assess "$example" --as-of "$AS_OF" --format html
  cp out "html-$name.html"
  problems=()
  [ "$RC" -eq 0 ] || problems+=("exit $RC: $(head -c 300 err)")
  [ "$(head -c 15 out)" == "<!DOCTYPE html>" ] || problems+=("does not start with <!DOCTYPE html>: $(head -c 60 out)")
  # Markup outside the inlined chart scripts loads nothing: no src= or href= to another resource.
  markup=$(perl -0pe 's/<script\b.*?<\/script>//gs' out)
  ! grep -qiE '<(script|link|img|iframe)[^>]*(src|href)=' <<<"$markup" || problems+=("loads an external resource: $(grep -oiE '<(script|link|img|iframe)[^>]*(src|href)=[^>]*' <<<"$markup" | head -1)")
  grep -qF "$patient_id" out || problems+=("does not name patient $patient_id")
  grep -qi '</html>' out || problems+=("no closing </html>")
  if [ "${#problems[@]}" -eq 0 ]; then pass "assess $name --format html is a self-contained HTML page"; else fail "assess $name --format html is a self-contained HTML page" "${problems[@]}"; fi
done

EXAMPLE="$SRC/examples/too-short-trial.json"

echo "# default format"
run assess "$EXAMPLE" --as-of "$AS_OF"
if [ "$RC" -eq 0 ] && cmp -s out json-too-short-trial.json; then
  pass "default format when stdout is not a terminal is JSON (same bytes as --format json)"
else
  fail "default format when stdout is not a terminal is JSON (same bytes as --format json)" "exit $RC" "stdout starts: $(head -c 200 out)"
fi
jt tty "$BIN" assess "$EXAMPLE" --as-of "$AS_OF" >tty.txt 2>/dev/null
RC=$?
if [ "$RC" -eq 0 ] && [ -s tty.txt ] && [ "$(head -c 1 tty.txt)" != "{" ] && grep -qF "example-too-short-trial" tty.txt; then
  pass "default format on a terminal is text"
else
  fail "default format on a terminal is text" "exit $RC" "terminal output starts: $(head -c 200 tty.txt)"
fi

echo "# hostile text in a record is escaped in HTML"
cp "$EXAMPLE" hostile.json
jt edit hostile.json /id '"p<script>alert(1)</script>&\"x"'
jt edit hostile.json /medications/0/note '"<script>alert(2)</script>"'
jt edit hostile.json /conditions/0/name '"<script>alert(3)</script>"'
jt edit hostile.json /other_medications/0/drug '"<SCRIPT src=x></SCRIPT>"'
run assess hostile.json --as-of "$AS_OF" --format html
if [ "$RC" -eq 0 ] && ! grep -qi '<script>alert' out && grep -qF 'p&lt;script&gt;' out; then
  pass "HTML escapes markup in patient text (no <script, id shown escaped)"
else
  fail "HTML escapes markup in patient text (no <script, id shown escaped)" "exit $RC" "$(grep -oi '.\{30\}<script.\{30\}' out | head -2)"
fi

# ---------------------------------------------------------------------------------------------
echo "# --out"
run assess "$EXAMPLE" --as-of "$AS_OF" --format json --out report.json
problems=()
[ "$RC" -eq 0 ] || problems+=("exit $RC: $(cat err)")
[ ! -s out ] || problems+=("stdout not empty: $(head -c 200 out)")
[ ! -s err ] || problems+=("stderr not empty: $(head -c 200 err)")
cmp -s report.json json-too-short-trial.json || problems+=("report.json differs from the --format json stdout")
[ ! -e report.json.tmp ] || problems+=("report.json.tmp left behind")
if [ "${#problems[@]}" -eq 0 ]; then pass "--out FILE writes the report and prints nothing"; else fail "--out FILE writes the report and prints nothing" "${problems[@]}"; fi

run assess "$EXAMPLE" --as-of "$AS_OF" --out report.html --format html
if [ "$RC" -eq 0 ] && [ ! -s out ] && cmp -s report.html html-too-short-trial.html; then
  pass "--out FILE --format html writes the HTML report"
else
  fail "--out FILE --format html writes the HTML report" "exit $RC" "$(head -c 200 err)"
fi

run assess "$EXAMPLE" --as-of "$AS_OF" --out report-default
if [ "$RC" -eq 0 ] && cmp -s report-default json-too-short-trial.json; then
  pass "--out without --format writes JSON"
else
  fail "--out without --format writes JSON" "exit $RC" "file starts: $(head -c 100 report-default 2>/dev/null)"
fi

run assess "$EXAMPLE" --as-of "$AS_OF" --out no-such-dir/report.json
if [ "$RC" -eq 74 ] && grep -qF "no-such-dir/report.json" err && [ ! -e no-such-dir ]; then
  pass "--out into a missing directory exits 74 and names the path"
else
  fail "--out into a missing directory exits 74 and names the path" "exit $RC" "stderr: $(cat err)"
fi

run assess "$EXAMPLE" --as-of "$AS_OF" --out both.json --out-dir both-dir
check_error "--out with --out-dir is refused" 65 "refract: error: --out: give --out or --out-dir, not both"
check_true "--out with --out-dir writes nothing" "both.json or both-dir exists" test ! -e both.json -a ! -e both-dir

# ---------------------------------------------------------------------------------------------
echo "# input errors"
run assess missing.json --as-of "$AS_OF"
check_error "missing patient file exits 74 and names the path" 74 \
  "refract: error: missing.json: cannot read missing.json: No such file or directory"

mkdir patient-dir
run assess patient-dir --as-of "$AS_OF"
problems=()
[ "$RC" -ne 0 ] || problems+=("exit 0")
grep -qF "patient-dir" err || problems+=("stderr does not name patient-dir")
grep -qi "directory" err || problems+=("stderr does not say it is a directory")
! grep -q "not valid JSON" err || problems+=("reported as invalid JSON instead of as a directory")
if [ "${#problems[@]}" -eq 0 ]; then pass "a directory given as patient gives a clear error"; else fail "a directory given as patient gives a clear error" "${problems[@]}" "exit $RC, stderr: $(cat err)"; fi

cp "$INPUTS"/*.json .

run assess trailing-comma-array.json --as-of "$AS_OF"
check_error "trailing comma on line 3 exits 65 with FILE:3:COL: not valid JSON" 65 \
  "refract: error: trailing-comma-array.json:3:69: not valid JSON: syntax error while parsing value - unexpected ']'; expected '[', '{', or a literal"

# Python's json module is the independent judge of where a syntax error is.
for doc in trailing-comma-array trailing-comma-object; do
  run assess "$doc.json" --as-of "$AS_OF"
  want=$(jt position "$doc.json")
  got=$(sed -n "s/^refract: error: $doc\.json:\([0-9]*:[0-9]*\): not valid JSON: .*/\1/p" err)
  if [ "$RC" -eq 65 ] && [ -n "$got" ] && [ "$got" == "$want" ]; then
    pass "$doc: error position $got agrees with Python's json module"
  else
    fail "$doc: error position agrees with Python's json module" "exit $RC, refract says '${got}', python says '$want'" "stderr: $(cat err)"
  fi
done
for doc in invalid-literal control-character; do
  run assess "$doc.json" --as-of "$AS_OF"
  want=$(jt position "$doc.json")
  got=$(sed -n "s/^refract: error: $doc\.json:\([0-9]*\):[0-9]*: not valid JSON: .*/\1/p" err)
  if [ "$RC" -eq 65 ] && [ -n "$got" ] && [ "$got" == "${want%%:*}" ]; then
    pass "$doc: error line $got agrees with Python's json module"
  else
    fail "$doc: error line agrees with Python's json module" "exit $RC, refract says line '${got}', python says ${want}" "stderr: $(cat err)"
  fi
done

# The reason after "not valid JSON: " must describe the problem, not echo a piece of the input.
problems=()
run assess invalid-literal.json --as-of "$AS_OF"
reason=$(sed -n 's/^refract: error: [^ ]*: not valid JSON: //p' err)
[[ "$reason" == *"invalid literal"* ]] || problems+=("invalid-literal.json: reason is '$reason', expected it to say 'invalid literal'")
run assess control-character.json --as-of "$AS_OF"
reason=$(sed -n 's/^refract: error: [^ ]*: not valid JSON: //p' err)
[[ "$reason" == *"control character"* ]] || problems+=("control-character.json: reason is '$reason', expected it to say 'control character'")
if [ "${#problems[@]}" -eq 0 ]; then pass "JSON lexer errors state the reason"; else fail "JSON lexer errors state the reason" "${problems[@]}"; fi

: >empty.json
run assess empty.json --as-of "$AS_OF"
if [ "$RC" -eq 65 ] && grep -q '^refract: error: empty\.json:1:1: not valid JSON: ' err && [ ! -s out ]; then
  pass "empty file exits 65 with empty.json:1:1"
else
  fail "empty file exits 65 with empty.json:1:1" "exit $RC" "stderr: $(cat err)"
fi

run assess unknown-drug.json --as-of "$AS_OF"
check_error "unknown drug exits 65 naming FILE#/medications/1/drug with a suggestion" 65 \
  'refract: error: unknown-drug.json#/medications/1/drug: unknown drug "fluoxetinx" (did you mean "fluoxetine"?)'

run assess unknown-property.json --as-of "$AS_OF"
check_error "unknown property exits 65 with its JSON pointer" 65 \
  'refract: error: unknown-property.json#/medications/0/dose_mg: unknown property "dose_mg"'

run assess wrong-type.json --as-of "$AS_OF"
check_error "wrong type exits 65 with its JSON pointer" 65 \
  'refract: error: wrong-type.json#/medications/0/doses/0/mg_per_day: expected a number, got a string'

run assess impossible-date.json --as-of "$AS_OF"
check_error "impossible date 2026-02-30 exits 65 with its JSON pointer" 65 \
  'refract: error: impossible-date.json#/medications/0/end: "2026-02-30" is not a valid date (expected YYYY-MM-DD)'

echo "# every golden error case, through the command line"
mkdir error-cases
while IFS='|' read -r slug case_as_of case_criteria _sections golden; do
  want=$(jt error "$golden" "error-cases/$slug.json")
  criteria_args=()
  [ -z "$case_criteria" ] || criteria_args=(--criteria "$case_criteria")
  run assess "error-cases/$slug.json" --as-of "$case_as_of" ${criteria_args[@]+"${criteria_args[@]}"}
  check_error "error case ${slug#errors--}: exit 65 and the golden message" 65 "$want"
done < <(jt cases error-cases $(grep -l '"expect_error"' "$SRC"/tests/cases/*/*.in.json))

# ---------------------------------------------------------------------------------------------
echo "# --as-of and --criteria"
run assess "$EXAMPLE" --as-of 2026-13-01
check_error "--as-of 2026-13-01 exits 65" 65 'refract: error: --as-of: "2026-13-01" is not a valid date (expected YYYY-MM-DD)'
run assess "$EXAMPLE" --as-of 2026-02-29
check_error "--as-of 2026-02-29 (not a leap year) exits 65" 65 'refract: error: --as-of: "2026-02-29" is not a valid date (expected YYYY-MM-DD)'
run assess "$EXAMPLE" --as-of 22/11/2026
check_error "--as-of 22/11/2026 exits 65" 65 'refract: error: --as-of: "22/11/2026" is not a valid date (expected YYYY-MM-DD)'

run assess "$EXAMPLE" --as-of "$AS_OF" --criteria bogus
check_error "unknown --criteria exits 65 and lists the known criteria" 65 \
  "refract: error: --criteria: unknown criteria \"bogus\" (known: $KNOWN_CRITERIA)"

ATRQ_8W_DAYS=$(jt get "$SRC/kb/rules/criteria.atrq_8w.json" "d['min_duration_days']")
run assess "$EXAMPLE" --as-of "$AS_OF" --criteria atrq_8w --format json
check_json "--criteria atrq_8w selects criteria.atrq_8w" out \
  "d['criteria']['id'] == 'criteria.atrq_8w'" \
  "d['criteria']['min_duration_days'] == $ATRQ_8W_DAYS" \
  "all(t['required_days'] == $ATRQ_8W_DAYS for t in d['trials'] if t['counts_as'] == 'antidepressant')"
run assess "$EXAMPLE" --as-of "$AS_OF" --criteria criteria.atrq_strict25 --format json
check_json "--criteria criteria.atrq_strict25 (full id) works" out "d['criteria']['id'] == 'criteria.atrq_strict25'"

# ---------------------------------------------------------------------------------------------
echo "# several patients"
SECOND="$SRC/examples/bipolar-ii.json"
run assess "$EXAMPLE" "$SECOND" --as-of "$AS_OF"
check_error "several patients without --out-dir are refused" 65 \
  "refract: error: --out-dir: several patient files need --out-dir (one report per patient)"

run assess "$EXAMPLE" "$SECOND" --as-of "$AS_OF" --format json --out-dir batch
problems=()
[ "$RC" -eq 0 ] || problems+=("exit $RC: $(cat err)")
files=$(cd batch 2>/dev/null && ls -A | tr '\n' ' ')
[ "$files" == "bipolar-ii.json too-short-trial.json " ] || problems+=("batch/ holds '$files', expected 'bipolar-ii.json too-short-trial.json '")
cmp -s batch/too-short-trial.json json-too-short-trial.json || problems+=("batch/too-short-trial.json differs from the single-patient report")
cmp -s batch/bipolar-ii.json json-bipolar-ii.json || problems+=("batch/bipolar-ii.json differs from the single-patient report")
if [ "${#problems[@]}" -eq 0 ]; then pass "--out-dir writes one report per patient, identical to single runs"; else fail "--out-dir writes one report per patient, identical to single runs" "${problems[@]}"; fi

run assess "$EXAMPLE" "$SECOND" --as-of "$AS_OF" --format text --out-dir batch-text
files=$(cd batch-text 2>/dev/null && ls -A | tr '\n' ' ')
if [ "$RC" -eq 0 ] && [ "$files" == "bipolar-ii.txt too-short-trial.txt " ] && cmp -s batch-text/bipolar-ii.txt text-bipolar-ii.txt; then
  pass "--out-dir --format text writes .txt reports"
else
  fail "--out-dir --format text writes .txt reports" "exit $RC, files: '$files'" "$(head -c 300 err)"
fi

mkdir existing-empty
run assess "$EXAMPLE" unknown-drug.json "$SECOND" --as-of "$AS_OF" --out-dir existing-empty
if [ "$RC" -ne 0 ] && no_files_in existing-empty; then
  pass "one bad input among several: non-zero exit and nothing written to an existing --out-dir"
else
  fail "one bad input among several: non-zero exit and nothing written to an existing --out-dir" "exit $RC" "existing-empty/ holds: $(ls -A existing-empty | tr '\n' ' ')"
fi
run assess "$EXAMPLE" "$SECOND" trailing-comma-object.json --as-of "$AS_OF" --out-dir new-dir
if [ "$RC" -ne 0 ] && no_files_in new-dir; then
  pass "bad last input: non-zero exit and nothing written to a new --out-dir"
else
  fail "bad last input: non-zero exit and nothing written to a new --out-dir" "exit $RC" "new-dir/ holds: $(ls -A new-dir 2>/dev/null | tr '\n' ' ')"
fi
run assess "$EXAMPLE" missing.json --as-of "$AS_OF" --out-dir existing-empty
if [ "$RC" -eq 74 ] && no_files_in existing-empty; then
  pass "missing input among several: exit 74 and nothing written"
else
  fail "missing input among several: exit 74 and nothing written" "exit $RC" "existing-empty/ holds: $(ls -A existing-empty | tr '\n' ' ')"
fi

# Two patient files with the same name in different folders must not overwrite each other.
mkdir -p clinic-a clinic-b
cp "$EXAMPLE" clinic-a/patient.json
cp "$SECOND" clinic-b/patient.json
run assess clinic-a/patient.json clinic-b/patient.json --as-of "$AS_OF" --format json --out-dir same-stem
count=$(find same-stem -type f 2>/dev/null | wc -l)
if { [ "$RC" -eq 0 ] && [ "$count" -eq 2 ]; } || { [ "$RC" -ne 0 ] && [ "$count" -eq 0 ]; }; then
  pass "--out-dir with two inputs of the same file name keeps both reports or refuses"
else
  fail "--out-dir with two inputs of the same file name keeps both reports or refuses" \
    "exit $RC, $count file(s) written: one report silently overwrote the other" "stdout: $(tr '\n' ' ' <out)"
fi

# ---------------------------------------------------------------------------------------------
echo "# knowledge base"
run kb check
if [ "$RC" -eq 0 ] && grep -q "^kb check: ok: " out && grep -qF "$BUILTIN_DIGEST" out && [ ! -s err ]; then
  pass "kb check (built-in) exits 0"
else
  fail "kb check (built-in) exits 0" "exit $RC" "stdout: $(cat out)" "stderr: $(head -c 600 err)"
fi

cp -r "$SRC/kb" kb-copy
run kb check --kb kb-copy
check_exit "kb check --kb on an unmodified copy of kb/ exits 0" 0
run kb info --kb kb-copy
check_json "kb info --kb copy: same digest as the built-in KB, kb_source names the directory" out \
  "d['kb_digest'] == '$BUILTIN_DIGEST'" "d['kb_source'] == 'kb-copy'"

cp -r "$SRC/kb" kb-string-dose
jt edit kb-string-dose/drugs/sertraline.json /adequacy/min_dose_mg_per_day '"50"'
run kb check --kb kb-string-dose
want_first='kb/drugs/sertraline.json#/adequacy/min_dose_mg_per_day: expected a number, got a string'
want_last='refract: kb check: 1 problem in kb-string-dose'
if [ "$RC" -eq 65 ] && [ "$(head -1 err)" == "$want_first" ] && [ "$(tail -1 err)" == "$want_last" ]; then
  pass "kb check --kb with a string min dose exits 65 naming kb/drugs/sertraline.json#/adequacy/min_dose_mg_per_day"
else
  fail "kb check --kb with a string min dose exits 65 naming kb/drugs/sertraline.json#/adequacy/min_dose_mg_per_day" \
    "exit $RC" "stderr:   $(cat err)" "expected: $want_first" "          $want_last"
fi
run assess "$EXAMPLE" --as-of "$AS_OF" --kb kb-string-dose
check_error "assess --kb with a broken KB exits 65 naming the KB location" 65 "refract: error: $want_first"

cp -r "$SRC/kb" kb-dangling
jt edit kb-dangling/drugs/sertraline.json /class '"class.does_not_exist"'
run kb check --kb kb-dangling
want_first='kb/drugs/sertraline.json#/class: reference "class.does_not_exist" does not resolve'
if [ "$RC" -eq 65 ] && [ "$(head -1 err)" == "$want_first" ] && [ "$(tail -1 err)" == "refract: kb check: 1 problem in kb-dangling" ]; then
  pass "kb check --kb with a dangling class reference exits 65"
else
  fail "kb check --kb with a dangling class reference exits 65" "exit $RC" "stderr:   $(cat err)" "expected: $want_first"
fi

cp -r "$SRC/kb" kb-dangling-source
jt edit kb-dangling-source/drugs/sertraline.json /adequacy/sources '["source.does-not-exist"]'
run kb check --kb kb-dangling-source
if [ "$RC" -eq 65 ] && grep -qF 'kb/drugs/sertraline.json#/adequacy/sources/0' err && grep -qF 'source.does-not-exist' err; then
  pass "kb check --kb with a dangling source reference exits 65 and names it"
else
  fail "kb check --kb with a dangling source reference exits 65 and names it" "exit $RC" "stderr: $(cat err)"
fi

run kb check --kb no-such-kb
check_error "kb check --kb on a missing directory exits 74" 74 \
  "refract: error: no-such-kb: knowledge base directory no-such-kb does not exist"

# A modified KB changes the verdict, and the report says which KB it used.
MODIFIED_EXAMPLE="$SRC/examples/older-adult-citalopram.json"
run assess "$MODIFIED_EXAMPLE" --as-of "$AS_OF" --format json
cp out builtin-older.json
check_json "precondition: built-in KB rates the older-adult sertraline trial (max 50 mg) adequate" builtin-older.json \
  "[t['adequacy'] for t in d['trials'] if t['drug'] == 'drug.sertraline'] == ['adequate']" \
  "[t['max_dose_mg_per_day'] for t in d['trials'] if t['drug'] == 'drug.sertraline'][0] < 100"
cp -r "$SRC/kb" kb-stricter
jt edit kb-stricter/drugs/sertraline.json /adequacy/min_dose_mg_per_day 100
run kb info --kb kb-stricter
STRICTER_DIGEST=$(jt get out "d.get('kb_digest', '')" 2>/dev/null)
run assess "$MODIFIED_EXAMPLE" --as-of "$AS_OF" --format json --kb kb-stricter
check_json "assess --kb with sertraline min 100 mg: trial becomes inadequate; report names the KB and its digest" out \
  "[t['adequacy'] for t in d['trials'] if t['drug'] == 'drug.sertraline'] == ['inadequate']" \
  "[t['min_adequate_dose_mg_per_day'] for t in d['trials'] if t['drug'] == 'drug.sertraline'] == [100]" \
  "d['engine']['kb_source'] == 'kb-stricter'" \
  "d['engine']['kb_digest'] != '$BUILTIN_DIGEST'" \
  "d['engine']['kb_digest'] == '$STRICTER_DIGEST'" \
  "re.fullmatch(r'sha256:[0-9a-f]{64}', d['engine']['kb_digest'])"

# ---------------------------------------------------------------------------------------------
echo "# drug lookup"
run drug Zoloft
if [ "$RC" -eq 0 ] && why=$(jt same out "$SRC/kb/drugs/sertraline.json"); then
  pass "drug Zoloft prints the sertraline KB entry"
else
  fail "drug Zoloft prints the sertraline KB entry" "exit $RC ${why:-}" "stderr: $(cat err)"
fi
run drug zoloft
check_json "drug lookup is case-insensitive (zoloft)" out "d['id'] == 'drug.sertraline'"
run drug drug.sertraline
check_json "drug lookup by KB id" out "d['id'] == 'drug.sertraline'"
run drug sertralinne
check_error "drug sertralinne exits 65 with a suggestion" 65 \
  'refract: error: DRUG: unknown drug "sertralinne" (did you mean "sertraline"?)'

# ---------------------------------------------------------------------------------------------
echo "# --locale, --audience, and regimen safety, PGx and what next in assess"
run assess "$EXAMPLE" --as-of "$AS_OF" --locale XX --format json
check_error "an unknown --locale is refused with the known ones" 65 'refract: error: --locale: no crisis line for locale "XX" in the KB (known: US, CA)'
run assess "$EXAMPLE" --as-of "$AS_OF" --audience patient --format json
check_error "--audience patient with --format json is refused" 65 "refract: error: --audience: --audience patient writes text or html; the JSON always carries patient_summary"
run assess "$EXAMPLE" --as-of "$AS_OF" --audience friend
check_exit "--audience outside clinician|patient exits 2" 2
run assess "$SRC/examples/older-adult-citalopram.json" --as-of "$AS_OF" --audience patient
check_true "--audience patient writes the plain-language summary with questions and the crisis line" "$(head -c 400 out)" \
  bash -c 'grep -q "Your depression care summary" out && grep -qi "question" out && grep -q "988" out && grep -qi "change any medicine on your own" out && ! grep -q "rule\." out'
run assess "$SRC/examples/older-adult-citalopram.json" --as-of "$AS_OF" --audience patient --format html
check_true "--audience patient --format html writes one HTML page with the crisis line" "$(head -c 300 out)" \
  bash -c 'grep -q "<!DOCTYPE html>" out && grep -q "class=\"crisis\"" out && ! grep -q "<script" out'
run assess "$SRC/examples/older-adult-citalopram.json" --as-of "$AS_OF" --format json
check_json "assess JSON carries interactions, regimen, pgx, drivers, options, monitoring and patient_summary" out \
  'd["interactions"] and d["regimen"]["checked"] and d["pgx"]["genes"] and d["drivers"] and d["options"] and d["monitoring"] is not None and d["patient_summary"]["crisis_line"]'
run assess "$SRC/examples/older-adult-citalopram.json" --as-of "$AS_OF" --format text
check_true "the clinician text has REGIMEN SAFETY, PHARMACOGENOMICS and WHAT NEXT sections" "$(grep -c . out) lines" \
  bash -c 'grep -q "^REGIMEN SAFETY" out && grep -q "^PHARMACOGENOMICS" out && grep -q "^WHAT NEXT" out'

# ---------------------------------------------------------------------------------------------
echo "# every golden case, through the command line (one batch per as_of and criteria)"
mkdir golden-in
declare -A GROUP_FILES=()
GOLDEN_PAIRS=()
case_inputs=()
for case_in in "$SRC"/tests/cases/*/*.in.json; do
  [ "$(basename "$(dirname "$case_in")")" == "errors" ] || grep -q '"expect_error"' "$case_in" || case_inputs+=("$case_in")
done
while IFS='|' read -r slug case_as_of case_criteria case_sections golden; do
  key="$case_as_of|${case_criteria:-criteria.atrq}|$case_sections"
  GROUP_FILES[$key]="${GROUP_FILES[$key]:-} golden-in/$slug.json"
  GOLDEN_PAIRS+=("$slug=$golden")
done < <(jt cases golden-in "${case_inputs[@]}")
for key in $(printf '%s\n' "${!GROUP_FILES[@]}" | sort); do
  # shellcheck disable=SC2086 # the file list is split on purpose
  IFS='|' read -r batch_as_of batch_criteria batch_sections <<<"$key"
  batch_flags=()
  [ "$batch_sections" == "full" ] || batch_flags=(--without-next-steps)
  run assess ${GROUP_FILES[$key]} --as-of "$batch_as_of" --criteria "$batch_criteria" "${batch_flags[@]}" --format json --out-dir golden-out
  if [ "$RC" -ne 0 ]; then
    fail "golden batch as_of $batch_as_of criteria $batch_criteria ($batch_sections) exits 0" "exit $RC" "stderr: $(head -c 600 err)"
  fi
done
while IFS=$'\t' read -r verdict slug detail; do
  name="golden case ${slug/--//} via the CLI matches its .out.json"
  if [ "$verdict" == "PASS" ]; then pass "$name"; else fail "$name" "$detail"; fi
done < <(jt goldens golden-out "${GOLDEN_PAIRS[@]}")

# ---------------------------------------------------------------------------------------------
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
