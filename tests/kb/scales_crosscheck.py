#!/usr/bin/env python3
"""Cross-check refract's rating scales (kb/scales) against the independent reference
../shared/reference/mbc/scales.yaml (and, for STOP-Bang, which that file lacks,
clinical/06_pseudoresistance_screening_monitoring.md).

Usage:  python3 tests/kb/scales_crosscheck.py KB_DIR REFERENCE_DIR

Compares, per scale: item count, item ranges, total range, severity bands, screening cut-offs,
remission thresholds, safety items and LOINC panel/total codes. Every disagreement is printed;
it passes only when EXPLAINED below lists it with a reason (a deliberate KB decision recorded in the
scale's notes or kb/DEVIATIONS.md). Reference values marked "unverified" are compared all the same.

Exit 0 when every disagreement is explained; the last line is "N passed, M failed". Without
REFERENCE_DIR the script says so and exits 0 with "0 passed, 0 failed" (the product never needs it).
"""
import json
import os
import re
import sys

# (scale, field) -> reason. Keep reasons short and specific.
EXPLAINED = {
    ("madrs", "remission"): "KB uses Hawley 2002 (MADRS below 10, i.e. 9 or less), verified in its abstract; the reference's 10 is marked as an unconfirmed refract choice",
    ("madrs", "safety"): "KB raises the critical alert from 2 (the anchor for fleeting suicidal thoughts) and a warning at 1; the reference's '> 0' is a convention",
    ("cssrs_screener", "item_count"): "KB records the 'within the past 3 months' follow-up to question 6 as its own item 6a (7 items)",
    ("mdq", "item_count"): "KB records part 1 (13 items), the 'same time' question (14) and the problem rating (15) as 15 items",
    ("pc_ptsd5", "item_count"): "KB records the trauma-exposure gate as item A before the 5 symptom items",
}

NUM = re.compile(r"-?\d+")


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, scale, field, kb_value, ref_value):
        if kb_value == ref_value:
            self.passed += 1
            print(f"ok        {scale}.{field}: {kb_value}")
            return
        reason = EXPLAINED.get((scale, field))
        line = f"{scale}.{field}: KB {kb_value!r} vs reference {ref_value!r}"
        if reason:
            self.passed += 1
            print(f"EXPLAINED {line} -- {reason}")
        else:
            self.failed += 1
            print(f"FAIL      {line}")


def first_int(text):
    match = NUM.search(str(text))
    return int(match.group()) if match else None


def code_of(text):
    match = re.match(r"\s*(\d{1,7}-\d)", str(text or ""))
    return match.group(1) if match else None


def kb_scale(kb_dir, name):
    with open(os.path.join(kb_dir, "scales", name + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


# Bands are compared by their bounds; label wording ("normal" vs "normal/absent") is not a clinical difference.
def kb_bands(scale):
    return [(band["min"], band["max"]) for band in scale.get("bands", [])]


def ref_bands(entry):
    return [(band["min"], band["max"]) for band in entry]


def total_cutoff(condition):
    """The at_least of a screen written as {"total": true, "at_least": N}, or inside an "all"."""
    if condition.get("total"):
        return condition.get("at_least")
    for child in condition.get("all", []):
        if child.get("total"):
            return child.get("at_least")
    return None


def main():
    if len(sys.argv) != 3:
        print("usage: scales_crosscheck.py KB_DIR REFERENCE_DIR", file=sys.stderr)
        return 2
    kb_dir, ref_dir = sys.argv[1], sys.argv[2]
    yaml_path = os.path.join(ref_dir, "mbc", "scales.yaml")
    if not os.path.exists(yaml_path):
        print(f"skip: {yaml_path} not found (the shared reference pack is not part of the product)")
        print("0 passed, 0 failed")
        return 0
    try:
        import yaml  # PyYAML (Debian python3-yaml)
    except ImportError:
        print("FAIL      PyYAML is not installed (scripts/install-deps.sh installs python3-yaml)")
        print("0 passed, 1 failed")
        return 1
    with open(yaml_path, encoding="utf-8") as handle:
        ref = yaml.safe_load(handle)["scales"]
    tally = Tally()

    # Item counts and ranges.
    counts = {"phq9": 9, "gad7": None, "qids_sr16": 16, "hamd17": 17, "madrs": 10, "cssrs_screener": 6, "mdq": 13, "pc_ptsd5": 5,
              "asrs_a": 6, "audit_c": 3}
    ref_key = {"asrs_a": "asrs_v11_part_a"}
    for name, ref_count in counts.items():
        scale = kb_scale(kb_dir, name)
        entry = ref[ref_key.get(name, name)]
        items = scale["items"]
        scored = [item for item in items if item.get("scored", True)]
        if name == "phq9":
            tally.check(name, "item_count", len(scored), len(entry["items"]))
        elif name == "gad7":
            pass
        elif name == "mdq":
            tally.check(name, "item_count", len(items), ref_count)
        elif name in ("cssrs_screener", "pc_ptsd5"):
            tally.check(name, "item_count", len(items), ref_count)
        else:
            tally.check(name, "item_count", len(items), ref_count)
        if "item_range" in entry:
            ranges = sorted({(item["min"], item["max"]) for item in scored})
            tally.check(name, "item_range", ranges, [tuple(entry["item_range"])])
        if name == "hamd17":
            tally.check(name, "item_ranges", [(item["min"], item["max"]) for item in items], [tuple(item["range"]) for item in entry["items"]])
        if name == "phq9":
            tally.check(name, "item_loinc", [item.get("loinc") for item in scored], [item["loinc"] for item in entry["items"]])
        if "total_range" in entry:
            tally.check(name, "total_range", scale.get("total_range"), entry["total_range"])
        if name == "qids_sr16":
            kb_domains = [[int(label) for label in domain["items"]] for domain in scale["scoring"]["domains"]]
            tally.check(name, "domains", kb_domains, [domain["items"] for domain in entry["domains"]])
        if name == "asrs_a":
            thresholds = [item["positive_from"] for item in items]
            answers = entry["answers"]
            ref_thresholds = [answers.index("sometimes")] * 3 + [answers.index("often")] * 3
            tally.check(name, "item_thresholds", thresholds, ref_thresholds)

    # Bands.
    for name in ("phq9", "gad7", "qids_sr16", "madrs"):
        tally.check(name, "bands", kb_bands(kb_scale(kb_dir, name)), ref_bands(ref[name]["bands"]))
    tally.check("hamd17", "bands", kb_bands(kb_scale(kb_dir, "hamd17")), ref_bands(ref["hamd17"]["band_sets"]["zimmerman_2013"]))

    # Screening cut-offs.
    tally.check("phq9", "screen", total_cutoff(kb_scale(kb_dir, "phq9")["screen"]["positive_if"]), first_int(ref["phq9"]["screening_cutoff"]["rule"]))
    tally.check("gad7", "screen", total_cutoff(kb_scale(kb_dir, "gad7")["screen"]["positive_if"]), first_int(ref["gad7"]["screening_cutoff"]["rule"]))
    tally.check("pc_ptsd5", "screen", total_cutoff(kb_scale(kb_dir, "pc_ptsd5")["screen"]["positive_if"]), ref["pc_ptsd5"]["cutoff"]["default"])
    tally.check("asrs_a", "screen", total_cutoff(kb_scale(kb_dir, "asrs_a")["screen"]["positive_if"]),
                first_int(ref["asrs_v11_part_a"]["positive_screen"]))
    by_sex = kb_scale(kb_dir, "audit_c")["screen"]["by_sex"]
    tally.check("audit_c", "screen_female", total_cutoff(by_sex["female"]), first_int(ref["audit_c"]["positive_screen"]["female"]))
    tally.check("audit_c", "screen_male", total_cutoff(by_sex["male"]), first_int(ref["audit_c"]["positive_screen"]["male"]))
    tally.check("audit_c", "screen_sex_unknown", by_sex["when_unknown"], "female" if "female" in ref["audit_c"]["positive_screen"]["sex_source"] else "?")
    mdq = kb_scale(kb_dir, "mdq")["screen"]["positive_if"]["all"]
    tally.check("mdq", "screen", [total_cutoff({"all": mdq}), mdq[1]["at_least"], mdq[2]["at_least"]],
                [int(re.search(r">=\s*(\d+)", ref["mdq"]["positive_screen"]).group(1)), 1,
                 ref["mdq"]["parts"]["q3_impairment"]["answers"].index("moderate problem")])

    # Remission thresholds (at or below).
    def remission_ref(entry):
        text = entry["remission"].get("rule") or entry["remission"].get("default")
        value = first_int(text)
        return value - 1 if str(text).strip().startswith("<") and not str(text).strip().startswith("<=") else value
    for name in ("phq9", "qids_sr16", "hamd17"):
        tally.check(name, "remission", kb_scale(kb_dir, name)["remission"]["max_total"], remission_ref(ref[name]))
    tally.check("madrs", "remission", kb_scale(kb_dir, "madrs")["remission"]["max_total"], ref["madrs"]["remission"]["default"])

    # Safety items: the item and the lowest value that raises the critical alert.
    def critical(scale):
        for item in scale.get("safety_items", []):
            if item["severity"] == "critical" and "item" in item["positive_if"]:
                return (item["positive_if"]["item"], item["positive_if"]["at_least"])
        return None
    for name in ("phq9", "qids_sr16", "hamd17", "madrs"):
        rule = ref[name]["safety_items"][0]
        low = first_int(rule["rule"]) + (1 if rule["rule"].strip().startswith(">") and not rule["rule"].strip().startswith(">=") else 0)
        tally.check(name, "safety", critical(kb_scale(kb_dir, name)), (str(rule["item"]), low))

    # LOINC codes.
    for name in ("phq9", "gad7", "audit_c"):
        loinc = kb_scale(kb_dir, name).get("loinc", {})
        tally.check(name, "loinc_panel", loinc.get("panel"), code_of(ref[name]["loinc"]["panel"]))
        tally.check(name, "loinc_total", loinc.get("total"), code_of(ref[name]["loinc"]["total"]))

    # STOP-Bang: not in scales.yaml; its bands are in the clinical screening notes.
    notes = os.path.join(ref_dir, "clinical", "06_pseudoresistance_screening_monitoring.md")
    if os.path.exists(notes):
        with open(notes, encoding="utf-8") as handle:
            text = handle.read()
        match = re.search(r"(\d+)-(\d+) low, (\d+)-(\d+) intermediate, (\d+)-(\d+) high", text)
        ref_bands_sb = [(int(match.group(1)), int(match.group(2))), (int(match.group(3)), int(match.group(4))), (int(match.group(5)), int(match.group(6)))] if match else None
        tally.check("stop_bang", "bands", kb_bands(kb_scale(kb_dir, "stop_bang")), ref_bands_sb)
        cutoff = re.search(r"STOP-Bang ≥(\d+)", text)
        tally.check("stop_bang", "screen", total_cutoff(kb_scale(kb_dir, "stop_bang")["screen"]["positive_if"]), int(cutoff.group(1)) if cutoff else None)

    print(f"{tally.passed} passed, {tally.failed} failed")
    return 0 if tally.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
