#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Cross-checks refract's pharmacogenomic KB (kb/pgx) against an independent oracle.

The oracle is ../shared/reference/pgx (CPIC tables as packaged by another project; never shipped,
never read at run time). Four checks, row by row:

  1. allele functions      allele_functions.tsv        vs kb/pgx/genes/*.json
  2. diplotype phenotypes  diplotype_phenotypes.tsv    vs phenotypes computed from the KB's rules
  3. allele definitions    allele_definitions_grch38.tsv vs kb/pgx/definitions/*.json
  4. recommendations       cpic_antidepressant_recommendations.tsv vs kb/pgx/guidance/*.json:
     the CPIC strength must be equal, and the actions the texts name must agree (avoid,
     alternative, standard start, lower dose, slower titration, higher dose, therapeutic drug
     monitoring, no recommendation, and every percentage), because refract words the text itself.

Every disagreement is printed. Those listed in pgx_oracle_explained.json (with a reason) are
accepted; any other one, or an explanation that matches nothing, fails the test.

Usage: pgx_oracle.py KB_DIR REFERENCE_DIR   (REFERENCE_DIR = ../shared/reference)
Exits 0 with a "skipped" line when the reference directory is absent.
"""
import csv
import glob
import json
import os
import re
import sys

PHENOTYPE_KEYS = {
    "Ultrarapid Metabolizer": "ultrarapid", "Rapid Metabolizer": "rapid", "Normal Metabolizer": "normal",
    "Likely Intermediate Metabolizer": "likely_intermediate", "Intermediate Metabolizer": "intermediate",
    "Likely Poor Metabolizer": "likely_poor", "Poor Metabolizer": "poor", "Indeterminate": "indeterminate",
}
FUNCTION_KEYS = {
    "Increased function": "increased", "Normal function": "normal", "Decreased function": "decreased",
    "No function": "no", "Uncertain function": "uncertain", "Unknown function": "unknown",
}
STRENGTH_KEYS = {"Strong": "strong", "Moderate": "moderate", "Optional": "optional", "No recommendation": "no_recommendation"}


def load_kb(kb_dir):
    def kind(k):
        out = {}
        for path in sorted(glob.glob(os.path.join(kb_dir, "pgx", "**", "*.json"), recursive=True)):
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            if data.get("kind") == k:
                out[path] = data
        return out
    genes = {d["gene"]: d for d in kind("pgx_gene").values()}
    definitions = {d["gene"]: d for d in kind("pgx_allele_definition").values()}
    guidance = {d["drug"].split(".", 1)[1]: d for d in kind("pgx_guidance").values()}
    return genes, definitions, guidance


def read_tsv(path):
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


# ---------------------------------------------------------------------------------------------
# Phenotype rules, evaluated from the KB data (the same rules the C++ engine reads)
# ---------------------------------------------------------------------------------------------

def phenotype_of_score(gene, score):
    for b in gene["activity_score"]["bins"]:
        if "max_inclusive" in b and score > b["max_inclusive"]:
            continue
        if "max_exclusive" in b and score >= b["max_exclusive"]:
            continue
        return b["phenotype"]
    return "indeterminate"


def phenotype_of_functions(gene, first, second):
    rules = gene["function_pairs"]
    for pair in rules["pairs"]:
        if sorted(pair["functions"]) == sorted([first, second]):
            return pair["phenotype"]
    return rules["otherwise"]


COPY = re.compile(r"^(\*\d+)(?:x(≥)?(\d+))?$")


def interpret(gene, diplotype):
    """(phenotype, score text or None) for a CPIC-style diplotype such as *1/*1x≥3."""
    alleles = {a["name"]: a for a in gene["alleles"]}
    sides = diplotype.split("/")
    if gene["method"] == "function_pair":
        functions = []
        for side in sides:
            allele = alleles.get(side)
            if allele is None:
                return "indeterminate", None
            functions.append(allele["function"])
        return phenotype_of_functions(gene, *functions), None
    total, open_end = 0.0, False
    for side in sides:
        match = COPY.match(side)
        allele = alleles.get(match.group(1)) if match else None
        if allele is None or "activity_value" not in allele:
            return "indeterminate", "n/a"
        copies = int(match.group(3)) if match.group(3) else 1
        total += allele["activity_value"] * copies
        open_end = open_end or (match.group(2) is not None and allele["activity_value"] > 0)
    low = phenotype_of_score(gene, total)
    if open_end and low != gene["activity_score"]["bins"][-1]["phenotype"]:
        return "indeterminate", None
    return low, ("≥" if open_end else "") + format_score(total)


def format_score(value):
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def cpic_score_text(text):
    return text if text in (".", "n/a") else ("≥" if text.startswith("≥") else "") + format_score(float(text.lstrip("≥")))


# ---------------------------------------------------------------------------------------------
# Recommendation lookup from the KB rules
# ---------------------------------------------------------------------------------------------

def basis_from_key(gene_name, key, genes):
    """(phenotype or None for not tested, score range or None) from an oracle lookup key."""
    if key == "No Result":
        return None, None
    if gene_name != "CYP2D6":
        return PHENOTYPE_KEYS[key], None
    if key == "n/a":
        return "indeterminate", None
    gene = genes["CYP2D6"]
    if key.startswith("≥"):
        low = float(key[1:])
        return phenotype_of_score(gene, low), (low, float("inf"))
    score = float(key)
    return phenotype_of_score(gene, score), (score, score)


def matching_rules(guidance, basis):
    out = []
    for rule in guidance["rules"]:
        ok = True
        for gene_name, condition in rule["when"].items():
            phenotype, score = basis[gene_name]
            allowed = condition["phenotypes"]
            if phenotype is None:
                ok = ok and "not_tested" in allowed
                continue
            ok = ok and phenotype in allowed
            if score and ("activity_score_min" in condition or "activity_score_below" in condition):
                low = condition.get("activity_score_min", 0)
                below = condition.get("activity_score_below", float("inf"))
                ok = ok and not (score[1] < low or score[0] >= below)
        if ok:
            out.append(rule)
    return out


FACETS = {
    "avoid": re.compile(r"\bavoid\b"),
    "alternative": re.compile(r"\balternative\b|not (?:predominantly |primarily )?metabolized"),
    "standard": re.compile(r"initiate therapy (?:with|at) (?:recommended|standard) starting dose|start at the usual (?:recommended |starting )?dose"),
    "lower": re.compile(r"\blower\b"),
    "slower": re.compile(r"slower titration|more slowly"),
    "higher": re.compile(r"higher (?:target |maintenance )?dose|50% or more"),
    "tdm": re.compile(r"therapeutic (?:drug )?monitoring"),
    "none": re.compile(r"^no (?:recommendation|action)"),
}


def facets(text):
    main = re.split(r"other considerations", text, flags=re.I)[0].strip().lower()
    found = {name for name, pattern in FACETS.items() if pattern.search(main)}
    found |= {"%" + p for p in re.findall(r"(\d+(?:-\d+)?)%", main)}
    if "none" in found:
        return {"none"}
    return found


# ---------------------------------------------------------------------------------------------
# Explanations
# ---------------------------------------------------------------------------------------------

class Ledger:
    def __init__(self, explained):
        self.explained = explained
        self.used = [0] * len(explained)
        self.unexplained = 0
        self.accepted = 0

    def report(self, check, fields, message):
        for index, entry in enumerate(self.explained):
            if entry["check"] != check:
                continue
            when = entry.get("when", {})
            if all(self._matches(fields.get(key, ""), value) for key, value in when.items()):
                self.used[index] += 1
                self.accepted += 1
                print(f"explained   [{check}] {message}  -- {entry['reason']}")
                return
        self.unexplained += 1
        print(f"DISAGREE    [{check}] {message}")

    @staticmethod
    def _matches(actual, expected):
        if isinstance(expected, list):
            return actual in expected
        if isinstance(expected, str) and expected.endswith("*"):
            return str(actual).startswith(expected[:-1])
        return actual == expected


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    kb_dir, reference = sys.argv[1], sys.argv[2]
    oracle = os.path.join(reference, "pgx")
    if not os.path.isdir(oracle):
        print(f"skipped: {oracle} not found (the oracle is optional; the product never needs it)")
        return 0
    genes, definitions, guidance = load_kb(kb_dir)
    explained_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pgx_oracle_explained.json")
    with open(explained_path, encoding="utf-8") as handle:
        ledger = Ledger(json.load(handle)["explained"])
    counts = {}

    # 1. allele functions
    rows = read_tsv(os.path.join(oracle, "allele_functions.tsv"))
    seen = set()
    for row in rows:
        gene = genes.get(row["gene"])
        if gene is None:
            continue
        counts["allele functions"] = counts.get("allele functions", 0) + 1
        name = row["allele"]
        seen.add((row["gene"], name))
        alleles = {a["name"]: a for a in gene["alleles"]}
        match = COPY.match(name)
        base = alleles.get(match.group(1)) if match else None
        fields = {"gene": row["gene"], "allele": name}
        if base is None:
            ledger.report("allele_function", fields, f"{row['gene']}{name}: in the oracle ({row['clinical_function']}), not in the KB")
            continue
        if match.group(3) is None and FUNCTION_KEYS.get(row["clinical_function"]) != base["function"]:
            ledger.report("allele_function", fields, f"{row['gene']}{name}: oracle {row['clinical_function']}, KB {base['function']}")
        if row["activity_value"] not in (".",):
            expected = row["activity_value"]
            if "activity_value" not in base:
                actual = "n/a"
            else:
                copies = int(match.group(3)) if match.group(3) else 1
                open_end = match.group(2) is not None and base["activity_value"] > 0
                actual = ("≥" if open_end else "") + format_score(base["activity_value"] * copies)
            if cpic_score_text(expected) != actual:
                ledger.report("allele_function", fields, f"{row['gene']}{name}: oracle activity value {expected}, KB {actual}")
    for gene_name, gene in genes.items():
        for allele in gene["alleles"]:
            if (gene_name, allele["name"]) not in seen:
                ledger.report("allele_function", {"gene": gene_name, "allele": allele["name"]},
                              f"{gene_name}{allele['name']}: in the KB ({allele['function']}), not in the oracle")

    # 2. diplotype phenotypes
    for row in read_tsv(os.path.join(oracle, "diplotype_phenotypes.tsv")):
        gene = genes[row["gene"]]
        counts["diplotype phenotypes"] = counts.get("diplotype phenotypes", 0) + 1
        phenotype, score = interpret(gene, row["diplotype"])
        expected = PHENOTYPE_KEYS[row["phenotype"]]
        fields = {"gene": row["gene"], "diplotype": row["diplotype"]}
        if phenotype != expected:
            ledger.report("diplotype", fields, f"{row['gene']} {row['diplotype']}: oracle {expected}, KB rules {phenotype}")
        elif row["activity_score"] != "." and score != cpic_score_text(row["activity_score"]):
            ledger.report("diplotype", fields, f"{row['gene']} {row['diplotype']}: oracle score {row['activity_score']}, KB {score}")

    # 3. allele definitions
    oracle_defs = {}
    for row in read_tsv(os.path.join(oracle, "allele_definitions_grch38.tsv")):
        if row["gene"] not in definitions or row["is_reference"] == "true":
            continue
        oracle_defs.setdefault((row["gene"], row["allele"]), set()).add(f"{row['pos_grch38']}:{row['allele_base_iupac']}")
    for gene_name, definition in definitions.items():
        ref_positions = {p["position"]: p for p in definition["positions"]}
        for allele in definition["alleles"]:
            counts["allele definitions"] = counts.get("allele definitions", 0) + 1
            key = (gene_name, allele["name"])
            mine = set(allele["variants"])
            theirs = oracle_defs.pop(key, None)
            fields = {"gene": gene_name, "allele": allele["name"]}
            if theirs is None:
                ledger.report("definition", fields, f"{gene_name}{allele['name']}: in the KB, not in the oracle")
            elif mine != theirs:
                ledger.report("definition", fields, f"{gene_name}{allele['name']}: oracle {sorted(theirs)}, KB {sorted(mine)}")
        for (g, name), theirs in sorted(oracle_defs.items()):
            if g != gene_name:
                continue
            ledger.report("definition", {"gene": g, "allele": name}, f"{g}{name}: in the oracle ({sorted(theirs)}), not in the KB")
        for position in ref_positions.values():
            counts["definition positions"] = counts.get("definition positions", 0) + 1

    # 4. recommendations
    for row in read_tsv(os.path.join(oracle, "cpic_antidepressant_recommendations.tsv")):
        drug = row["drug"]
        counts["recommendations"] = counts.get("recommendations", 0) + 1
        fields = {"drug": drug, "CYP2D6": row["CYP2D6"], "CYP2C19": row["CYP2C19"], "CYP2B6": row["CYP2B6"],
                  "oracle_strength": row["strength"], "oracle_text": row["recommendation"]}
        label = f"{drug} CYP2D6={row['CYP2D6'] or '-'} CYP2C19={row['CYP2C19'] or '-'} CYP2B6={row['CYP2B6'] or '-'}"
        rules = guidance.get(drug)
        if rules is None:
            ledger.report("recommendation", fields, f"{label}: no guidance file in the KB")
            continue
        if row["CYP2D6"] == "xN combinations":
            ledger.report("recommendation", fields, f"{label}: oracle row for an unknown copy number (xN)")
            continue
        basis = {g: basis_from_key(g, row[g], genes) for g in rules["genes"]}
        matched = matching_rules(rules, basis)
        if len(matched) != 1:
            ledger.report("recommendation", fields, f"{label}: {len(matched)} KB rules match ({', '.join(r['id'] for r in matched)})")
            continue
        rule = matched[0]
        expected = STRENGTH_KEYS.get(row["strength"], row["strength"])
        if expected != rule["strength"]:
            ledger.report("recommendation", dict(fields, field="strength"),
                          f"{label}: oracle strength {row['strength']}, KB {rule['strength']} ({rule['id']})")
        theirs, mine = facets(row["recommendation"]), facets(rule["recommendation"])
        if theirs != mine:
            ledger.report("recommendation", dict(fields, field="actions"),
                          f"{label}: actions differ ({rule['id']}): oracle {sorted(theirs)}, KB {sorted(mine)}")

    stale = [entry for entry, used in zip(ledger.explained, ledger.used) if used == 0]
    for entry in stale:
        print(f"STALE       explanation matched nothing: {json.dumps(entry, ensure_ascii=False)}")
    print("checked: " + ", ".join(f"{count} {name}" for name, count in counts.items()))
    print(f"disagreements: {ledger.accepted} explained, {ledger.unexplained} unexplained; {len(stale)} stale explanations")
    return 1 if ledger.unexplained or stale else 0


if __name__ == "__main__":
    sys.exit(main())
