#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks refract's JSON Schemas and data with an independent validator (python-jsonschema).

Usage:  python3 tests/schema/check_schemas.py REFRACT_BINARY SOURCE_DIR

refract validates patient records and KB files with its own hand-written validator
(src/core/json_schema.cc). This script holds the same schemas and files against the
python-jsonschema implementation of Draft 2020-12 (Debian: python3-jsonschema):

  1. every schema under schema/ and kb/schema/ is a valid Draft 2020-12 schema, and uses only
     the keywords and formats refract's validator implements (others would be ignored by refract
     but enforced here, so the two validators would disagree);
  2. every examples/*.json and every patient of tests/cases/**/*.in.json outside errors/ is a
     valid refract.patient/v1 record (with format checking);
  3. every error case under tests/cases/errors/ whose problem is a schema problem is rejected by
     jsonschema too, at the location the golden names; the semantic error cases (SEMANTIC_ERROR_CASES
     below) must pass the schema;
  4. every KB file (kb/ and the engine-test fixture KB tests/kb-fixtures/) validates against its
     kb/schema: drugs/* -> drug, classes/* -> class, rules/* -> by "kind", sources.json ->
     sources, manifest.json -> manifest;
  5. every non-error tests/cases/**/*.out.json, and `refract assess` on every example under every
     criteria set, validates against schema/assessment.schema.json;
  6. differential probes: small edits of a valid patient (and of KB files) are accepted or rejected
     alike by refract and jsonschema, and when both reject, refract's location is one jsonschema
     reports.

Prints "ok - ..." / "not ok - ..." per check (details indented with "#") and ends with
"N passed, M failed". Exit status 1 when a check failed, 2 on bad usage.
"""
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

AS_OF = "2026-11-22"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# Error cases whose problem is not a schema problem: the record is schema-valid and refract's
# parser rejects it for a reason JSON Schema cannot express.
SEMANTIC_ERROR_CASES = {
    "augments-unknown-course": "augments must name the id of another course: a cross-reference, not a schema rule",
    "dose-steps-out-of-order": "dose steps must be in time order: compares sibling dates",
    "end-before-start": "end must not be before start: compares two dates of one course",
    "unknown-drug-name": "the drug name must resolve in the KB: the schema only asks for a non-empty string",
    "unknown-drug-name-second-course": "the drug name must resolve in the KB: the schema only asks for a non-empty string",
}

# Golden reports hold placeholders for versions and the digest (tests/cases/case_test.cc). They
# are replaced by well-formed stand-ins before validation; nothing else is changed.
PLACEHOLDER_STANDINS = {
    "version": ("<engine>", "0.0.0"),
    "kb_version": ("<kb>", "0000.00.0"),
    "kb_digest": ("<kb>", "sha256:" + "0" * 64),
}


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, condition, name, details=()):
        if condition:
            self.passed += 1
            print(f"ok - {name}")
            return True
        self.failed += 1
        print(f"not ok - {name}")
        for detail in details:
            for line in str(detail).splitlines() or [""]:
                print(f"    # {line}")
        return False


def load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def rel(path, root):
    return os.path.relpath(path, root)


def escape_token(token):
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(path):
    return "".join("/" + escape_token(part) for part in path)


def error_locations(error):
    """JSON pointers a jsonschema error can be said to point at.

    jsonschema reports `required` and `additionalProperties` at the object; refract points at
    the missing or unknown member itself. Both readings are returned so that they can be compared.
    """
    base = pointer(error.absolute_path)
    locations = {base}
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        locations |= {f"{base}/{escape_token(name)}" for name in error.validator_value if name not in instance}
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {})
        patterns = error.schema.get("patternProperties", {})
        for name in instance:
            if name not in known and not any(re.search(pattern, name) for pattern in patterns):
                locations.add(f"{base}/{escape_token(name)}")
    for sub in error.context or ():
        locations |= error_locations(sub)
    return locations


def describe(errors, limit=3):
    out = []
    for error in errors[:limit]:
        out.append(f"{pointer(error.absolute_path) or '(root)'}: {error.message[:300]}")
    if len(errors) > limit:
        out.append(f"... and {len(errors) - limit} more")
    return out


def sorted_errors(validator, instance):
    return sorted(validator.iter_errors(instance), key=lambda error: list(map(str, error.absolute_path)))


def implemented_keywords(source_dir):
    """The schema keywords refract's validator implements, read from src/core/json_schema.cc."""
    path = os.path.join(source_dir, "src", "core", "json_schema.cc")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    match = re.search(r"KnownKeywords\(\)\s*\{.*?=\s*\{(.*?)\};", text, re.S)
    if not match:
        return None
    return set(re.findall(r'"([^"]+)"', match.group(1)))


# Keywords whose value is a schema, a map of schemas or a list of schemas (Draft 2020-12).
SUBSCHEMA_KEYWORDS = {"items", "additionalProperties", "not", "if", "then", "else", "contains",
                      "propertyNames", "unevaluatedItems", "unevaluatedProperties", "additionalItems"}
SCHEMA_MAP_KEYWORDS = {"properties", "$defs", "definitions", "patternProperties", "dependentSchemas"}
SCHEMA_LIST_KEYWORDS = {"anyOf", "oneOf", "allOf", "prefixItems"}


def keywords_and_formats(schema, where=""):
    """Yields (pointer, keyword) for every keyword used and (pointer, "format=...") for formats."""
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        here = f"{where}/{escape_token(key)}"
        yield here, key
        if key == "format":
            yield here, f"format={value}"
        if key in SUBSCHEMA_KEYWORDS:
            yield from keywords_and_formats(value, here)
        elif key in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            for name, sub in value.items():
                yield from keywords_and_formats(sub, f"{here}/{escape_token(name)}")
        elif key in SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            for index, sub in enumerate(value):
                yield from keywords_and_formats(sub, f"{here}/{index}")


def set_pointer(document, path, value):
    """Returns a copy of document with the member at path set to value (or removed when value is DELETE)."""
    document = copy.deepcopy(document)
    parts = [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]
    node = document
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        last = int(last)
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return document


DELETE = object()


class Refract:
    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir

    def run(self, *args):
        return subprocess.run([self.binary, *args], cwd=self.workdir, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120, check=False)

    def assess_document(self, document, name="probe.json"):
        """Runs `refract assess` on document; returns (exit code, pointer or None, stderr)."""
        path = os.path.join(self.workdir, name)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
        result = self.run("assess", name, "--as-of", AS_OF, "--format", "json")
        match = re.match(rf"refract: error: {re.escape(name)}#(\S*): ", result.stderr)
        return result.returncode, (match.group(1) if match else None), result.stderr.strip()


def main():
    if len(sys.argv) != 3:
        print("usage: check_schemas.py REFRACT_BINARY SOURCE_DIR", file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    source = os.path.abspath(sys.argv[2])
    tally = Tally()

    try:
        import jsonschema
        from jsonschema import Draft202012Validator, FormatChecker
    except ImportError as error:
        tally.check(False, "python jsonschema is installed", [f"{error}", "apt-get install -y python3-jsonschema"])
        print(f"{tally.passed} passed, {tally.failed} failed")
        return 1
    try:
        from importlib.metadata import version
        jsonschema_version = version("jsonschema")
    except Exception:  # noqa: BLE001 (the version is only informative)
        jsonschema_version = "?"
    print(f"# jsonschema {jsonschema_version} from {os.path.dirname(jsonschema.__file__)}")
    format_checker = FormatChecker()
    tally.check("date" in format_checker.checkers, "jsonschema's FormatChecker checks the date format",
                ["without it, impossible dates such as 2026-02-30 would pass"])

    # ------------------------------------------------------------------------------------------
    print("# 1. schemas are valid Draft 2020-12 and use only what refract implements")
    supported = implemented_keywords(source)
    tally.check(supported is not None, "refract's supported keywords are readable from src/core/json_schema.cc",
                ["KnownKeywords() not found; update implemented_keywords() in this script"])
    schema_paths = sorted(glob.glob(os.path.join(source, "schema", "*.json"))) + \
        sorted(glob.glob(os.path.join(source, "kb", "schema", "*.json")))
    tally.check(len(schema_paths) >= 3, f"found {len(schema_paths)} schemas under schema/ and kb/schema/")
    schemas = {}
    for path in schema_paths:
        name = rel(path, source)
        try:
            schema = load(path)
        except ValueError as error:
            tally.check(False, f"{name} is valid JSON", [str(error)])
            continue
        problems = []
        if schema.get("$schema") != DRAFT_2020_12:
            problems.append(f"$schema is {schema.get('$schema')!r}, expected {DRAFT_2020_12}")
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as error:
            problems.append(f"{pointer(error.absolute_path) or '(root)'}: {error.message}")
        if tally.check(not problems, f"{name} is a valid Draft 2020-12 schema", problems):
            schemas[name] = schema
        if supported is not None:
            unsupported = [f"{where}: {keyword}" for where, keyword in keywords_and_formats(schema)
                           if (keyword.startswith("format=") and keyword != "format=date")
                           or (not keyword.startswith("format=") and keyword not in supported)]
            tally.check(not unsupported, f"{name} uses only keywords and formats refract's validator implements",
                        unsupported[:5])

    def validator_for(name):
        schema = schemas.get(name)
        return Draft202012Validator(schema, format_checker=format_checker) if schema is not None else None

    patient_validator = validator_for(os.path.join("schema", "patient.schema.json"))
    assessment_validator = validator_for(os.path.join("schema", "assessment.schema.json"))
    tally.check(patient_validator is not None, "schema/patient.schema.json is available")
    tally.check(assessment_validator is not None, "schema/assessment.schema.json is available")

    # ------------------------------------------------------------------------------------------
    print("# 2. examples and golden-case patients are valid patient records")
    case_inputs = sorted(glob.glob(os.path.join(source, "tests", "cases", "**", "*.in.json"), recursive=True))
    error_dir = os.path.join(source, "tests", "cases", "errors") + os.sep
    examples = sorted(glob.glob(os.path.join(source, "examples", "*.json")))
    tally.check(examples, f"found {len(examples)} examples")
    tally.check(case_inputs, f"found {len(case_inputs)} golden case inputs")
    if patient_validator is not None:
        for path in examples:
            errors = sorted_errors(patient_validator, load(path))
            tally.check(not errors, f"{rel(path, source)} validates against patient.schema.json", describe(errors))
        for path in case_inputs:
            if path.startswith(error_dir):
                continue
            case = load(path)
            errors = sorted_errors(patient_validator, case.get("patient"))
            tally.check(not errors, f"{rel(path, source)} patient validates against patient.schema.json", describe(errors))

    # ------------------------------------------------------------------------------------------
    print("# 3. schema error cases are rejected by jsonschema at the golden's location")
    error_cases = [path for path in case_inputs if path.startswith(error_dir)]
    seen_semantic = set()
    if patient_validator is not None:
        for path in error_cases:
            slug = os.path.basename(path)[: -len(".in.json")]
            golden_path = path[: -len(".in.json")] + ".out.json"
            golden = load(golden_path).get("error", {}) if os.path.exists(golden_path) else {}
            location = golden.get("location", "")
            location = location[len("patient#"):] if location.startswith("patient#") else None
            errors = sorted_errors(patient_validator, load(path).get("patient"))
            if slug in SEMANTIC_ERROR_CASES:
                seen_semantic.add(slug)
                tally.check(not errors, f"errors/{slug} is semantic ({SEMANTIC_ERROR_CASES[slug]}) and passes the schema",
                            ["jsonschema rejects it, so it is a schema case: remove it from SEMANTIC_ERROR_CASES"]
                            + describe(errors))
                continue
            if not errors:
                tally.check(False, f"errors/{slug} is rejected by jsonschema",
                            ["jsonschema accepts it: if the problem is semantic, list it in SEMANTIC_ERROR_CASES "
                             "with the reason; otherwise the schema is missing a rule refract enforces"])
                continue
            locations = set().union(*(error_locations(error) for error in errors))
            tally.check(location in locations, f"errors/{slug} is rejected by jsonschema at {location}",
                        [f"golden location {location!r} ({golden_path})", f"jsonschema locations: {sorted(locations)}"]
                        + describe(errors))
    for slug in sorted(set(SEMANTIC_ERROR_CASES) - seen_semantic):
        tally.check(False, f"semantic error case {slug} exists", ["listed in SEMANTIC_ERROR_CASES but not found"])

    # ------------------------------------------------------------------------------------------
    print("# 4. KB files validate against kb/schema")
    schema_by_kind = {}
    for name in schemas:
        if name.startswith(os.path.join("kb", "schema") + os.sep):
            schema_by_kind[os.path.basename(name).split(".")[0]] = name
    used_kinds = set()
    for kb_root in (os.path.join(source, "kb"), os.path.join(source, "tests", "kb-fixtures")):
        kb_files = sorted(glob.glob(os.path.join(kb_root, "**", "*.json"), recursive=True))
        kb_files = [path for path in kb_files if not rel(path, kb_root).startswith("schema" + os.sep)]
        tally.check(kb_files, f"found {len(kb_files)} KB files in {rel(kb_root, source)}/")
        for path in kb_files:
            inside = rel(path, kb_root).replace(os.sep, "/")
            name = rel(path, source)
            try:
                document = load(path)
            except ValueError as error:
                tally.check(False, f"{name} is valid JSON", [str(error)])
                continue
            if inside == "manifest.json":
                kind = "manifest"
            elif inside == "sources.json":
                kind = "sources"
            elif inside.startswith("drugs/"):
                kind = "drug"
            elif inside.startswith("classes/"):
                kind = "class"
            elif "/" in inside:  # any other subdirectory names its kind, as the KB loader reads it
                kind = document.get("kind") if isinstance(document, dict) else None
            else:
                kind = None
            if kind not in schema_by_kind:
                tally.check(False, f"{name} has a KB schema", [f"kind {kind!r}: no kb/schema/{kind}.schema.json"])
                continue
            used_kinds.add(kind)
            errors = sorted_errors(validator_for(schema_by_kind[kind]), document)
            tally.check(not errors, f"{name} validates against {schema_by_kind[kind]}", describe(errors))
    unused = sorted(set(schema_by_kind) - used_kinds)
    tally.check(not unused, "every kb/schema is used by at least one KB file", [f"unused: {unused}"])

    # ------------------------------------------------------------------------------------------
    print("# 5. assessments validate against schema/assessment.schema.json")
    if assessment_validator is not None:
        for path in sorted(glob.glob(os.path.join(source, "tests", "cases", "**", "*.out.json"), recursive=True)):
            report = load(path)
            if "error" in report:
                continue
            engine = report.get("engine")
            if isinstance(engine, dict):
                for key, (placeholder, standin) in PLACEHOLDER_STANDINS.items():
                    if engine.get(key) == placeholder:
                        engine[key] = standin
            errors = sorted_errors(assessment_validator, report)
            tally.check(not errors, f"{rel(path, source)} validates against assessment.schema.json", describe(errors))

    workdir = tempfile.mkdtemp(prefix="refract-schema.")
    try:
        refract = Refract(binary, workdir)
        info = refract.run("kb", "info")
        try:
            criteria_ids = json.loads(info.stdout)["criteria"]
        except (ValueError, KeyError, TypeError):
            criteria_ids = []
        tally.check(info.returncode == 0 and criteria_ids, "refract kb info lists the criteria sets",
                    [f"exit {info.returncode}", info.stderr.strip()[:300]])
        if assessment_validator is not None:
            for path in examples:
                for criteria in criteria_ids:
                    result = refract.run("assess", path, "--as-of", AS_OF, "--format", "json", "--criteria", criteria)
                    name = f"refract assess {rel(path, source)} --criteria {criteria} validates against assessment.schema.json"
                    if result.returncode != 0:
                        tally.check(False, name, [f"exit {result.returncode}", result.stderr.strip()[:300]])
                        continue
                    try:
                        report = json.loads(result.stdout)
                    except ValueError as error:
                        tally.check(False, name, [f"not valid JSON: {error}"])
                        continue
                    errors = sorted_errors(assessment_validator, report)
                    tally.check(not errors, name, describe(errors))

        # --------------------------------------------------------------------------------------
        print("# 6. refract and jsonschema agree on edited patients")
        if patient_validator is not None:
            run_patient_probes(tally, refract, patient_validator)
        print("# 6b. refract kb check and jsonschema agree on edited KB files")
        drug_schema = schema_by_kind.get("drug")
        if drug_schema is not None:
            run_kb_probes(tally, refract, source, workdir, validator_for(drug_schema))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


PROBE_BASE = {
    "schema": "refract.patient/v1",
    "id": "schema-probe",
    "person": {"age_years": 40, "sex": "female"},
    "episode": {"start": "2026-01-01", "severity": "moderate", "episode_number": 1},
    "history": {"suicide_attempts": 0, "psychotherapy": [{"kind": "cbt"}]},
    "diagnoses": [{"kind": "mdd", "code": {"system": "ICD-10-CM", "code": "F33.1"}, "status": "active"}],
    "medications": [{
        "id": "m1", "drug": "sertraline", "start": "2026-01-05", "end": "2026-03-01",
        "doses": [{"from": "2026-01-05", "mg_per_day": 100}],
        "adherence": "good", "adherence_percent": 90, "improvement": {"percent": 10, "rated_by": "clinician"},
    }],
    "scales": [{"scale": "phq9", "date": "2026-01-02", "items": [1, 1, 1, 1, 1, 1, 1, 1, 0]}],
    "genotypes": [{"gene": "CYP2D6", "diplotype": "*1/*4"}],
    "labs": [{"name": "tsh", "value": 1.8, "date": "2026-01-02"}],
    "vitals": [{"kind": "blood_pressure", "date": "2026-01-02", "systolic": 120, "diastolic": 80}],
    "daily_log": [{"date": "2026-01-03", "mood": 5}],
}

# (description, JSON pointer, new value or DELETE). Every edit keeps the record clinically
# consistent, so that only the schema decides.
PATIENT_PROBES = [
    ("unedited probe record", None, None),
    ("leap day 2024-02-29 is a date", "/episode/start", "2024-02-29"),
    ("2000-02-29 (400-year leap day) is a date", "/episode/start", "2000-02-29"),
    ("2025-02-29 is not a date", "/episode/start", "2025-02-29"),
    ("1900-02-29 (century, not a leap year) is not a date", "/episode/start", "1900-02-29"),
    ("2026-04-31 is not a date", "/medications/0/end", "2026-04-31"),
    ("2026-1-05 (no zero padding) is not a date", "/medications/0/start", "2026-1-05"),
    ("a date with a time is not a date", "/labs/0/date", "2026-01-02T10:00:00"),
    ("integer-valued 40.0 is an integer", "/person/age_years", 40.0),
    ("40.5 is not an integer", "/person/age_years", 40.5),
    ("age 130 is the maximum", "/person/age_years", 130),
    ("age 131 is above the maximum", "/person/age_years", 131),
    ("1e20 is an integer (JSON Schema integers are mathematical)", "/history/suicide_attempts", 1e20),
    ("enum values are case-sensitive", "/person/sex", "Male"),
    ("null is not an enum value", "/person/sex", None),
    ("improvement 100 is allowed", "/medications/0/improvement/percent", 100),
    ("improvement -100 is allowed", "/medications/0/improvement/percent", -100),
    ("improvement 100.5 is above the maximum", "/medications/0/improvement/percent", 100.5),
    ("adherence_percent 0 is allowed", "/medications/0/adherence_percent", 0),
    ("adherence_percent 100.01 is above the maximum", "/medications/0/adherence_percent", 100.01),
    ("dose 10000 is the maximum", "/medications/0/doses/0/mg_per_day", 10000),
    ("dose 10000.5 is above the maximum", "/medications/0/doses/0/mg_per_day", 10000.5),
    ("dose true is not a number", "/medications/0/doses/0/mg_per_day", True),
    ("an unanswered item is null", "/scales/0/items/1", None),
    ("an item of 1.5 is not an integer", "/scales/0/items/1", 1.5),
    ("diplotype *1/*4x2 matches", "/genotypes/0/diplotype", "*1/*4x2"),
    ("diplotype *1/*4xN matches", "/genotypes/0/diplotype", "*1/*4xN"),
    ("diplotype 1/4 does not match", "/genotypes/0/diplotype", "1/4"),
    ("code system icd-10 (lower case) is not allowed", "/diagnoses/0/code/system", "icd-10"),
    ("id of 128 ASCII characters is allowed", "/id", "p" * 128),
    ("id of 129 ASCII characters is too long", "/id", "p" * 129),
    ("id of 128 non-ASCII characters is allowed (maxLength counts characters)", "/id", "\u00e9" * 128),
    ("id of 129 non-ASCII characters is too long", "/id", "\u00e9" * 129),
    ("empty id is too short", "/id", ""),
    ("empty drug name is too short", "/medications/0/drug", ""),
    ("unknown property in a dose step", "/medications/0/doses/0/unit", "mg"),
    ("unknown property whose name needs pointer escaping", "/x~1y~0z", 1),
    ("missing schema", "/schema", DELETE),
    ("missing id", "/id", DELETE),
    ("missing required member of an array item", "/history/psychotherapy/0/kind", DELETE),
    ("schema refract.patient/v2 is not accepted", "/schema", "refract.patient/v2"),
    ("lab value as a string", "/labs/0/value", "1.8"),
    ("systolic 400.0 is the maximum", "/vitals/0/systolic", 400.0),
    ("systolic 400.5 is above the maximum", "/vitals/0/systolic", 400.5),
    ("mood 10 is the maximum", "/daily_log/0/mood", 10),
    ("mood 11 is above the maximum", "/daily_log/0/mood", 11),
    ("person as an array", "/person", []),
    ("side_effects items must be strings", "/medications/0/side_effects", [1]),
    ("episode_number 1.0 is an integer", "/episode/episode_number", 1.0),
    ("description null is not a string", "/description", None),
    ("enum value with a trailing space", "/history/substance_use", "current "),
    ("role combination is allowed", "/medications/0/role", "combination"),
    ("diagnosis status ruled_out is allowed", "/diagnoses/0/status", "ruled_out"),
    ("medications as an object", "/medications", {}),
    ("top level as an array", "", []),
]


def run_patient_probes(tally, refract, validator):
    for description, path, value in PATIENT_PROBES:
        if path is None:
            document = copy.deepcopy(PROBE_BASE)
        elif path == "":
            document = value
        else:
            document = set_pointer(PROBE_BASE, path, value)
        errors = sorted_errors(validator, document)
        locations = set().union(*(error_locations(error) for error in errors)) if errors else set()
        code, location, stderr = refract.assess_document(document)
        want = "rejects" if errors else "accepts"
        name = f"probe: {description}: jsonschema {want}, refract agrees"
        if code not in (0, 65):
            tally.check(False, name, [f"refract exit {code} (expected 0 or 65)", stderr[:300]])
        elif errors and code == 0:
            tally.check(False, name, ["refract accepts a record jsonschema rejects"] + describe(errors))
        elif not errors and code != 0:
            tally.check(False, name, ["refract rejects a record jsonschema accepts", stderr[:300]])
        elif errors and location not in locations:
            tally.check(False, name, [f"both reject, but refract points at {location!r}, jsonschema at {sorted(locations)}",
                                      stderr[:300]])
        else:
            tally.check(True, name)


# (description, drug file, JSON pointer, new value). Each edit breaks the drug schema.
KB_PROBES = [
    ("min dose as a string", "sertraline.json", "/adequacy/min_dose_mg_per_day", "50"),
    ("min dose 0 (exclusiveMinimum 0)", "sertraline.json", "/adequacy/min_dose_mg_per_day", 0),
    ("inn not lower case", "sertraline.json", "/names/inn", "Sertraline"),
    ("empty markets list", "sertraline.json", "/markets", []),
    ("unknown counts_as", "sertraline.json", "/counts_as", "adjunct"),
    ("unknown top-level member", "sertraline.json", "/dose", 50),
    ("missing class", "sertraline.json", "/class", DELETE),
]


def run_kb_probes(tally, refract, source, workdir, drug_validator):
    for index, (description, drug_file, path, value) in enumerate(KB_PROBES):
        kb_copy = os.path.join(workdir, f"kb-probe-{index}")
        shutil.copytree(os.path.join(source, "kb"), kb_copy)
        drug_path = os.path.join(kb_copy, "drugs", drug_file)
        document = set_pointer(load(drug_path), path, value)
        with open(drug_path, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
        errors = sorted_errors(drug_validator, document)
        locations = set().union(*(error_locations(error) for error in errors)) if errors else set()
        result = refract.run("kb", "check", "--kb", kb_copy)
        prefix = f"kb/drugs/{drug_file}#"
        refract_locations = {line.split(": ", 1)[0][len(prefix):] for line in result.stderr.splitlines()
                             if line.startswith(prefix)}
        name = f"kb probe: {description}: jsonschema and refract kb check both reject, at the same place"
        problems = []
        if not errors:
            problems.append("jsonschema accepts the edited drug file (the probe is wrong)")
        if result.returncode != 65:
            problems.append(f"refract kb check exit {result.returncode}, expected 65")
        if not refract_locations:
            problems.append(f"refract names no location in {prefix}: {result.stderr.strip()[:300]}")
        elif not refract_locations <= locations:
            problems.append(f"refract points at {sorted(refract_locations)}, jsonschema at {sorted(locations)}")
        tally.check(not problems, name, problems)
        shutil.rmtree(kb_copy, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
