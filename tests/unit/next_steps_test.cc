// SPDX-License-Identifier: Apache-2.0
// What next: the real KB's next-steps files load and cross-check, and every golden case under
// tests/cases/next_steps (*.in.json) gives the driver and option statuses, reason codes and
// monitoring plans its `expect_next_steps` block names.
#include "refract/core/next_steps.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "refract/app/app.h"

namespace refract {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Loaded {
  KnowledgeBase kb;
  std::optional<NextStepsKnowledge> knowledge;
};

const Loaded& Built() {
  static const Loaded* loaded = [] {
    auto kb = app::LoadKb(std::nullopt);
    if (!kb) {
      std::fprintf(stderr, "built-in KB does not load: %s\n", kb.error().message.c_str());
      std::abort();
    }
    auto* out = new Loaded{std::move(*kb), std::nullopt};
    auto knowledge = LoadNextStepsKnowledge(out->kb);
    if (!knowledge) {
      std::fprintf(stderr, "next-steps knowledge does not load: %s: %s\n", knowledge.error().location.c_str(), knowledge.error().message.c_str());
      std::abort();
    }
    out->knowledge = std::move(*knowledge);
    return out;
  }();
  return *loaded;
}

std::string ReadText(const fs::path& path) {
  std::ifstream stream(path);
  std::ostringstream buffer;
  buffer << stream.rdbuf();
  return buffer.str();
}

std::vector<std::string> CaseFiles() {
  std::vector<std::string> out;
  const fs::path dir = fs::path(REFRACT_SOURCE_DIR) / "tests" / "cases" / "next_steps";
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 8 && name.substr(name.size() - 8) == ".in.json") out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct Ran {
  NextSteps next;
  json output;
};

std::optional<Ran> RunCase(const json& input) {
  const Loaded& loaded = Built();
  auto patient = app::Parser().Parse(loaded.kb, input.at("patient"), "patient");
  if (!patient) {
    ADD_FAILURE() << "patient does not parse: " << patient.error().location << ": " << patient.error().message;
    return std::nullopt;
  }
  EvaluateOptions options;
  options.as_of = *ParseDate(input.at("as_of").get<std::string>());
  auto assessment = Evaluate(loaded.kb, *patient, options);
  if (!assessment) {
    ADD_FAILURE() << "assessment fails: " << assessment.error().message;
    return std::nullopt;
  }
  Ran ran{EvaluateNextSteps(*loaded.knowledge, loaded.kb, *patient, *assessment), {}};
  ran.output = NextStepsToJson(ran.next);
  return ran;
}

const OptionResult* FindOption(const NextSteps& next, std::string_view id) {
  for (const OptionResult& option : next.options) {
    if (option.id == id) return &option;
  }
  return nullptr;
}

const DriverResult* FindDriver(const NextSteps& next, std::string_view id) {
  for (const DriverResult& driver : next.drivers) {
    if (driver.id == id) return &driver;
  }
  return nullptr;
}

std::string DescribeOption(const OptionResult& option) {
  std::string out = std::string(OptionStatusName(option.status)) + "\n";
  for (const Finding& reason : option.reasons) out += "    " + reason.code + ": " + reason.message + "\n";
  for (const CandidateResult& candidate : option.candidates) {
    for (const Finding& reason : candidate.reasons) out += "    [" + candidate.drug_name + "] " + reason.code + ": " + reason.message + "\n";
  }
  return out;
}

bool HasReason(const OptionResult& option, const std::string& code) {
  const auto match = [&code](const Finding& finding) { return finding.code == code; };
  if (std::any_of(option.reasons.begin(), option.reasons.end(), match)) return true;
  return std::any_of(option.candidates.begin(), option.candidates.end(),
                     [&match](const CandidateResult& candidate) { return std::any_of(candidate.reasons.begin(), candidate.reasons.end(), match); });
}

TEST(NextStepsKnowledge, RealKbLoadsAndCrossChecks) {
  const Loaded& loaded = Built();
  EXPECT_TRUE(CheckNextStepsKnowledge(loaded.kb).empty());
  const NextStepsKnowledge& knowledge = *loaded.knowledge;
  EXPECT_GE(knowledge.options.size(), 26u);
  EXPECT_GE(knowledge.drivers.size(), 15u);
  EXPECT_NE(knowledge.FindPlan("monitoring.esketamine"), nullptr);
  EXPECT_NE(knowledge.FindPlan("monitoring.antipsychotic_metabolic"), nullptr);
  EXPECT_NE(knowledge.FindPlan("monitoring.lithium"), nullptr);
  EXPECT_FALSE(knowledge.crisis_lines.empty());
  for (const OptionDefinition& option : knowledge.options) {
    EXPECT_FALSE(option.sources.empty()) << option.id;
    EXPECT_GT(option.year, 0) << option.id;
  }
  for (const DriverDefinition& driver : knowledge.drivers) {
    EXPECT_FALSE(driver.question.empty()) << driver.id;
    EXPECT_FALSE(driver.often_next.empty()) << driver.id;
  }
}

TEST(NextStepsKnowledge, StatusNamesAreStable) {
  EXPECT_EQ(OptionStatusName(OptionStatus::NotEligible), "not_eligible");
  EXPECT_EQ(DriverStatusName(DriverStatus::NotFound), "not_found");
}

class NextStepsCase : public testing::TestWithParam<std::string> {};

TEST_P(NextStepsCase, MeetsExpectations) {
  const fs::path path = fs::path(REFRACT_SOURCE_DIR) / "tests" / "cases" / "next_steps" / GetParam();
  const json input = json::parse(ReadText(path));
  ASSERT_TRUE(input.contains("description"));
  ASSERT_TRUE(input.contains("expect_next_steps")) << "every next-steps case asserts its own facts";
  const std::optional<Ran> result = RunCase(input);
  ASSERT_TRUE(result.has_value());
  const Ran& ran = *result;
  const json& expect = input["expect_next_steps"];
  const json want_options = expect.value("options", json::object());
  const json want_reasons = expect.value("reasons", json::object());
  const json want_drivers = expect.value("drivers", json::object());
  const json want_monitoring = expect.value("monitoring", json::array());
  const json want_pointers = expect.value("pointers", json::object());
  for (const auto& [id, status] : want_options.items()) {
    const OptionResult* option = FindOption(ran.next, id);
    ASSERT_NE(option, nullptr) << id;
    EXPECT_EQ(OptionStatusName(option->status), status.get<std::string>()) << id << " is " << DescribeOption(*option);
  }
  for (const auto& [id, codes] : want_reasons.items()) {
    const OptionResult* option = FindOption(ran.next, id);
    ASSERT_NE(option, nullptr) << id;
    for (const auto& code : codes) EXPECT_TRUE(HasReason(*option, code.get<std::string>())) << id << " lacks reason " << code << ": " << DescribeOption(*option);
  }
  for (const auto& [id, status] : want_drivers.items()) {
    const DriverResult* driver = FindDriver(ran.next, id);
    ASSERT_NE(driver, nullptr) << id;
    std::string evidence;
    for (const DatedFinding& item : driver->evidence) evidence += "    " + item.finding.message + "\n";
    EXPECT_EQ(DriverStatusName(driver->status), status.get<std::string>()) << id << "\n" << evidence;
  }
  for (const auto& plan : want_monitoring) {
    const bool found = std::any_of(ran.next.monitoring.begin(), ran.next.monitoring.end(), [&plan](const MonitoringResult& entry) { return entry.plan == plan.get<std::string>(); });
    EXPECT_TRUE(found) << "no monitoring plan " << plan;
  }
  for (const auto& [pointer, value] : want_pointers.items()) {
    const json::json_pointer where(pointer);
    ASSERT_TRUE(ran.output.contains(where)) << "output has no " << pointer;
    EXPECT_EQ(ran.output.at(where), value) << "at " << pointer;
  }
  // Invariants of every case: alerts lead, the crisis line is present, every reason names its rule.
  EXPECT_FALSE(ran.next.patient.crisis_line.empty());
  EXPECT_FALSE(ran.next.patient.safety.empty());
  EXPECT_EQ(ran.output.begin().key(), "alerts");
  for (const OptionResult& option : ran.next.options) {
    EXPECT_FALSE(option.ranking.empty()) << option.id;
    for (const Finding& reason : option.reasons) EXPECT_FALSE(reason.rule.empty()) << option.id << ": " << reason.message;
  }
  // The patient view lists exactly the clinician's eligible and conditional options, in rank order.
  std::vector<std::string> listed;
  for (const OptionResult& option : ran.next.options) {
    if (option.status == OptionStatus::Eligible || option.status == OptionStatus::Conditional) listed.push_back(option.patient_name);
  }
  for (std::size_t index = 0; index < ran.next.patient.options.size() && index < listed.size(); ++index) {
    EXPECT_EQ(ran.next.patient.options[index].rfind(listed[index], 0), 0u) << ran.next.patient.options[index];
  }
  const std::string patient_text = RenderNextStepsText(ran.next, Audience::Patient);
  EXPECT_NE(patient_text.find(ran.next.patient.crisis_line), std::string::npos);
  if (!ran.next.alerts.empty()) {
    // The patient's text opens with the plain-words safety message: the suicide-risk message and crisis
    // line, or the note that a medicine needs the care team's attention; never the clinician's alert text.
    const bool suicide = ran.next.patient.suicide_alert;
    EXPECT_EQ(patient_text.rfind(suicide ? ran.next.patient.suicide_message : std::string("Important:"), 0), 0u) << patient_text.substr(0, 200);
    EXPECT_EQ(patient_text.find("ALERT ("), std::string::npos);
    EXPECT_EQ(RenderNextStepsText(ran.next, Audience::Clinician).rfind("ALERT", 0), 0u);
  }
  // Deterministic: the same input gives the same JSON.
  EXPECT_EQ(RunCase(input)->output.dump(), ran.output.dump());
}

std::string CaseName(const testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (const char character : info.param.substr(0, info.param.size() - 8)) name.push_back(std::isalnum(static_cast<unsigned char>(character)) != 0 ? character : '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Golden, NextStepsCase, testing::ValuesIn(CaseFiles()), CaseName);

}  // namespace
}  // namespace refract
