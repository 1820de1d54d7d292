// SPDX-License-Identifier: Apache-2.0
// Scale definitions, item validation (exact messages) and scoring, against the MBC fixture KB; and
// the real KB's scale files checked for what the schemas cannot see.
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "refract/app/app.h"
#include "refract/app/embedded.h"
#include "refract/core/mbc.h"
#include "refract/core/scales.h"
#include "mbc_fixture_kb.h"

namespace refract {
namespace {

using nlohmann::json;
using testing_support::MbcFixtureEntities;
using testing_support::MbcFixtureKb;

ScaleDefinition Scale(const std::string& name) {
  auto scale = FindScale(MbcFixtureKb(), name);
  if (!scale) ADD_FAILURE() << scale.error().message;
  return scale ? *scale : ScaleDefinition{};
}

std::vector<std::optional<int>> Optional(std::initializer_list<std::optional<int>> values) { return {values.begin(), values.end()}; }

std::vector<std::optional<int>> Items(std::initializer_list<int> values) {
  std::vector<std::optional<int>> out;
  for (const int value : values) out.emplace_back(value);
  return out;
}

const json& Entity(const std::string& path) {
  static const json entities = MbcFixtureEntities();
  return entities.at(path);
}

TEST(FindScale, AcceptsIdAliasShortNameInAnyCaseAndPunctuation) {
  for (const char* name : {"scale.test_sum", "test_sum", "TEST-SUM", "ts-4", "TS 4", "Scale.Test_Sum", "ts"}) {
    auto scale = FindScale(MbcFixtureKb(), name);
    ASSERT_TRUE(scale) << name << ": " << scale.error().message;
    EXPECT_EQ(scale->id, "scale.test_sum");
  }
}

TEST(FindScale, UnknownNameSuggestsTheClosest) {
  auto scale = FindScale(MbcFixtureKb(), "test_sun");
  ASSERT_FALSE(scale);
  EXPECT_EQ(scale.error().code, ErrorCode::InvalidInput);
  EXPECT_EQ(scale.error().message, "unknown scale \"test_sun\" (did you mean \"test_sum\"?)");
}

TEST(CheckScaleInput, CountRangeAndTotalMessagesAreExact) {
  const ScaleDefinition scale = Scale("test_sum");
  const int max1 = Entity("scales/test_sum.json")["items"][0]["max"].get<int>();
  const int total_max = Entity("scales/test_sum.json")["total_range"][1].get<int>();
  auto problem = CheckScaleInput(scale, Items({1, 1}), std::nullopt);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->message, "scale.test_sum expects 3 to 4 items, got 2");
  EXPECT_EQ(problem->pointer, "/items");
  problem = CheckScaleInput(scale, Items({max1 + 1, 0, 0}), std::nullopt);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->message, fmt::format("item 1 of scale.test_sum is {}, above its maximum {}", max1 + 1, max1));
  EXPECT_EQ(problem->pointer, "/items/0");
  problem = CheckScaleInput(scale, Items({0, -2, 0}), std::nullopt);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->message, "item 2 of scale.test_sum is -2, below its minimum 0");
  problem = CheckScaleInput(scale, {}, total_max + 1.0);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->message, fmt::format("total of scale.test_sum is {}, above its maximum {}", total_max + 1, total_max));
  EXPECT_EQ(problem->pointer, "/total");
  problem = CheckScaleInput(scale, Items({1, 1, 1}), 4.0);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->message, "the recorded total 4 does not match the items of scale.test_sum, which give 3");
  problem = CheckScaleInput(scale, {}, std::nullopt);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->message, "scale.test_sum needs its items or a total");
  EXPECT_EQ(problem->pointer, "");
  problem = CheckScaleInput(Scale("test_tier"), {}, 1.0);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->message, "scale.test_tier has no total: record its items");
  EXPECT_FALSE(CheckScaleInput(scale, Items({1, 1, 1, 2}), 3.0));
}

TEST(ScoreScale, SumsScoredItemsAndBands) {
  const ScaleDefinition scale = Scale("test_sum");
  const json& bands = Entity("scales/test_sum.json")["bands"];
  // The unscored item 4 is recorded but not added.
  const ScaleScore score = ScoreScale(scale, Items({1, 1, 1, 2}), std::nullopt, "");
  ASSERT_TRUE(score.total);
  EXPECT_EQ(*score.total, 3);
  EXPECT_TRUE(score.total_from_items);
  EXPECT_EQ(score.band, bands[0]["label"]);
  // Band edges from the fixture.
  for (const auto& band : bands) {
    EXPECT_EQ(BandFor(scale, band["min"].get<double>()), band["label"]);
    EXPECT_EQ(BandFor(scale, band["max"].get<double>()), band["label"]);
  }
}

TEST(ScoreScale, ScreenAtTheCutOff) {
  const ScaleDefinition scale = Scale("test_sum");
  const int cutoff = Entity("scales/test_sum.json")["screen"]["positive_if"]["at_least"].get<int>();
  EXPECT_EQ(ScoreScale(scale, {}, cutoff - 1.0, "").screen, ScreenResult::Negative);
  EXPECT_EQ(ScoreScale(scale, {}, static_cast<double>(cutoff), "").screen, ScreenResult::Positive);
}

TEST(ScoreScale, UnansweredRequiredItemGivesNoTotal) {
  const ScaleScore score = ScoreScale(Scale("test_sum"), Optional({1, std::nullopt, 1}), std::nullopt, "");
  EXPECT_FALSE(score.complete);
  EXPECT_FALSE(score.total);
  ASSERT_EQ(score.notes.size(), 1U);
  EXPECT_EQ(score.notes[0].message, "item 2 of scale.test_sum unanswered: no total is computed (no proration)");
  EXPECT_EQ(score.screen, ScreenResult::Indeterminate);
}

TEST(ScoreScale, DomainMaximumIsNotTheSum) {
  const ScaleScore score = ScoreScale(Scale("test_domain"), Items({2, 3, 1}), std::nullopt, "");
  ASSERT_TRUE(score.total);
  EXPECT_EQ(*score.total, 4);  // max(2, 3) + 1
  ASSERT_EQ(score.domains.size(), 2U);
  EXPECT_EQ(score.domains[0].score, 3);
}

TEST(ScoreScale, SkippedConditionalItemCountsAsNoAndTiersFollow) {
  const ScaleDefinition scale = Scale("test_tier");
  const ScaleScore none = ScoreScale(scale, Optional({0, std::nullopt}), std::nullopt, "");
  EXPECT_TRUE(none.complete);
  EXPECT_EQ(none.risk_tier, "none");
  EXPECT_EQ(none.safety[0].state, Truth::False);
  const ScaleScore open = ScoreScale(scale, Optional({1, std::nullopt}), std::nullopt, "");
  EXPECT_FALSE(open.complete);
  EXPECT_EQ(open.risk_tier, "unknown");
  EXPECT_EQ(open.safety[0].state, Truth::True);  // item 1 alone makes it positive
  const ScaleScore high = ScoreScale(scale, Items({1, 1}), std::nullopt, "");
  EXPECT_EQ(high.risk_tier, Entity("scales/test_tier.json")["risk_tiers"][0]["tier"]);
  EXPECT_EQ(high.safety[0].answer, "item 1 = 1, item 2 = 1");
}

TEST(ScoreScale, SexSpecificCutOffAndUnknownSexUsesTheKbChoice) {
  const ScaleDefinition scale = Scale("test_sex");
  const json& screen = Entity("scales/test_sex.json")["screen"]["by_sex"];
  const int female = screen["female"]["at_least"].get<int>();
  const int male = screen["male"]["at_least"].get<int>();
  ASSERT_LT(female, male);
  EXPECT_EQ(ScoreScale(scale, {}, static_cast<double>(female), "female").screen, ScreenResult::Positive);
  EXPECT_EQ(ScoreScale(scale, {}, static_cast<double>(female), "male").screen, ScreenResult::Negative);
  EXPECT_EQ(ScoreScale(scale, {}, static_cast<double>(male), "male").screen, ScreenResult::Positive);
  const ScaleScore unknown = ScoreScale(scale, {}, static_cast<double>(female), "");
  EXPECT_EQ(unknown.screen, ScreenResult::Positive);
  EXPECT_EQ(unknown.screen_rule, "women's cut-off, sex not recorded");
  EXPECT_EQ(unknown.notes.back().message, "sex not recorded: the women's cut-off of scale.test_sex is applied");
}

TEST(ScoreScale, SafetyItemAnswerNamesTheAnswer) {
  const ScaleScore score = ScoreScale(Scale("test_sum"), Items({2, 0, 1}), std::nullopt, "");
  ASSERT_EQ(score.safety.size(), 1U);
  EXPECT_EQ(score.safety[0].state, Truth::True);
  EXPECT_EQ(score.safety[0].answer, "item 3 = 1");
  EXPECT_EQ(DescribeAnswer(Scale("test_sum"), 0, 2), "item 1 = 2 (often)");
  // A total alone cannot show the item: unknown, never negative.
  EXPECT_EQ(ScoreScale(Scale("test_sum"), {}, 4.0, "").safety[0].state, Truth::Unknown);
}

TEST(ReadScaleDefinition, BandsMustBeContiguous) {
  json scale = Entity("scales/test_sum.json");
  scale["bands"][1]["min"] = 5;
  auto read = ReadScaleDefinition(scale, "scales/test_sum.json");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::KbReference);
  EXPECT_EQ(read.error().location, "kb/scales/test_sum.json");
  EXPECT_EQ(read.error().message, "band \"mid\" must start at 4 and not end before it starts");
}

TEST(ReadScaleDefinition, TotalRangeMustMatchItems) {
  json scale = Entity("scales/test_sum.json");
  scale["total_range"] = {0, 12};
  scale["bands"][2]["max"] = 12;
  auto read = ReadScaleDefinition(scale, "scales/test_sum.json");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message, "total_range must be [0, 9] for these items and scoring");
}

TEST(ReadScaleDefinition, ConditionsMustNameExistingItems) {
  json scale = Entity("scales/test_sum.json");
  scale["safety_items"][0]["positive_if"]["item"] = "9";
  auto read = ReadScaleDefinition(scale, "scales/test_sum.json");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message, "safety item: item \"9\" does not exist");
}

TEST(ReadScaleDefinition, WordingWithoutLicenceIsRejected) {
  json scale = Entity("scales/test_sum.json");
  scale["items"][0]["text"] = "some wording";
  auto read = ReadScaleDefinition(scale, "scales/test_sum.json");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message, "item 1 has wording, but the licence does not allow shipping it");
  // The KB schema rejects it too, so such a file never loads.
  json entities = MbcFixtureEntities();
  entities["scales/test_sum.json"] = scale;
  EXPECT_FALSE(LoadKnowledgeBase(testing_support::MbcFixtureFiles(entities), "test"));
}

TEST(PatientParser, BadItemIsAnInputErrorWithPointer) {
  const PatientParser& parser = app::Parser();
  const auto patient = parser.Parse(MbcFixtureKb(), json::parse(R"({"schema": "refract.patient/v1", "id": "x",
      "scales": [{"scale": "test_sum", "date": "2026-01-01", "items": [1, 1, 1]},
                 {"scale": "ts-4", "date": "2026-01-02", "items": [1, 1, 9]}]})"),
                                    "p.json");
  ASSERT_FALSE(patient);
  EXPECT_EQ(patient.error().code, ErrorCode::InvalidInput);
  EXPECT_EQ(patient.error().location, "p.json#/scales/1/items/2");
  EXPECT_EQ(patient.error().message, "item 3 of scale.test_sum is 9, above its maximum 3");
}

TEST(PatientParser, UnknownScaleNameIsAnInputError) {
  const auto patient = app::Parser().Parse(
      MbcFixtureKb(), json::parse(R"({"schema": "refract.patient/v1", "id": "x", "scales": [{"scale": "nonesuch", "date": "2026-01-01", "total": 3}]})"), "p.json");
  ASSERT_FALSE(patient);
  EXPECT_EQ(patient.error().location, "p.json#/scales/0/scale");
  EXPECT_EQ(patient.error().message, "unknown scale \"nonesuch\"");
}

// The real KB: every scale reads, the MBC rules are consistent, and wording ships only where licensed.
TEST(RealKbScales, PassEveryCheckTheSchemaCannotMake) {
  auto kb = app::LoadKb(std::nullopt);
  ASSERT_TRUE(kb) << kb.error().message;
  const auto problems = CheckMeasurementKnowledge(*kb);
  for (const Error& problem : problems) ADD_FAILURE() << problem.location << ": " << problem.message;
  std::size_t count = 0;
  for (const auto& [path, file] : kb->FilesOfKind("scale")) {
    auto scale = ReadScaleDefinition(*file, path);
    ASSERT_TRUE(scale) << scale.error().message;
    ++count;
    const bool any_text = std::any_of(scale->items.begin(), scale->items.end(), [](const ScaleItem& item) { return !item.text.empty(); });
    if (any_text) {
      EXPECT_TRUE(scale->ship_text) << scale->id;
    }
    if (scale->licence_status == "copyrighted_permission_required") {
      EXPECT_FALSE(scale->ship_text) << scale->id;
    }
  }
  EXPECT_EQ(count, 11U);
  const MbcRules rules = ReadMbcRules(*kb);
  EXPECT_TRUE(rules.outcomes && rules.tachyphylaxis && rules.reliable_change && rules.daily_log && rules.crisis_lines);
}

TEST(RealKbScales, LicencedWordingDecisions) {
  auto kb = app::LoadKb(std::nullopt);
  ASSERT_TRUE(kb);
  for (const char* name : {"phq9", "gad7", "hamd17"}) {
    auto scale = FindScale(*kb, name);
    ASSERT_TRUE(scale);
    EXPECT_TRUE(scale->ship_text) << name;
  }
  for (const char* name : {"madrs", "mdq", "cssrs_screener", "qids_sr16"}) {
    auto scale = FindScale(*kb, name);
    ASSERT_TRUE(scale);
    EXPECT_FALSE(scale->ship_text) << name;
    for (const ScaleItem& item : scale->items) EXPECT_TRUE(item.text.empty()) << name;
  }
}

}  // namespace
}  // namespace refract
