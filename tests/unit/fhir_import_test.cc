// SPDX-License-Identifier: Apache-2.0
// FHIR R4 import: realistic bundles (US Core, Synthea), malformed resources, unknown codes, dosage to
// mg/day, value sets, and the record check that removes what the parser rejects.
#include <algorithm>

#include <gtest/gtest.h>

#include "../fhir/fhir_test_support.h"
#include "refract/core/assessment.h"

namespace refract {
namespace {

using fhir_testing::BundleOf;
using fhir_testing::Fhir;
using fhir_testing::Kb;
using fhir_testing::Messages;
using fhir_testing::Options;
using fhir_testing::ReadJson;

const std::filesystem::path kBundles = fhir_testing::SourceDir() / "tests" / "fhir";

fhir::ImportResult ImportFixture(const std::string& name) {
  auto result = fhir::ImportBundle(Fhir(), ReadJson(kBundles / name), Options(name));
  EXPECT_TRUE(result) << (result ? "" : result.error().message);
  return result ? std::move(*result) : fhir::ImportResult{};
}

fhir::ImportResult Import(const nlohmann::json& bundle) {
  auto result = fhir::ImportBundle(Fhir(), bundle, Options("test"));
  EXPECT_TRUE(result) << (result ? "" : result.error().message);
  return result ? std::move(*result) : fhir::ImportResult{};
}

const fhir::ResourceResult& ResultFor(const fhir::ImportReport& report, const std::string& id) {
  static const fhir::ResourceResult kNone;
  for (const auto& result : report.resources) {
    if (result.id == id) return result;
  }
  ADD_FAILURE() << "no resource " << id << " in the report";
  return kNone;
}

bool HasIssue(const fhir::ResourceResult& result, const std::string& message) {
  return std::any_of(result.issues.begin(), result.issues.end(), [&](const fhir::ImportIssue& issue) { return issue.message == message; });
}

TEST(FhirImport, UsCoreBundleMatchesGolden) {
  const auto imported = ImportFixture("uscore-trd.bundle.json");
  fhir_testing::ExpectGolden(imported.record, "uscore-trd.record.json");
  fhir_testing::ExpectGolden(fhir::ImportReportToJson(imported.report), "uscore-trd.report.json");
  ASSERT_TRUE(app::Parser().Parse(Kb(), imported.record, "record"));
}

TEST(FhirImport, SyntheaBundleMatchesGolden) {
  const auto imported = ImportFixture("synthea-ect.bundle.json");
  fhir_testing::ExpectGolden(imported.record, "synthea-ect.record.json");
  fhir_testing::ExpectGolden(fhir::ImportReportToJson(imported.report), "synthea-ect.report.json");
  ASSERT_TRUE(app::Parser().Parse(Kb(), imported.record, "record"));
}

TEST(FhirImport, MalformedBundleIsImportedInPartWithEveryProblemReported) {
  const auto imported = ImportFixture("malformed.bundle.json");
  fhir_testing::ExpectGolden(imported.record, "malformed.record.json");
  fhir_testing::ExpectGolden(fhir::ImportReportToJson(imported.report), "malformed.report.json");
  const auto& report = imported.report;
  ASSERT_EQ(report.resources.size(), 17U);
  EXPECT_TRUE(HasIssue(ResultFor(report, "bad-date"), "\"2025-02-30\" is not a FHIR date or dateTime"));
  EXPECT_TRUE(HasIssue(ResultFor(report, "range-dose"), "dose given as a range (10-20): no single mg/day"));
  EXPECT_TRUE(HasIssue(ResultFor(report, "odd-unit"), "dose unit \"scoops\" is not known"));
  EXPECT_TRUE(HasIssue(ResultFor(report, "phq9-text"), "PHQ-9 total is not a number (\"about twelve\")"));
  EXPECT_TRUE(HasIssue(ResultFor(report, "phq9-out-of-range"), "PHQ-9 on 2025-04-01: total of scale.phq9 is 31, above its maximum 27"));
  EXPECT_TRUE(HasIssue(ResultFor(report, "qr-item-too-high"), "PHQ-9 on 2025-05-01: item 1 of scale.phq9 is 5, above its maximum 3"));
  EXPECT_TRUE(HasIssue(ResultFor(report, "other-patient"), "belongs to Patient/someone-else, not to the imported patient"));
  EXPECT_TRUE(HasIssue(ResultFor(report, "ms-reversed"), "ends 2025-01-01 before it starts 2025-06-01"));
  EXPECT_EQ(ResultFor(report, "range-dose").outcome, fhir::ResourceOutcome::Partial);
  EXPECT_EQ(ResultFor(report, "no-date").outcome, fhir::ResourceOutcome::NotImported);
  // Nothing is dropped silently: every resource that is not imported says why.
  for (const auto& result : report.resources) {
    if (result.outcome == fhir::ResourceOutcome::NotImported) {
      EXPECT_FALSE(result.issues.empty()) << result.type << "/" << result.id;
    }
  }
  ASSERT_TRUE(app::Parser().Parse(Kb(), imported.record, "record"));
}

TEST(FhirImport, OrdersOfOneDrugBecomeOneCourseWithDoseSteps) {
  const auto imported = ImportFixture("uscore-trd.bundle.json");
  const auto& medications = imported.record["medications"];
  const auto sertraline = std::find_if(medications.begin(), medications.end(), [](const auto& course) { return course["drug"] == "sertraline"; });
  ASSERT_NE(sertraline, medications.end());
  EXPECT_EQ((*sertraline)["start"], "2025-01-06");
  EXPECT_EQ((*sertraline)["end"], "2025-03-30");
  EXPECT_EQ((*sertraline)["doses"], nlohmann::json::parse(R"([{"from":"2025-01-06","mg_per_day":50},{"from":"2025-02-03","mg_per_day":100}])"));
  // An active order keeps the course running whatever its two dispenses cover.
  const auto bupropion = std::find_if(medications.begin(), medications.end(), [](const auto& course) { return course["drug"] == "bupropion"; });
  ASSERT_NE(bupropion, medications.end());
  EXPECT_EQ((*bupropion)["ongoing"], true);
  EXPECT_FALSE(bupropion->contains("end"));
  EXPECT_EQ(ResultFor(imported.report, "md-bupropion-2").into, std::vector<std::string>{"medications[3]"});
  EXPECT_TRUE(HasIssue(ResultFor(imported.report, "mr-escitalopram"),
                       "stopped order without an end date: end estimated as 2025-07-12 (30 days supply x 3 fills)"));
}

TEST(FhirImport, UnknownRxNormCodeIsKeptByNameAndReported) {
  const auto imported = ImportFixture("uscore-trd.bundle.json");
  const auto& result = ResultFor(imported.report, "mr-metformin");
  EXPECT_EQ(result.outcome, fhir::ResourceOutcome::Partial);
  EXPECT_TRUE(HasIssue(result,
                       "RxNorm 861007 (\"metformin hydrochloride 500 MG Oral Tablet\") is neither a product in the KB's RxNorm map (kb/fhir/rxnorm) "
                       "nor the ingredient code of a KB drug: kept in other_medications as \"metformin hydrochloride 500 MG Oral Tablet\", not "
                       "assessed as a trial and not checked for interactions"));
  const auto& others = imported.record["other_medications"];
  EXPECT_TRUE(std::any_of(others.begin(), others.end(), [](const auto& entry) { return entry["drug"] == "metformin hydrochloride 500 MG Oral Tablet"; }));
}

TEST(FhirImport, ScaleTotalsInEveryShape) {
  // valueString (US Core's PHQ-9 example), valueInteger, valueQuantity; a panel with components.
  const auto imported = Import(BundleOf({
      {{"resourceType", "Observation"}, {"status", "final"}, {"code", {{"coding", {{{"system", "http://loinc.org"}, {"code", "44261-6"}}}}}}, {"effectiveDateTime", "2025-01-01"}, {"valueString", "12"}},
      {{"resourceType", "Observation"}, {"status", "final"}, {"code", {{"coding", {{{"system", "http://loinc.org"}, {"code", "44261-6"}}}}}}, {"effectiveDateTime", "2025-02-01"}, {"valueInteger", 9}},
      {{"resourceType", "Observation"}, {"status", "final"}, {"code", {{"coding", {{{"system", "http://loinc.org"}, {"code", "70274-6"}}}}}}, {"effectiveDateTime", "2025-02-01"},
       {"valueQuantity", {{"value", 7}, {"unit", "{score}"}}}},
      {{"resourceType", "Observation"}, {"status", "final"}, {"code", {{"coding", {{{"system", "http://loinc.org"}, {"code", "44249-1"}}}}}}, {"effectiveDateTime", "2025-03-01"},
       {"component", nlohmann::json::parse(R"([
          {"code":{"coding":[{"system":"http://loinc.org","code":"44250-9"}]},"valueInteger":1},{"code":{"coding":[{"system":"http://loinc.org","code":"44255-8"}]},"valueInteger":1},
          {"code":{"coding":[{"system":"http://loinc.org","code":"44259-0"}]},"valueInteger":1},{"code":{"coding":[{"system":"http://loinc.org","code":"44254-1"}]},"valueInteger":1},
          {"code":{"coding":[{"system":"http://loinc.org","code":"44251-7"}]},"valueInteger":0},{"code":{"coding":[{"system":"http://loinc.org","code":"44258-2"}]},"valueInteger":0},
          {"code":{"coding":[{"system":"http://loinc.org","code":"44252-5"}]},"valueInteger":0},{"code":{"coding":[{"system":"http://loinc.org","code":"44253-3"}]},"valueInteger":0},
          {"code":{"coding":[{"system":"http://loinc.org","code":"44260-8"}]},"valueCodeableConcept":{"coding":[{"system":"http://loinc.org","code":"LA6569-3"}]}},
          {"code":{"coding":[{"system":"http://loinc.org","code":"44261-6"}]},"valueInteger":6}])")}},
  }));
  EXPECT_EQ(imported.record["scales"], nlohmann::json::parse(R"([
      {"scale":"scale.phq9","date":"2025-01-01","total":12},
      {"scale":"scale.phq9","date":"2025-02-01","total":9},
      {"scale":"scale.gad7","date":"2025-02-01","total":7},
      {"scale":"scale.phq9","date":"2025-03-01","items":[1,1,1,1,0,0,0,0,1]}])"));
  // The sender's total 6 disagrees with the items (5): the items win, and the report says so.
  EXPECT_EQ(Messages(imported.report).back(), "entry 4: warning: PHQ-9 total 6 sent for 2025-03-01 differs from the sum of its items (5): the items are used");
}

TEST(FhirImport, RejectsWhatIsNotABundleOrHasNoSinglePatient) {
  auto not_bundle = fhir::ImportBundle(Fhir(), nlohmann::json{{"resourceType", "Patient"}}, Options("x.json"));
  ASSERT_FALSE(not_bundle);
  EXPECT_EQ(not_bundle.error().message, "not a FHIR Bundle (resourceType is \"Patient\")");
  EXPECT_EQ(not_bundle.error().location, "x.json#/resourceType");
  auto empty = fhir::ImportBundle(Fhir(), nlohmann::json{{"resourceType", "Bundle"}, {"type", "collection"}}, Options("x.json"));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "the bundle has no Patient resource (give the patient id to import it anyway)");
  nlohmann::json two = BundleOf({});
  two["entry"].push_back({{"resource", {{"resourceType", "Patient"}, {"id", "p2"}}}});
  auto several = fhir::ImportBundle(Fhir(), two, Options("x.json"));
  ASSERT_FALSE(several);
  EXPECT_EQ(several.error().message, "the bundle holds 2 patients (Patient/p1, Patient/p2): choose one with the patient id");
  auto chosen = fhir::ImportBundle(Fhir(), two, Options("x.json", "p2"));
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->record["id"], "p2");
  // A prefetch without a Patient: the id comes from the caller.
  auto prefetch = fhir::ImportBundle(Fhir(), nlohmann::json{{"resourceType", "Bundle"}, {"type", "collection"}}, Options("prefetch", "p9"));
  ASSERT_TRUE(prefetch);
  EXPECT_EQ(prefetch->record["id"], "p9");
}

nlohmann::json ConditionCoded(const std::string& system, const std::string& code, const std::string& text) {
  nlohmann::json codeable{{"coding", {{{"system", system}, {"code", code}}}}};
  if (!text.empty()) codeable["text"] = text;
  return {{"resourceType", "Condition"}, {"code", codeable}, {"clinicalStatus", {{"coding", {{{"code", "active"}}}}}}};
}

TEST(FhirImport, ConditionCodesThroughKbValueSets) {
  const std::string icd = "http://hl7.org/fhir/sid/icd-10-cm";
  const auto imported = Import(BundleOf({ConditionCoded(icd, "F331", ""), ConditionCoded(icd, "F32.81", "Premenstrual dysphoric disorder"),
                                         ConditionCoded(icd, "F31.81", ""), ConditionCoded(icd, "F31.9", ""),
                                         ConditionCoded(icd, "G40.909", "Seizure disorder")}));
  const auto& record = imported.record;
  ASSERT_EQ(record["diagnoses"].size(), 2U);
  EXPECT_EQ(record["diagnoses"][0]["kind"], "mdd");  // "F331" read as F33.1
  EXPECT_EQ(record["diagnoses"][1]["kind"], "bipolar_ii");
  EXPECT_EQ(record["history"]["bipolar"], true);
  ASSERT_EQ(record["conditions"].size(), 2U);
  EXPECT_EQ(record["conditions"][0]["name"], "Premenstrual dysphoric disorder");  // F32.8x is not MDD
  EXPECT_EQ(record["conditions"][1]["name"], "Seizure disorder (epilepsy)");     // the KB name is added for the rules
}

// One MedicationRequest with this dosage and medication code; returns the imported record and report.
fhir::ImportResult WithDosage(const std::string& rxcui, const nlohmann::json& dosage) {
  nlohmann::json request{{"resourceType", "MedicationRequest"},
                         {"id", "mr"},
                         {"status", "active"},
                         {"intent", "order"},
                         {"authoredOn", "2025-01-01"},
                         {"medicationCodeableConcept", {{"coding", {{{"system", "http://www.nlm.nih.gov/research/umls/rxnorm"}, {"code", rxcui}}}}}},
                         {"dosageInstruction", dosage.is_array() ? dosage : nlohmann::json::array({dosage})}};
  return Import(BundleOf({request}));
}

nlohmann::json Dosage(double value, const std::string& code, const nlohmann::json& timing) {
  nlohmann::json quantity{{"value", value}};
  if (!code.empty()) quantity["code"] = code;
  return {{"timing", timing}, {"doseAndRate", {{{"doseQuantity", quantity}}}}};
}

nlohmann::json Every(int frequency, double period, const std::string& unit) {
  return {{"repeat", {{"frequency", frequency}, {"period", period}, {"periodUnit", unit}}}};
}

nlohmann::json MgPerDay(const fhir::ImportResult& imported) {
  const auto& record = imported.record;
  for (const char* list : {"medications", "other_medications"}) {
    if (!record.contains(list)) continue;
    const auto& entry = record[list][0];
    if (entry.contains("doses")) return entry["doses"][0]["mg_per_day"];
    if (entry.contains("mg_per_day")) return entry["mg_per_day"];
  }
  return nullptr;
}

TEST(FhirDosage, DailyDoseFromStrengthQuantityAndTiming) {
  EXPECT_EQ(MgPerDay(WithDosage("312941", Dosage(2, "{tbl}", Every(1, 1, "d")))), 100);         // sertraline 50 mg tablets x 2
  EXPECT_EQ(MgPerDay(WithDosage("36437", Dosage(50, "mg", Every(2, 1, "d")))), 100);            // ingredient code, mg, BID
  EXPECT_EQ(MgPerDay(WithDosage("861064", Dosage(2.5, "mL", Every(1, 1, "d")))), 50);           // 20 mg/mL solution
  EXPECT_EQ(MgPerDay(WithDosage("865210", Dosage(1, "{patch}", Every(1, 1, "d")))), 9);         // selegiline 9 mg/24 h
  EXPECT_EQ(MgPerDay(WithDosage("313995", Dosage(1, "{capsule}", Every(1, 1, "wk")))), 12.857143);  // weekly fluoxetine 90 mg
  EXPECT_EQ(MgPerDay(WithDosage("312941", Dosage(1, "{tbl}", {{"code", {{"coding", {{{"code", "TID"}}}}}}}))), 150);  // GTS code
  EXPECT_EQ(MgPerDay(WithDosage("312941", Dosage(1, "", Every(1, 1, "d")))), 50);               // Synthea: no unit, one tablet
  // Morning and evening doses that start together are added.
  EXPECT_EQ(MgPerDay(WithDosage("349332", nlohmann::json::array({Dosage(1, "{tbl}", Every(1, 1, "d")), Dosage(1, "{tbl}", Every(1, 1, "d"))}))), 20);
}

TEST(FhirDosage, UncomputableDosesAreReportedNotGuessed) {
  auto unitless = WithDosage("312941", Dosage(50, "", Every(1, 1, "d")));
  EXPECT_EQ(MgPerDay(unitless), nullptr);
  EXPECT_EQ(Messages(unitless.report)[0], "entry 1: error: dose 50 has no unit");
  auto combination = WithDosage("403969", Dosage(6, "mg", Every(1, 1, "d")));
  EXPECT_EQ(Messages(combination.report)[0],
            "entry 1: error: a dose of 6 mg of olanzapine/fluoxetine cannot be assigned to one component (mg/day of the fluoxetine component (6 mg/25 mg "
            "capsule = 25)): give it in units of the product");
  auto by_ingredient = WithDosage("36437", Dosage(2, "{tbl}", Every(1, 1, "d")));
  EXPECT_EQ(Messages(by_ingredient.report)[0], "entry 1: error: a dose of 2 {tbl} cannot be turned into mg: sertraline is coded by ingredient, not by a product with a strength");
  auto no_period = WithDosage("312941", Dosage(1, "{tbl}", {{"repeat", {{"frequency", 2}}}}));
  EXPECT_EQ(Messages(no_period.report)[0], "entry 1: error: frequency 2 without a period");
  EXPECT_EQ(by_ingredient.report.resources[1].outcome, fhir::ResourceOutcome::Partial);
}

TEST(FhirImport, RecordCheckRemovesWhatTheParserRejects) {
  // A course whose refract extension names a course that is not there: the parser rejects the record;
  // the import removes that course and says why instead of failing.
  nlohmann::json statement = nlohmann::json::parse(R"({
    "resourceType": "MedicationStatement", "id": "ms-aug", "status": "active", "effectiveDateTime": "2025-01-01",
    "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "89013"}]},
    "extension": [{"url": "https://refract.example/fhir/StructureDefinition/refract-course",
                   "extension": [{"url": "augments", "valueString": "c-missing"}]}]})");
  const auto imported = Import(BundleOf({statement}));
  EXPECT_FALSE(imported.record.contains("medications"));
  ASSERT_EQ(imported.report.resources[1].outcome, fhir::ResourceOutcome::NotImported);
  EXPECT_EQ(Messages(imported.report).back(), "entry 1: error: removed from the record (/medications/0/augments): augments \"c-missing\" names no course in medications");
}

TEST(FhirImport, ReportTextSummarises) {
  const auto imported = ImportFixture("malformed.bundle.json");
  const std::string text = fhir::ImportReportToText(imported.report);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "FHIR import of malformed.bundle.json (Bundle collection), patient m1: 17 resources: 1 imported, 4 partly, 12 not imported, 0 ignored; 18 "
            "errors, 2 warnings");
  EXPECT_NE(text.find("  entry 11 Observation/other-patient: not_imported\n    error: belongs to Patient/someone-else, not to the imported patient [other_patient] at /entry/11/resource/subject\n"),
            std::string::npos);
}

TEST(FhirImport, ImportedBundleIsAssessed) {
  const auto imported = ImportFixture("synthea-ect.bundle.json");
  auto patient = app::Parser().Parse(Kb(), imported.record, "record");
  ASSERT_TRUE(patient);
  EvaluateOptions options;
  options.as_of = *ParseDate("2024-04-01");
  auto assessment = Evaluate(Kb(), *patient, options);
  ASSERT_TRUE(assessment);
  ASSERT_EQ(assessment->procedures.size(), 1U);
  EXPECT_EQ(assessment->procedures[0].kind, "ect");
  EXPECT_EQ(assessment->procedures[0].sessions, 8);
  ASSERT_EQ(assessment->trials.size(), 3U);
  EXPECT_EQ(assessment->trials[0].drug->id, "drug.venlafaxine");
}

}  // namespace
}  // namespace refract
