// SPDX-License-Identifier: Apache-2.0
// FHIR export: scores as Observations, the assessment as Observations, DetectedIssues and a CarePlan,
// Provenance with engine and KB version, resolvable references, determinism.
#include <set>

#include <gtest/gtest.h>

#include "../fhir/fhir_test_support.h"
#include "refract/core/interactions.h"
#include "refract/core/next_steps.h"
#include "refract/fhir/export.h"

namespace refract {
namespace {

using fhir_testing::Fhir;
using fhir_testing::Kb;
using fhir_testing::ReadJson;

struct Exported {
  nlohmann::json bundle;
  Assessment assessment;
  InteractionReport interactions;
};

Exported ExportExample(const std::string& name, const std::string& bundle_type = "collection") {
  const nlohmann::json record = ReadJson(fhir_testing::SourceDir() / "examples" / name);
  auto patient = app::Parser().Parse(Kb(), record, name);
  EXPECT_TRUE(patient);
  EvaluateOptions evaluate;
  evaluate.as_of = *ParseDate("2026-11-01");
  auto assessment = Evaluate(Kb(), *patient, evaluate);
  EXPECT_TRUE(assessment);
  auto knowledge = LoadInteractionKnowledge(Kb());
  EXPECT_TRUE(knowledge);
  InteractionReport interactions = CheckRegimen(*knowledge, RegimenFromPatient(Kb(), *patient, evaluate.as_of), evaluate.as_of);
  fhir::ExportOptions options;
  options.engine = EngineInfo{"refract", "9.9.9"};
  options.generated_at = "2026-11-01T12:00:00Z";
  options.bundle_type = bundle_type;
  nlohmann::json bundle = fhir::ExportBundle(Fhir(), *patient, &*assessment, &interactions, options);
  return Exported{std::move(bundle), std::move(*assessment), std::move(interactions)};
}

std::vector<const nlohmann::json*> OfType(const nlohmann::json& bundle, const std::string& type) {
  std::vector<const nlohmann::json*> out;
  for (const auto& entry : bundle["entry"]) {
    if (entry["resource"]["resourceType"] == type) out.push_back(&entry["resource"]);
  }
  return out;
}

void CollectReferences(const nlohmann::json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      // DetectedIssue.reference is a URI to the rule, not a Reference.
      if (key == "reference" && value.is_string() && !node.contains("resourceType")) out.push_back(value.get<std::string>());
      CollectReferences(value, out);
    }
  } else if (node.is_array()) {
    for (const auto& value : node) CollectReferences(value, out);
  }
}

TEST(FhirExport, EveryReferenceResolvesInsideTheBundle) {
  const auto exported = ExportExample("older-adult-citalopram.json");
  std::set<std::string> urls;
  for (const auto& entry : exported.bundle["entry"]) {
    ASSERT_TRUE(entry["fullUrl"].get<std::string>().starts_with("urn:uuid:"));
    EXPECT_EQ(entry["fullUrl"], "urn:uuid:" + entry["resource"]["id"].get<std::string>());
    EXPECT_TRUE(urls.insert(entry["fullUrl"].get<std::string>()).second) << "duplicate " << entry["fullUrl"];
  }
  std::vector<std::string> references;
  CollectReferences(exported.bundle, references);
  EXPECT_GT(references.size(), 50U);
  for (const std::string& reference : references) EXPECT_EQ(urls.count(reference), 1U) << reference;
}

TEST(FhirExport, AssessmentBecomesObservationsDetectedIssuesCarePlanAndProvenance) {
  const auto exported = ExportExample("older-adult-citalopram.json");
  const auto& bundle = exported.bundle;
  const auto issues = OfType(bundle, "DetectedIssue");
  EXPECT_EQ(issues.size(), exported.assessment.alerts.size() + exported.interactions.findings.size());
  for (const auto* issue : issues) {
    EXPECT_EQ((*issue)["meta"]["tag"][0]["code"], "derived");
    EXPECT_TRUE((*issue)["severity"] == "high" || (*issue)["severity"] == "moderate" || (*issue)["severity"] == "low");
  }
  const auto devices = OfType(bundle, "Device");
  ASSERT_EQ(devices.size(), 1U);
  EXPECT_EQ((*devices[0])["version"][0]["value"], "9.9.9");
  EXPECT_EQ((*devices[0])["version"][1]["value"], Kb().version());
  const auto provenance = OfType(bundle, "Provenance");
  ASSERT_EQ(provenance.size(), 1U);
  EXPECT_EQ((*provenance[0])["recorded"], "2026-11-01T12:00:00Z");
  EXPECT_EQ((*provenance[0])["policy"][0], "https://refract.example/fhir/kb/" + Kb().version());
  // Provenance names every assessment output (and nothing of the record).
  std::size_t derived = 0;
  for (const auto& entry : bundle["entry"]) {
    const auto& tags = entry["resource"].value("meta", nlohmann::json::object()).value("tag", nlohmann::json::array());
    if (!tags.empty() && entry["resource"]["resourceType"] != "Provenance") ++derived;
  }
  EXPECT_EQ((*provenance[0])["target"].size(), derived);
  bool has_trd = false;
  for (const auto* observation : OfType(bundle, "Observation")) {
    const auto& coding = (*observation)["code"]["coding"][0];
    if (coding["code"] != "trd-status") continue;
    has_trd = true;
    EXPECT_EQ((*observation)["valueCodeableConcept"]["coding"][0]["code"], std::string(TrdStatusName(exported.assessment.trd.status)));
    EXPECT_EQ((*observation)["component"][0]["valueInteger"], exported.assessment.trd.failed_adequate_trials);
  }
  EXPECT_TRUE(has_trd);
  const auto care_plans = OfType(bundle, "CarePlan");
  if (!exported.interactions.findings.empty()) {
    ASSERT_EQ(care_plans.size(), 1U);
    EXPECT_EQ((*care_plans[0])["intent"], "proposal");
    EXPECT_FALSE((*care_plans[0])["activity"].empty());
  }
}

TEST(FhirExport, ScoresAreSurveyObservationsWithLoincAndBand) {
  const auto exported = ExportExample("escitalopram-faded.json");
  int scores = 0;
  for (const auto* observation : OfType(exported.bundle, "Observation")) {
    if ((*observation).value("meta", nlohmann::json::object()).value("tag", nlohmann::json::array()).empty()) continue;
    if ((*observation)["meta"]["tag"][0]["code"] != "score") continue;
    ++scores;
    EXPECT_EQ((*observation)["category"][0]["coding"][0]["code"], "survey");
    if ((*observation)["code"]["coding"][0]["code"] == "44261-6") {
      EXPECT_EQ((*observation)["code"]["coding"][0]["system"], "http://loinc.org");
      EXPECT_EQ((*observation)["valueQuantity"]["code"], "{score}");
      EXPECT_FALSE((*observation)["interpretation"][0]["text"].get<std::string>().empty());
    }
  }
  EXPECT_EQ(scores, static_cast<int>(exported.assessment.measurement.administrations.size()));
}

TEST(FhirExport, SameInputSameBundle) {
  EXPECT_EQ(ExportExample("stage-iv-ect.json").bundle, ExportExample("stage-iv-ect.json").bundle);
}

TEST(FhirExport, TransactionEntriesArePosts) {
  const auto exported = ExportExample("bipolar-ii.json", "transaction");
  EXPECT_EQ(exported.bundle["type"], "transaction");
  for (const auto& entry : exported.bundle["entry"]) {
    EXPECT_EQ(entry["request"]["method"], "POST");
    EXPECT_EQ(entry["request"]["url"], entry["resource"]["resourceType"]);
  }
}

// The monitoring checklists of current treatments become dated CarePlan activities: recorded checks
// completed, past ones without a result not started, later ones scheduled.
TEST(FhirExport, MonitoringChecklistsOfCurrentTreatmentsAreCarePlanActivities) {
  const nlohmann::json record = nlohmann::json::parse(R"({"schema":"refract.patient/v1","id":"lithium-monitoring","person":{"age_years":50},
    "medications":[{"drug":"sertraline","start":"2026-06-01","ongoing":true,"doses":[{"from":"2026-06-01","mg_per_day":150}]},
                   {"drug":"lithium","start":"2026-10-20","ongoing":true,"role":"augmentation","doses":[{"from":"2026-10-20","mg_per_day":600}]}],
    "labs":[{"name":"lithium_level","value":0.6,"unit":"mmol/L","date":"2026-10-27"}]})");
  auto patient = app::Parser().Parse(Kb(), record, "record");
  ASSERT_TRUE(patient) << patient.error().message;
  EvaluateOptions evaluate;
  evaluate.as_of = *ParseDate("2026-11-01");
  auto assessment = Evaluate(Kb(), *patient, evaluate);
  ASSERT_TRUE(assessment);
  ASSERT_TRUE(assessment->next_steps);
  std::size_t checks = 0;
  for (const MonitoringResult& plan : assessment->next_steps->monitoring) checks += plan.basis == "current" ? plan.checklist.size() : 0;
  ASSERT_GT(checks, 0U);
  fhir::ExportOptions options;
  options.engine = EngineInfo{"refract", "9.9.9"};
  const nlohmann::json bundle = fhir::ExportBundle(Fhir(), *patient, &*assessment, nullptr, options);
  const auto care_plans = OfType(bundle, "CarePlan");
  ASSERT_EQ(care_plans.size(), 1U);
  std::vector<nlohmann::json> monitoring;
  for (const auto& activity : (*care_plans[0])["activity"]) {
    if (activity["detail"]["code"]["coding"][0]["system"] == "https://refract.example/fhir/CodeSystem/monitoring") monitoring.push_back(activity["detail"]);
  }
  EXPECT_EQ(monitoring.size(), checks);
  std::set<std::string> statuses;
  for (const auto& detail : monitoring) {
    statuses.insert(detail["status"].get<std::string>());
    ASSERT_EQ(detail["scheduledTiming"]["event"].size(), 1U);
    EXPECT_TRUE(ParseDate(detail["scheduledTiming"]["event"][0].get<std::string>())) << detail.dump();
    EXPECT_FALSE(detail["description"].get<std::string>().empty());
  }
  // Day 7 (2026-10-27) has its level; the baseline of 2026-10-20 has no result the record could show.
  bool level_done = false;
  for (const auto& detail : monitoring) {
    if (detail["scheduledTiming"]["event"][0] == "2026-10-27" && detail["status"] == "completed") level_done = true;
  }
  EXPECT_TRUE(level_done);
  EXPECT_TRUE(statuses.contains("not-started"));
  EXPECT_TRUE(statuses.contains("scheduled"));
}

}  // namespace
}  // namespace refract
