#!/usr/bin/env python3
"""Runs refract's TRD phenotype as SQL (bench/omop/phenotype.sql) on PostgreSQL or SQLite.

usage: run_sql_phenotype.py --dialect postgresql|sqlite --db URL_OR_PATH --kb KB_DIR --out RESULTS.csv

Renders the template for the dialect (as OHDSI's SqlRender does), fills its parameters from the KB
(rule.omop.reconstruction, the default criteria, the TRD definition, kb/omop concept sets), loads the
KB drug catalogue into refract_drug, runs its statements, and writes person_id, trd_status,
failed_adequate_trials sorted by person_id. Prints the statement's wall time in seconds.
"""
import argparse
import csv
import glob
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def kb_parameters(kb):
    rules = json.load(open(os.path.join(kb, "rules", "omop.reconstruction.json")))
    manifest = json.load(open(os.path.join(kb, "manifest.json")))
    criteria = None
    for path in glob.glob(os.path.join(kb, "rules", "*.json")):
        entity = json.load(open(path))
        if entity.get("id") == manifest["default_criteria"]:
            criteria = entity
    trd = json.load(open(os.path.join(kb, "rules", "trd.definition.json")))
    conditions = json.load(open(os.path.join(kb, "omop", "conditions.json")))

    def codes(target, exclude=False):
        return ", ".join(sorted({"'%s'" % e["code"] for e in conditions["entries"]
                                 if e["target"] == target and bool(e.get("exclude")) == exclude and e["code"]}))

    bipolar = ", ".join(sorted({"'%s'" % e["code"] for e in conditions["entries"]
                                if e["target"] in ("condition.bipolar", "condition.mania") and not e.get("exclude")}))
    return {
        "default_days": rules["exposure_end"]["default_days"],
        "implausible_factor": rules["daily_dose"]["implausible_above_max_factor"],
        "step_pct": rules["daily_dose"]["step_change_min_percent"],
        "gap": rules["persistence_gap_days"]["value"],
        "free_days": rules["episode"]["treatment_free_days"],
        "procedure_gap": rules["procedure_course_gap_days"]["value"],
        "switch_window": rules["treatment_change"]["switch_window_days"],
        "phq9_max": rules["phq9"]["max_total"],
        "phq9_before": rules["phq9"]["baseline_days_before"],
        "phq9_after": rules["phq9"]["baseline_days_after"],
        "phq9_followup_min": rules["phq9"]["followup_min_days"],
        "phq9_followup_after": rules["phq9"]["followup_days_after_end"],
        "adherence_min": criteria["adherence"]["min_percent"],
        "failure_percent": criteria["failure"]["improvement_percent"],
        "min_failed": trd["min_failed_trials"],
        "depression_codes": codes("condition.depression"),
        "depression_excluded_codes": codes("condition.depression", True),
        "bipolar_codes": bipolar,
    }, criteria


def kb_drugs(kb, criteria):
    concepts = json.load(open(os.path.join(kb, "omop", "drugs.json")))
    rows = []
    for entry in concepts["entries"]:
        if not entry["code"]:
            continue
        drug = json.load(open(os.path.join(kb, "drugs", entry["target"][len("drug."):] + ".json")))
        adequacy = drug.get("adequacy")
        maximum = drug.get("max_dose_mg_per_day")
        rows.append((entry["vocabulary"], entry["code"], drug["id"], drug["counts_as"],
                     adequacy["min_dose_mg_per_day"] if adequacy else None,
                     adequacy.get("min_duration_days", criteria["min_duration_days"]) if adequacy else None,
                     maximum["value"] if isinstance(maximum, dict) else None))
    return rows


def render(dialect, parameters):
    sql = open(os.path.join(HERE, "phenotype.sql")).read()
    sql = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    if dialect == "postgresql":
        days = lambda x: "(%s - DATE '1970-01-01')" % x
        rnd = lambda x: "round((%s)::numeric)" % x
    else:
        days = lambda x: "CAST(julianday(%s) - 2440587.5 AS INTEGER)" % x
        rnd = lambda x: "round(%s)" % x

    def macro(match):
        name, argument = match.group(1), match.group(2)
        return days(argument) if name == "DAYS" else rnd(argument)

    # Arguments may contain parentheses one level deep.
    sql = re.sub(r"\{(DAYS|ROUND)\(((?:[^(){}]|\([^(){}]*(?:\([^(){}]*\))*[^(){}]*\))*)\)\}", macro, sql)
    for name, value in sorted(parameters.items(), key=lambda item: -len(item[0])):
        sql = sql.replace("@" + name, str(value))
    assert "{" not in sql and "@" not in sql, "unrendered template text"
    return sql


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", choices=["postgresql", "sqlite"], required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--kb", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    parameters, criteria = kb_parameters(args.kb)
    drugs = kb_drugs(args.kb, criteria)
    sql = render(args.dialect, parameters)
    if args.dialect == "postgresql":
        import psycopg2
        connection = psycopg2.connect(args.db)
        marker = "%s"
    else:
        import sqlite3
        connection = sqlite3.connect(args.db)
        marker = "?"
    cursor = connection.cursor()
    for table in ("refract_sql_result", "refract_sql_trial", "refract_sql_dose_step", "refract_sql_course", "refract_sql_course_span", "refract_sql_episode", "refract_sql_course_no", "refract_sql_exposure", "refract_drug"):
        cursor.execute("DROP TABLE IF EXISTS %s" % table)
    cursor.execute("CREATE TABLE refract_drug (vocabulary VARCHAR(20), code VARCHAR(50), drug_id VARCHAR(80), counts_as VARCHAR(20), "
                   "min_dose DOUBLE PRECISION, required_days INTEGER, max_dose DOUBLE PRECISION)")
    cursor.executemany("INSERT INTO refract_drug VALUES (%s)" % ", ".join([marker] * 7), drugs)
    if args.dialect == "postgresql":
        cursor.execute("ANALYZE refract_drug")
    connection.commit()
    started = time.perf_counter()
    for statement in (part.strip() for part in sql.split(";")):
        if not statement:
            continue
        cursor.execute(statement)
        # As OHDSI's generated SQL does after each materialised step: give the planner row counts.
        created = re.match(r"CREATE TABLE (\w+)", statement)
        if created:
            cursor.execute("ANALYZE " + created.group(1))
    connection.commit()
    elapsed = time.perf_counter() - started
    cursor.execute("SELECT person_id, trd_status, failed_adequate_trials FROM refract_sql_result ORDER BY person_id")
    with open(args.out, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["person_id", "trd_status", "failed_adequate_trials"])
        writer.writerows(cursor.fetchall())
    connection.close()
    print("%.3f" % elapsed)


if __name__ == "__main__":
    sys.exit(main())
