// SPDX-License-Identifier: Apache-2.0
// Runs every golden case under tests/cases: parse, Evaluate(), serialise, compare with the
// .out.json, and check the case's own `expect` pointers. REFRACT_UPDATE_GOLDEN=1 rewrites goldens.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "refract/app/app.h"
#include "refract/app/embedded.h"
#include "refract/core/json_schema.h"
#include "refract/core/report.h"
#include "../unit/fixture_kb.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kSource = REFRACT_SOURCE_DIR;

std::vector<std::string> CaseFiles() {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(kSource / "tests" / "cases")) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 8 && name.substr(name.size() - 8) == ".in.json") out.push_back(fs::relative(entry.path(), kSource / "tests" / "cases").generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const refract::KnowledgeBase& Kb(const std::string& which) {
  if (which == "fixtures") return refract::testing_support::FixtureKb();
  static const refract::KnowledgeBase real = [] {
    auto kb = refract::app::LoadKb(std::nullopt);
    if (!kb) {
      std::fprintf(stderr, "built-in KB does not load: %s\n", kb.error().message.c_str());
      std::abort();
    }
    return std::move(*kb);
  }();
  return real;
}

std::string ReadText(const fs::path& path) {
  std::ifstream stream(path);
  std::ostringstream buffer;
  buffer << stream.rdbuf();
  return buffer.str();
}

// Versions and digests change with every release; goldens hold placeholders.
json Normalise(json output) {
  if (output.contains("engine")) {
    output["engine"]["version"] = "<engine>";
    output["engine"]["kb_version"] = "<kb>";
    output["engine"]["kb_digest"] = "<kb>";
  }
  return output;
}

json RunCase(const json& input) {
  const std::string kb_name = input.value("kb", "real");
  const auto& kb = Kb(kb_name);
  auto patient = refract::app::Parser().Parse(kb, input.at("patient"), "patient");
  if (!patient) return refract::ErrorToJson(patient.error());
  refract::EvaluateOptions options;
  options.as_of = *refract::ParseDate(input.at("as_of").get<std::string>());
  options.criteria_id = input.value("criteria", "");
  // Drivers, options and monitoring are large: tests/unit/next_steps_test.cc checks them through each
  // next_steps case's `expect_next_steps`; a case may still ask for them in its golden ("next_steps": true).
  options.next_steps = input.value("next_steps", false);
  auto assessment = refract::Evaluate(kb, *patient, options);
  if (!assessment) return refract::ErrorToJson(assessment.error());
  json output = refract::AssessmentToJson(*assessment, refract::app::Engine());
  static const refract::SchemaValidator validator(json::parse(refract::embedded::AssessmentSchema()));
  for (const auto& violation : validator.Validate(output)) ADD_FAILURE() << "assessment schema: " << violation.pointer << ": " << violation.message;
  return Normalise(output);
}

class GoldenCase : public testing::TestWithParam<std::string> {};

TEST_P(GoldenCase, MatchesGoldenAndExpectations) {
  const fs::path in_path = kSource / "tests" / "cases" / GetParam();
  const json input = json::parse(ReadText(in_path));
  ASSERT_TRUE(input.contains("description")) << "every case says what it proves";
  const json output = RunCase(input);

  if (input.contains("expect_error")) {
    ASSERT_TRUE(output.contains("error")) << "expected an error, got an assessment";
    const json& expected = input["expect_error"];
    EXPECT_EQ(output["error"]["code"], expected.value("code", "invalid_input") == "InvalidInput" ? "invalid_input" : expected.value("code", "invalid_input"));
    if (expected.contains("location")) {
      EXPECT_EQ(output["error"]["location"], "patient#" + expected["location"].get<std::string>());
    }
    if (expected.contains("message")) {
      EXPECT_EQ(output["error"]["message"], expected["message"]);
    }
  } else {
    ASSERT_FALSE(output.contains("error")) << output.dump(2);
    ASSERT_TRUE(input.contains("expect")) << "every case asserts its own facts";
    for (const auto& [pointer, value] : input["expect"].items()) {
      const json::json_pointer where(pointer);
      ASSERT_TRUE(output.contains(where)) << "output has no " << pointer;
      EXPECT_EQ(output.at(where), value) << "at " << pointer;
    }
  }

  fs::path out_path = in_path;
  out_path.replace_filename(in_path.filename().string().substr(0, in_path.filename().string().size() - 8) + ".out.json");
  const std::string rendered = output.dump(2) + "\n";
  const char* update = std::getenv("REFRACT_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(out_path) << rendered;
    return;
  }
  ASSERT_TRUE(fs::exists(out_path)) << out_path << " is missing: run REFRACT_UPDATE_GOLDEN=1 ctest -R GoldenCase and review the diff";
  const std::string golden = ReadText(out_path);
  if (golden == rendered) return;
  // Show the first differing line, not two whole documents.
  std::istringstream golden_lines(golden);
  std::istringstream rendered_lines(rendered);
  std::string golden_line;
  std::string rendered_line;
  int line = 0;
  while (true) {
    ++line;
    const bool more_golden = static_cast<bool>(std::getline(golden_lines, golden_line));
    const bool more_rendered = static_cast<bool>(std::getline(rendered_lines, rendered_line));
    if (!more_golden && !more_rendered) break;
    if (golden_line != rendered_line || more_golden != more_rendered) break;
  }
  ADD_FAILURE() << "golden differs: " << out_path.string() << " line " << line << "\n  golden: " << golden_line << "\n  now:    "
                << rendered_line << "\n(REFRACT_UPDATE_GOLDEN=1 ctest -R GoldenCase rewrites goldens; review the diff)";
}

std::string CaseName(const testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (const char character : info.param.substr(0, info.param.size() - 8)) {
    name.push_back(std::isalnum(static_cast<unsigned char>(character)) != 0 ? character : '_');
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenCase, testing::ValuesIn(CaseFiles()), CaseName);

std::vector<std::string> Codes(const std::vector<refract::Finding>& findings) {
  std::vector<std::string> out;
  for (const refract::Finding& finding : findings) out.push_back(finding.code);
  return out;
}

// Population screening evaluates with explain off: every verdict, count, stage and finding code must
// be what the explained evaluation gives, and no finding text is built.
class VerdictOnlyCase : public testing::TestWithParam<std::string> {};

TEST_P(VerdictOnlyCase, GivesTheVerdictsOfTheExplainedEvaluation) {
  const json input = json::parse(ReadText(kSource / "tests" / "cases" / GetParam()));
  if (input.contains("expect_error")) GTEST_SKIP() << "an error case has no verdicts";
  const auto& kb = Kb(input.value("kb", "real"));
  auto patient = refract::app::Parser().Parse(kb, input.at("patient"), "patient");
  ASSERT_TRUE(patient);
  refract::EvaluateOptions options;
  options.as_of = *refract::ParseDate(input.at("as_of").get<std::string>());
  options.criteria_id = input.value("criteria", "");
  options.regimen_and_genotypes = false;
  options.next_steps = false;
  auto explained = refract::Evaluate(kb, *patient, options);
  options.explain = false;
  auto verdicts = refract::Evaluate(kb, *patient, options);
  ASSERT_TRUE(explained);
  ASSERT_TRUE(verdicts);
  EXPECT_EQ(verdicts->trd.status, explained->trd.status);
  EXPECT_EQ(verdicts->trd.failed_adequate_trials, explained->trd.failed_adequate_trials);
  EXPECT_EQ(verdicts->trd.failed_drugs, explained->trd.failed_drugs);
  EXPECT_EQ(verdicts->trd.failed_trial_indices, explained->trd.failed_trial_indices);
  EXPECT_EQ(verdicts->trd.undecided_trial_indices, explained->trd.undecided_trial_indices);
  EXPECT_EQ(Codes(verdicts->trd.findings), Codes(explained->trd.findings));
  EXPECT_EQ(Codes(verdicts->findings), Codes(explained->findings));
  ASSERT_EQ(verdicts->trials.size(), explained->trials.size());
  for (std::size_t trial_idx = 0; trial_idx < explained->trials.size(); ++trial_idx) {
    const refract::TrialAssessment& left = verdicts->trials[trial_idx];
    const refract::TrialAssessment& right = explained->trials[trial_idx];
    EXPECT_EQ(left.adequacy, right.adequacy) << "trial " << trial_idx;
    EXPECT_EQ(left.failed, right.failed) << "trial " << trial_idx;
    EXPECT_EQ(left.outcome, right.outcome) << "trial " << trial_idx;
    EXPECT_EQ(left.episode, right.episode) << "trial " << trial_idx;
    EXPECT_EQ(left.days_at_adequate_dose, right.days_at_adequate_dose) << "trial " << trial_idx;
    EXPECT_EQ(Codes(left.adequacy_reasons), Codes(right.adequacy_reasons)) << "trial " << trial_idx;
    EXPECT_EQ(Codes(left.findings), Codes(right.findings)) << "trial " << trial_idx;
    for (const refract::Finding& finding : left.adequacy_reasons) EXPECT_TRUE(finding.message.empty());
  }
  ASSERT_EQ(verdicts->procedures.size(), explained->procedures.size());
  for (std::size_t procedure_idx = 0; procedure_idx < explained->procedures.size(); ++procedure_idx) {
    EXPECT_EQ(verdicts->procedures[procedure_idx].failed, explained->procedures[procedure_idx].failed);
    EXPECT_EQ(Codes(verdicts->procedures[procedure_idx].findings), Codes(explained->procedures[procedure_idx].findings));
  }
  EXPECT_EQ(verdicts->thase_rush.stage, explained->thase_rush.stage);
  EXPECT_EQ(verdicts->european.category, explained->european.category);
  EXPECT_EQ(verdicts->european.total_weeks, explained->european.total_weeks);
  EXPECT_EQ(verdicts->maudsley.total, explained->maudsley.total);
  EXPECT_EQ(verdicts->maudsley.band, explained->maudsley.band);
  EXPECT_EQ(verdicts->mgh.score, explained->mgh.score);
  EXPECT_TRUE(verdicts->thase_rush.explanation.computation.empty());
  EXPECT_TRUE(verdicts->cited_sources.empty());
  ASSERT_EQ(verdicts->alerts.size(), explained->alerts.size());
  for (std::size_t alert_idx = 0; alert_idx < explained->alerts.size(); ++alert_idx) {
    EXPECT_EQ(verdicts->alerts[alert_idx].finding.code, explained->alerts[alert_idx].finding.code);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, VerdictOnlyCase, testing::ValuesIn(CaseFiles()), CaseName);

}  // namespace
