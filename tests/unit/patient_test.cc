// SPDX-License-Identifier: Apache-2.0
#include <filesystem>

#include <gtest/gtest.h>

#include "refract/app/app.h"
#include "fixture_kb.h"

namespace refract {
namespace {

using nlohmann::json;

using testing_support::FixtureKb;

Result<PatientRecord> Parse(const char* text) { return app::Parser().Parse(FixtureKb(), json::parse(text), "p.json"); }

TEST(PatientParser, ReadsCoursesWithDrugNamesResolved) {
  const auto patient = Parse(R"({"schema": "refract.patient/v1", "id": "x",
    "medications": [{"drug": "Zoloft", "start": "2026-01-01", "end": "2026-03-01", "doses": [{"from": "2026-01-01", "mg_per_day": 50}]}]})");
  ASSERT_TRUE(patient) << patient.error().message;
  ASSERT_EQ(patient->courses.size(), 1U);
  EXPECT_EQ(patient->courses[0].drug->id, "drug.sertraline");
  EXPECT_EQ(patient->courses[0].input_name, "Zoloft");
}

TEST(PatientParser, UnknownDrugNamesPointerAndSuggestion) {
  const auto patient = Parse(R"({"schema": "refract.patient/v1", "id": "x", "medications": [{"drug": "sertralime", "start": "2026-01-01"}]})");
  ASSERT_FALSE(patient);
  EXPECT_EQ(patient.error().location, "p.json#/medications/0/drug");
  EXPECT_EQ(patient.error().message, "unknown drug \"sertralime\" (did you mean \"sertraline\"?)");
}

TEST(PatientParser, RejectsWrongSchemaVersion) {
  const auto patient = Parse(R"({"schema": "refract.patient/v2", "id": "x"})");
  ASSERT_FALSE(patient);
  EXPECT_EQ(patient.error().location, "p.json#/schema");
  EXPECT_EQ(patient.error().message, "expected \"refract.patient/v1\", got \"refract.patient/v2\"");
}

TEST(PatientParser, RejectsEndBeforeStart) {
  const auto patient = Parse(R"({"schema": "refract.patient/v1", "id": "x", "medications": [{"drug": "sertraline", "start": "2026-03-01", "end": "2026-01-01"}]})");
  ASSERT_FALSE(patient);
  EXPECT_EQ(patient.error().location, "p.json#/medications/0/end");
  EXPECT_EQ(patient.error().message, "end 2026-01-01 is before start 2026-03-01");
}

TEST(PatientParser, RejectsDoseStepsOutOfOrder) {
  const auto patient = Parse(R"({"schema": "refract.patient/v1", "id": "x", "medications": [{"drug": "sertraline", "start": "2026-01-01",
    "doses": [{"from": "2026-02-01", "mg_per_day": 100}, {"from": "2026-01-15", "mg_per_day": 50}]}]})");
  ASSERT_FALSE(patient);
  EXPECT_EQ(patient.error().location, "p.json#/medications/0/doses/1/from");
  EXPECT_EQ(patient.error().message, "dose steps must be in time order: 2026-01-15 does not come after 2026-02-01");
}

TEST(PatientParser, RejectsUnknownAugmentsTarget) {
  const auto patient = Parse(R"({"schema": "refract.patient/v1", "id": "x", "medications": [{"id": "a", "drug": "sertraline", "start": "2026-01-01"},
    {"drug": "sertraline", "start": "2026-01-01", "augments": "b"}]})");
  ASSERT_FALSE(patient);
  EXPECT_EQ(patient.error().location, "p.json#/medications/1/augments");
  EXPECT_EQ(patient.error().message, "augments \"b\" names no course in medications");
}

TEST(PatientParser, MissingClinicalDataIsNotAnError) {
  const auto patient = Parse(R"({"schema": "refract.patient/v1", "id": "x", "medications": [{"drug": "sertraline", "start": "2026-01-01"}]})");
  ASSERT_TRUE(patient);
  EXPECT_FALSE(patient->courses[0].end);
  EXPECT_TRUE(patient->courses[0].doses.empty());
}

}  // namespace
}  // namespace refract
