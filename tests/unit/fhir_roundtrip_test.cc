// SPDX-License-Identifier: Apache-2.0
// Round trips: record -> FHIR -> record gives the record back (every example, golden case input and
// regimen case), with the same assessment; FHIR -> record -> FHIR -> record is stable.
#include <gtest/gtest.h>

#include "../fhir/fhir_test_support.h"
#include "refract/core/interactions.h"
#include "refract/core/report.h"
#include "refract/fhir/export.h"

namespace refract {
namespace {

using fhir_testing::Fhir;
using fhir_testing::Kb;
using fhir_testing::Options;
using fhir_testing::ReadJson;

// Empty objects and arrays say nothing; a round trip may drop them.
nlohmann::json WithoutEmpty(const nlohmann::json& value) {
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, member] : value.items()) {
      nlohmann::json cleaned = WithoutEmpty(member);
      if ((cleaned.is_object() || cleaned.is_array()) && cleaned.empty()) continue;
      out[key] = std::move(cleaned);
    }
    return out;
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& member : value) out.push_back(WithoutEmpty(member));
    return out;
  }
  return value;
}

std::vector<std::filesystem::path> Records() {
  std::vector<std::filesystem::path> out;
  const auto root = fhir_testing::SourceDir();
  for (const auto& entry : std::filesystem::directory_iterator(root / "examples")) out.push_back(entry.path());
  for (const char* group : {"adequacy", "outcome", "staging", "trd"}) {
    for (const auto& entry : std::filesystem::directory_iterator(root / "tests" / "cases" / group)) {
      if (entry.path().string().ends_with(".in.json")) out.push_back(entry.path());
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(root / "tests" / "regimens")) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

struct Input {
  nlohmann::json record;
  Date as_of;
};

std::optional<Input> ReadInput(const std::filesystem::path& path) {
  const nlohmann::json json = ReadJson(path);
  if (json.contains("patient")) return Input{json["patient"], *ParseDate(json.value("as_of", "2026-11-01"))};
  if (json.value("schema", "") == "refract.patient/v1") return Input{json, *ParseDate("2026-11-01")};
  return std::nullopt;
}

nlohmann::json Assess(const PatientRecord& patient, Date as_of) {
  EvaluateOptions options;
  options.as_of = as_of;
  auto assessment = Evaluate(Kb(), patient, options);
  return assessment ? AssessmentToJson(*assessment, EngineInfo{"refract", "test"}) : nlohmann::json{{"error", assessment.error().message}};
}

TEST(FhirRoundTrip, EveryRecordComesBackFromItsBundle) {
  int checked = 0;
  for (const auto& path : Records()) {
    const auto input = ReadInput(path);
    if (!input) continue;
    auto patient = app::Parser().Parse(Kb(), input->record, path.string());
    if (!patient) continue;  // Error cases are not records.
    SCOPED_TRACE(path.string());
    fhir::ExportOptions options;
    options.engine = EngineInfo{"refract", "test"};
    options.generated_at = "2026-11-01T00:00:00Z";
    const nlohmann::json bundle = fhir::ExportBundle(Fhir(), *patient, nullptr, nullptr, options);
    auto imported = fhir::ImportBundle(Fhir(), bundle, Options(path.filename().string()));
    ASSERT_TRUE(imported) << imported.error().message;
    EXPECT_EQ(WithoutEmpty(imported->record), WithoutEmpty(input->record)) << nlohmann::json::diff(input->record, imported->record).dump(2);
    EXPECT_EQ(imported->report.Count(fhir::ResourceOutcome::NotImported), 0);
    auto back = app::Parser().Parse(Kb(), imported->record, "back");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(Assess(*back, input->as_of), Assess(*patient, input->as_of));
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

TEST(FhirRoundTrip, AssessmentResourcesInTheBundleAreNotReadAsPatientData) {
  for (const char* name : {"escitalopram-faded.json", "older-adult-citalopram.json", "stage-iv-ect.json"}) {
    SCOPED_TRACE(name);
    const nlohmann::json record = ReadJson(fhir_testing::SourceDir() / "examples" / name);
    auto patient = app::Parser().Parse(Kb(), record, name);
    ASSERT_TRUE(patient);
    EvaluateOptions evaluate;
    evaluate.as_of = *ParseDate("2026-11-01");
    auto assessment = Evaluate(Kb(), *patient, evaluate);
    ASSERT_TRUE(assessment);
    auto knowledge = LoadInteractionKnowledge(Kb());
    ASSERT_TRUE(knowledge);
    const InteractionReport interactions = CheckRegimen(*knowledge, RegimenFromPatient(Kb(), *patient, evaluate.as_of), evaluate.as_of);
    fhir::ExportOptions options;
    options.engine = EngineInfo{"refract", "test"};
    options.generated_at = "2026-11-01T00:00:00Z";
    const nlohmann::json bundle = fhir::ExportBundle(Fhir(), *patient, &*assessment, &interactions, options);
    auto imported = fhir::ImportBundle(Fhir(), bundle, Options(name));
    ASSERT_TRUE(imported);
    EXPECT_EQ(WithoutEmpty(imported->record), WithoutEmpty(record)) << nlohmann::json::diff(record, imported->record).dump(2);
  }
}

TEST(FhirRoundTrip, ForeignBundleIsStableThroughRefract) {
  for (const char* name : {"uscore-trd.bundle.json", "synthea-ect.bundle.json"}) {
    SCOPED_TRACE(name);
    auto first = fhir::ImportBundle(Fhir(), ReadJson(fhir_testing::SourceDir() / "tests" / "fhir" / name), Options(name));
    ASSERT_TRUE(first);
    auto patient = app::Parser().Parse(Kb(), first->record, name);
    ASSERT_TRUE(patient);
    fhir::ExportOptions options;
    options.engine = EngineInfo{"refract", "test"};
    auto second = fhir::ImportBundle(Fhir(), fhir::ExportBundle(Fhir(), *patient, nullptr, nullptr, options), Options(name));
    ASSERT_TRUE(second);
    EXPECT_EQ(WithoutEmpty(second->record), WithoutEmpty(first->record)) << nlohmann::json::diff(first->record, second->record).dump(2);
  }
}

}  // namespace
}  // namespace refract
