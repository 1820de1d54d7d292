#!/usr/bin/env python3
"""Compares `refract screen` results with the synthetic ground truth (refract_truth).

usage: check_truth.py RESULTS.csv TRUTH (an SQLite file, or a CSV directory with refract_truth.csv)
Checks per person: trd_status, failed_adequate_trials and the number of data-quality problems.
Prints one line 'N passed, M failed' and exits non-zero on any disagreement.
"""
import csv
import os
import sqlite3
import sys


def load_truth(path):
    if os.path.isdir(path):
        with open(os.path.join(path, "refract_truth.csv"), newline="") as handle:
            return {int(row["person_id"]): row for row in csv.DictReader(handle)}
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    return {row["person_id"]: dict(row) for row in connection.execute("SELECT * FROM refract_truth")}


def main():
    results, truth_path = sys.argv[1], sys.argv[2]
    truth = load_truth(truth_path)
    passed = failed = 0
    seen = set()
    with open(results, newline="") as handle:
        for row in csv.DictReader(handle):
            person = int(row["person_id"])
            seen.add(person)
            expected = truth.get(person)
            if expected is None:
                print(f"person {person}: not in the ground truth")
                failed += 1
                continue
            problems = sum(int(item.split("=")[1]) for item in str(expected["data_quality"]).split(";") if item)
            got = (row["trd_status"], int(row["failed_adequate_trials"]), int(row["data_quality_issues"]))
            want = (expected["trd_status"], int(expected["failed_adequate_trials"]), problems)
            if got == want:
                passed += 1
            else:
                failed += 1
                if failed <= 10:
                    print(f"person {person} ({expected['scenario']}): got {got}, expected {want}")
    missing = set(truth) - seen
    if missing:
        print(f"{len(missing)} persons of the ground truth have no result row")
        failed += len(missing)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
