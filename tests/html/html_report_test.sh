#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Renders an example's HTML report in headless Chromium with every host unresolvable (proof that
# the page works offline) and checks that the Vega timeline chart was drawn, that no error text
# is shown and that the critical alert leads the page. Keeps the screenshot and the DOM as test
# artefacts in OUT_DIR.
#
# Usage: tests/html/html_report_test.sh REFRACT_BINARY SOURCE_DIR OUT_DIR
# Ends with "N passed, M failed"; without Chromium it says so and passes with 0 checks.
set -u
export LC_ALL=C
if [ "$#" -ne 3 ]; then
  echo "usage: $0 REFRACT_BINARY SOURCE_DIR OUT_DIR" >&2
  exit 2
fi
BIN=$(realpath "$1")
SRC=$(realpath "$2")
OUT=$3
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "skip: $CHROMIUM not found (install the chromium package to run the HTML report test)"
  echo "0 passed, 0 failed"
  exit 0
fi
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
PROFILE=$(mktemp -d "${TMPDIR:-/tmp}/refract-chromium.XXXXXX")
trap 'rm -rf "$PROFILE"' EXIT
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "not ok - $1"; [ $# -gt 1 ] && printf '    # %s\n' "${@:2}"; }

EXAMPLE=escitalopram-faded
HTML="$OUT/$EXAMPLE.html"
if "$BIN" assess "$SRC/examples/$EXAMPLE.json" --as-of 2026-11-22 --format html --out "$HTML" 2>"$OUT/assess.err"; then
  pass "refract assess --format html writes $EXAMPLE.html"
else
  fail "refract assess --format html writes $EXAMPLE.html" "$(cat "$OUT/assess.err")"
fi

# One self-contained file: no external scripts, styles or images.
if grep -Eq '(src|href)="(https?:)?//' "$HTML"; then
  fail "the report references no external resource" "$(grep -Eo '(src|href)="(https?:)?//[^"]*' "$HTML" | head -3)"
else
  pass "the report references no external resource"
fi

chromium() {
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$PROFILE" --host-resolver-rules="MAP * ~NOTFOUND" \
    --virtual-time-budget=15000 "$@" "file://$HTML" 2>>"$OUT/chromium.log"
}

chromium --dump-dom >"$OUT/$EXAMPLE.dom.html"
DOM="$OUT/$EXAMPLE.dom.html"
if python3 - "$DOM" <<'PY'
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
chart = dom.find('id="timeline-chart"')
assert chart >= 0, "no chart container"
tail = dom[chart:chart + 400000]
assert re.search(r'<svg[^>]*class="marks"', tail), "no Vega <svg class=\"marks\"> in the chart container"
visible = re.sub(r"<script.*?</script>", "", dom, flags=re.S)
assert "could not be drawn" not in visible, "the page shows a chart error"
# The score panel and the treatments panel were both drawn, with the drug names as axis labels.
assert "PHQ-9 totals" in tail and "Treatments" in tail, "a chart panel is missing"
assert "escitalopram" in tail and "duloxetine" in tail, "treatment rows are missing"
PY
then
  pass "the Vega chart rendered as SVG with both panels and no error text"
else
  fail "the Vega chart rendered as SVG with both panels and no error text" "see $DOM"
fi
if python3 - "$DOM" <<'PY'
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
first = re.search(r'<div class="alert ([a-z]+)"[^>]*>(.*?)</div>', dom, re.S)
assert first and first.group(1) == "critical" and "SUICIDE RISK" in first.group(2) and "988" in first.group(2)
assert dom.find('class="alert critical"') < dom.find("Treatment-resistant depression") < dom.find("Timeline")
PY
then
  pass "the critical suicide alert leads the page, before TRD status and the chart"
else
  fail "the critical suicide alert leads the page, before TRD status and the chart"
fi

chromium --window-size=1280,2400 --hide-scrollbars --screenshot="$OUT/$EXAMPLE.png" >/dev/null
if [ -s "$OUT/$EXAMPLE.png" ] && [ "$(head -c 8 "$OUT/$EXAMPLE.png" | od -An -tx1 | tr -d ' \n')" == "89504e470d0a1a0a" ]; then
  pass "screenshot kept at $OUT/$EXAMPLE.png"
else
  fail "screenshot kept at $OUT/$EXAMPLE.png" "$(tail -3 "$OUT/chromium.log")"
fi
chromium --print-to-pdf="$OUT/$EXAMPLE.pdf" --no-pdf-header-footer >/dev/null
if [ -s "$OUT/$EXAMPLE.pdf" ] && [ "$(head -c 4 "$OUT/$EXAMPLE.pdf")" == "%PDF" ]; then
  pass "prints to PDF ($OUT/$EXAMPLE.pdf)"
else
  fail "prints to PDF ($OUT/$EXAMPLE.pdf)"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
