#!/usr/bin/env python3
"""Cross-check the refract drug catalogue against independent reference material.

Usage:  python3 tests/kb/reference_crosscheck.py KB_DIR REFERENCE_DIR

Checks (each counted once):
  * integrity of every kb/drugs file: id matches the file name, the class file exists,
    every source id used exists in kb/sources.json, components exist, deviation ids are
    listed in kb/DEVIATIONS.md, names do not collide between drugs;
    integrity of every kb/classes file: id matches the file name, sources exist;
  * (a) MGH-ATRQ minimum dose and usual maximum dose against the drug table in
        REFERENCE_DIR/clinical/01_trial_adequacy_and_drugs.md (matched by generic name);
  * (b) RxNorm codes against REFERENCE_DIR/omop/concepts.csv (rows with vocabulary
        'RxNorm' and a non-empty code);
  * (c) the concept_id of every kb/omop concept-set entry whose (vocabulary, code) the same file
        lists with a concept_id (and no KB entry may carry the reference's id of another code);
        reference concepts no KB set uses are listed for information.
Every disagreement (drug, field, KB value, reference value) and every reference drug the KB
lacks is printed. A disagreement passes only when it is listed, with a reason, in
tests/kb/reference_disagreements.json. Integrity failures can never be explained away.

Exit status 0 when every disagreement is explained, 1 otherwise. The last line is
"N passed, M failed". If REFERENCE_DIR does not exist the script says so and exits 0 with
"0 passed, 0 failed" (the product must not depend on the shared reference pack).
Standard library only.
"""
import csv
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXPLANATIONS = os.path.join(HERE, "reference_disagreements.json")
DRUG_TABLE = os.path.join("clinical", "01_trial_adequacy_and_drugs.md")
CONCEPTS = os.path.join("omop", "concepts.csv")

NUM_RE = re.compile(r"\d+(?:\.\d+)?")


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, msg=None):
        self.passed += 1
        if msg:
            print("ok        " + msg)

    def fail(self, msg):
        self.failed += 1
        print("FAIL      " + msg)


def norm_name(s):
    s = s.lower()
    s = re.sub(r"\([^)]*\)", " ", s)          # drop parenthetical qualifiers: "Venlafaxine (XR)"
    s = s.replace("*", " ").replace("_", " ").replace("-", " ")
    return re.sub(r"\s+", " ", s).strip()


def norm_value(v):
    """Comparable form of a KB or reference value."""
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip()
    if s.lower() in ("", "null", "none", "absent"):
        return None
    try:
        return float(s)
    except ValueError:
        return s.lower()


def same(a, b):
    a, b = norm_value(a), norm_value(b)
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-9
    return a == b


def fmt(v):
    if v is None:
        return "absent"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def first_number(cell):
    m = NUM_RE.search(cell or "")
    return float(m.group(0)) if m else None


# ---------------------------------------------------------------- KB loading / integrity

def load_json(path, t, label):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        t.fail(f"{label}: cannot read JSON: {e}")
        return None


def source_refs(obj):
    """All source ids used anywhere in a drug or class object."""
    out = []
    def walk(x, key=None):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, k)
        elif isinstance(x, list):
            for v in x:
                walk(v, key)
        elif isinstance(x, str) and key in ("sources", "against") and x.startswith("source."):
            out.append(x)
    walk(obj)
    return out


def load_kb(kb_dir, t):
    drugs, classes = {}, {}
    sources_doc = load_json(os.path.join(kb_dir, "sources.json"), t, "kb/sources.json")
    source_ids = set()
    if sources_doc is not None:
        ids = [s.get("id") for s in sources_doc.get("sources", [])]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            t.fail(f"kb/sources.json: duplicate source ids {dup}")
        else:
            t.ok()
        source_ids = set(ids)
    dev_ids = set()
    dev_path = os.path.join(kb_dir, "DEVIATIONS.md")
    if os.path.exists(dev_path):
        with open(dev_path, encoding="utf-8") as f:
            for line in f:
                if line.lstrip().startswith("#"):
                    dev_ids.update(re.findall(r"dev\.\d{4}", line))

    cdir = os.path.join(kb_dir, "classes")
    for fn in sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []:
        if not fn.endswith(".json"):
            continue
        c = load_json(os.path.join(cdir, fn), t, f"classes/{fn}")
        if c is None:
            continue
        want = "class." + fn[:-5]
        if c.get("id") != want:
            t.fail(f"classes/{fn}: id {c.get('id')!r} does not match file name (expected {want!r})")
        else:
            t.ok()
        missing = [s for s in source_refs(c) if s not in source_ids]
        if missing:
            t.fail(f"classes/{fn}: unknown source ids {missing}")
        else:
            t.ok()
        classes[c.get("id")] = c

    ddir = os.path.join(kb_dir, "drugs")
    for fn in sorted(os.listdir(ddir)) if os.path.isdir(ddir) else []:
        if not fn.endswith(".json"):
            continue
        d = load_json(os.path.join(ddir, fn), t, f"drugs/{fn}")
        if d is None:
            continue
        want = "drug." + fn[:-5]
        if d.get("id") != want:
            t.fail(f"drugs/{fn}: id {d.get('id')!r} does not match file name (expected {want!r})")
        else:
            t.ok()
        drugs[d.get("id")] = d

    for did, d in sorted(drugs.items()):
        cls = d.get("class", "")
        cpath = os.path.join(cdir, cls[len("class."):] + ".json") if cls.startswith("class.") else None
        if not cpath or not os.path.exists(cpath) or cls not in classes:
            t.fail(f"{did}: class {cls!r} has no file in kb/classes")
        else:
            t.ok()
        missing = sorted(set(s for s in source_refs(d) if s not in source_ids))
        if missing:
            t.fail(f"{did}: unknown source ids {missing}")
        else:
            t.ok()
        bad_comp = [c for c in d.get("components", []) if c not in drugs]
        if bad_comp:
            t.fail(f"{did}: components not in the KB {bad_comp}")
        elif d.get("components"):
            t.ok()
        devs = [d.get("deviation")] + [(d.get("adequacy") or {}).get("deviation")]
        for dv in [x for x in devs if x]:
            if dv not in dev_ids:
                t.fail(f"{did}: deviation {dv} is not a heading in kb/DEVIATIONS.md")
            else:
                t.ok()
    for cid, c in sorted(classes.items()):
        dv = c.get("deviation")
        if dv:
            if dv not in dev_ids:
                t.fail(f"{cid}: deviation {dv} is not a heading in kb/DEVIATIONS.md")
            else:
                t.ok()
    return drugs, classes


def build_name_index(drugs, t):
    """Generic names (INN, synonyms, id) -> drug id; also checks for collisions."""
    index, owners = {}, {}
    for did, d in sorted(drugs.items()):
        names = d.get("names", {})
        generic = [names.get("inn", ""), did[len("drug."):]] + list(names.get("synonyms", []))
        for n in generic:
            k = norm_name(n)
            if not k:
                continue
            owners.setdefault(k, set()).add(did)
    collisions = {k: v for k, v in owners.items() if len(v) > 1}
    if collisions:
        for k, v in sorted(collisions.items()):
            t.fail(f"name collision: {k!r} is a generic name of {sorted(v)}")
    else:
        t.ok()
    for k, v in owners.items():
        if len(v) == 1:
            index[k] = next(iter(v))
    # a misspelling or brand must not be another drug's generic name
    clash = []
    for did, d in sorted(drugs.items()):
        names = d.get("names", {})
        for n in list(names.get("misspellings", [])) + list(names.get("brands", [])):
            k = norm_name(n)
            other = owners.get(k, set()) - {did}
            if other:
                clash.append((did, n, sorted(other)))
    if clash:
        for did, n, other in clash:
            t.fail(f"{did}: brand/misspelling {n!r} is a generic name of {other}")
    else:
        t.ok()
    return index


# ---------------------------------------------------------------- reference parsing

def parse_drug_table(path):
    """Rows of the Markdown drug table: dicts keyed by header text."""
    rows, header = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if not s.startswith("|"):
                if header is not None and rows:
                    break          # end of the table that follows the header
                continue
            cells = [c.strip() for c in s.strip("|").split("|")]
            if header is None:
                low = [c.lower() for c in cells]
                if "drug" in low and any("atrq" in c for c in low) and any("max" in c for c in low):
                    header = cells
                continue
            if all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):
                continue
            if len(cells) < len(header):
                cells += [""] * (len(header) - len(cells))
            rows.append(dict(zip(header, cells)))
    if header is None:
        raise ValueError("drug table header (Drug | ... | ATRQ min | ... max) not found")
    return header, rows


def column(header, *needles):
    for h in header:
        hl = h.lower()
        if all(n in hl for n in needles):
            return h
    raise ValueError(f"no column containing {needles} in {header}")


# ---------------------------------------------------------------- explanations

def load_explanations(t):
    if not os.path.exists(EXPLANATIONS):
        print(f"note: {EXPLANATIONS} not found; no disagreement is explained")
        return []
    data = load_json(EXPLANATIONS, t, "tests/kb/reference_disagreements.json")
    if not isinstance(data, list):
        t.fail("reference_disagreements.json must be a JSON list")
        return []
    good = []
    for i, e in enumerate(data):
        if not isinstance(e, dict) or not all(k in e for k in ("drug", "field", "kb", "reference", "reason")) \
                or not str(e.get("reason", "")).strip():
            t.fail(f"reference_disagreements.json entry {i} lacks drug/field/kb/reference/reason")
            continue
        good.append(e)
    return good


def judge(t, explanations, used, drug, field, kb, ref, context=""):
    """Record one comparison. Agreement passes; disagreement passes only if explained."""
    if same(kb, ref):
        t.ok(f"{drug:34s} {field:26s} kb={fmt(kb)} ref={fmt(ref)}")
        return
    for i, e in enumerate(explanations):
        if norm_name(e["drug"]) == norm_name(drug) and e["field"] == field \
                and same(e["kb"], kb) and same(e["reference"], ref):
            used.add(i)
            t.ok()
            print(f"EXPLAINED {drug:34s} {field:26s} kb={fmt(kb)} ref={fmt(ref)}  reason: {e['reason']}")
            return
    t.fail(f"DISAGREE  {drug:34s} {field:26s} kb={fmt(kb)} ref={fmt(ref)}{('  [' + context + ']') if context else ''}")


# ---------------------------------------------------------------- main

def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2])
        print("0 passed, 1 failed")
        return 1
    kb_dir, ref_dir = argv[1], argv[2]
    if not os.path.isdir(ref_dir):
        print(f"reference directory {ref_dir!r} does not exist: reference cross-check skipped "
              f"(the shared reference pack is only available in CI / development)")
        print("0 passed, 0 failed")
        return 0

    t = Tally()
    print(f"== KB integrity ({kb_dir})")
    drugs, _classes = load_kb(kb_dir, t)
    index = build_name_index(drugs, t)
    explanations = load_explanations(t)
    used = set()

    # (a) drug table: ATRQ minimum and usual maximum
    path = os.path.join(ref_dir, DRUG_TABLE)
    print(f"== (a) drug table {path}")
    try:
        header, rows = parse_drug_table(path)
        c_drug = column(header, "drug")
        c_min = column(header, "atrq")
        c_max = column(header, "max")
    except (OSError, ValueError) as e:
        t.fail(f"cannot parse drug table: {e}")
        rows = []
    for r in rows:
        ref_name = r[c_drug]
        did = index.get(norm_name(ref_name))
        if did is None:
            judge(t, explanations, used, norm_name(ref_name), "presence", None, "present",
                  "reference drug table lists it; KB lacks it")
            continue
        d = drugs[did]
        kb_min = (d.get("adequacy") or {}).get("min_dose_mg_per_day")
        kb_max = (d.get("max_dose_mg_per_day") or {}).get("value")
        judge(t, explanations, used, did, "atrq_min_dose_mg_per_day", kb_min, first_number(r[c_min]),
              "reference cell: " + r[c_min])
        judge(t, explanations, used, did, "max_dose_mg_per_day", kb_max, first_number(r[c_max]),
              "reference cell: " + r[c_max])

    # (b) OMOP concepts: RxNorm codes
    path = os.path.join(ref_dir, CONCEPTS)
    print(f"== (b) RxNorm codes {path}")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            crow = [row for row in csv.DictReader(f)
                    if (row.get("vocabulary") or "").strip() == "RxNorm" and (row.get("code") or "").strip()]
    except OSError as e:
        t.fail(f"cannot read concepts file: {e}")
        crow = []
    seen = set()
    for row in crow:
        name = (row.get("name") or "").strip()
        code = row["code"].strip()
        key = (norm_name(name), code)
        if key in seen:
            continue
        seen.add(key)
        did = index.get(norm_name(name))
        if did is None:
            judge(t, explanations, used, norm_name(name), "presence", None, "present",
                  f"reference RxNorm {code}, role {row.get('role', '')}")
            continue
        judge(t, explanations, used, did, "rxnorm", (drugs[did].get("codes") or {}).get("rxnorm"), code,
              f"reference evidence {row.get('evidence', '')}")

    # (c) OMOP concept sets: concept ids by (vocabulary, code)
    print(f"== (c) OMOP concept ids {path}")
    reference = {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                code, concept_id = (row.get("code") or "").strip(), (row.get("concept_id") or "").strip()
                if code and concept_id:
                    reference[((row.get("vocabulary") or "").strip(), code)] = (int(concept_id), (row.get("name") or "").strip())
    except (OSError, ValueError) as e:
        t.fail(f"cannot read concepts file: {e}")
    code_of_id = {concept_id: key for key, (concept_id, _name) in reference.items()}
    used_keys = set()
    for set_path in sorted(glob.glob(os.path.join(kb_dir, "omop", "*.json"))):
        with open(set_path, encoding="utf-8") as f:
            concept_set = json.load(f)
        for entry_idx, entry in enumerate(concept_set.get("entries", [])):
            key = (entry.get("vocabulary"), entry.get("code"))
            where = f"{os.path.relpath(set_path, kb_dir)}#/entries/{entry_idx} {key[0]} {key[1]} ({entry.get('name', '')})"
            used_keys.add(key)
            if key in reference:
                ref_id, ref_name = reference[key]
                if entry.get("concept_id") == ref_id:
                    t.ok(f"{where}: concept_id {ref_id}")
                else:
                    t.fail(f"{where}: KB concept_id {entry.get('concept_id')}, reference {ref_id} ({ref_name})")
            elif entry.get("concept_id") in code_of_id:
                other = code_of_id[entry["concept_id"]]
                t.fail(f"{where}: KB concept_id {entry['concept_id']} is the reference's id of {other[0]} {other[1]}")
    for key, (concept_id, name) in sorted(reference.items()):
        if key not in used_keys:
            print(f"info      reference concept {key[0]} {key[1]} ({name}, {concept_id}) is in no KB concept set")

    for i, e in enumerate(explanations):
        if i not in used:
            print(f"warning: unused explanation in reference_disagreements.json: "
                  f"{e['drug']} {e['field']} kb={e['kb']} reference={e['reference']}")

    print(f"{t.passed} passed, {t.failed} failed")
    return 0 if t.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
