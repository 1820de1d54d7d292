// SPDX-License-Identifier: Apache-2.0
// The Naranjo calculator on the built-in scale, checked against the worked examples of the
// published scale (answers in item order 1..10), and its error messages.
#include <gtest/gtest.h>

#include "refract/app/app.h"
#include "refract/core/naranjo.h"

namespace refract {
namespace {

const NaranjoScale& Scale() {
  static const NaranjoScale scale = [] {
    auto kb = app::LoadKb(std::nullopt);
    if (!kb) std::abort();
    auto loaded = LoadNaranjoScale(*kb);
    if (!loaded) std::abort();
    return *loaded;
  }();
  return scale;
}

std::vector<std::pair<std::string, std::string>> InOrder(const std::vector<std::string>& answers) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t item_idx = 0; item_idx < answers.size(); ++item_idx) out.emplace_back(Scale().items[item_idx].key, answers[item_idx]);
  return out;
}

struct Example {
  std::vector<std::string> answers;
  int total;
  const char* band;
};

TEST(Naranjo, WorkedExamples) {
  // Independent worked examples of the published scoring (item 5 "no" scores +2; items 2 and 4 "no" score -1).
  const std::vector<Example> examples = {
      {{"yes", "yes", "yes", "unknown", "no", "unknown", "unknown", "unknown", "unknown", "yes"}, 7, "probable"},
      {{"yes", "yes", "yes", "yes", "no", "unknown", "unknown", "unknown", "unknown", "unknown"}, 8, "probable"},
      {{"yes", "yes", "yes", "yes", "no", "unknown", "yes", "yes", "unknown", "yes"}, 11, "definite"},
      {{"no", "yes", "no", "unknown", "yes", "unknown", "unknown", "unknown", "unknown", "no"}, 1, "possible"},
      {{"no", "no", "no", "unknown", "yes", "unknown", "unknown", "unknown", "unknown", "no"}, -2, "doubtful"},
      {{"yes", "yes", "yes", "yes", "no", "no", "yes", "yes", "yes", "yes"}, 13, "definite"},
      {{"no", "no", "no", "no", "yes", "yes", "no", "no", "no", "no"}, -4, "doubtful"},
  };
  for (const Example& example : examples) {
    auto result = ScoreNaranjo(Scale(), InOrder(example.answers));
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->total, example.total);
    EXPECT_EQ(result->band, example.band);
    EXPECT_EQ(result->unanswered, 0);
  }
}

TEST(Naranjo, MissingItemsCountAsUnknownAndAreCounted) {
  auto result = ScoreNaranjo(Scale(), std::vector<std::pair<std::string, std::string>>{{"after_drug", "yes"}, {"improved_on_stop", "yes"}});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->total, 3);
  EXPECT_EQ(result->band, "possible");
  EXPECT_EQ(result->unanswered, 8);
  EXPECT_EQ(result->dechallenge, "positive");
  EXPECT_EQ(result->rechallenge, "unknown");
}

TEST(Naranjo, NegativeRechallengeSubtracts) {
  auto result = ScoreNaranjo(Scale(), std::vector<std::pair<std::string, std::string>>{{"reappeared_on_rechallenge", "no"}});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->total, -1);
  EXPECT_EQ(result->rechallenge, "negative");
}

TEST(Naranjo, UnknownQuestionSuggestsTheClosestKey) {
  auto result = ScoreNaranjo(Scale(), std::vector<std::pair<std::string, std::string>>{{"after_drugs", "yes"}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::InvalidInput);
  EXPECT_EQ(result.error().message, "unknown Naranjo question \"after_drugs\" (did you mean \"after_drug\"?)");
  EXPECT_EQ(result.error().location, "after_drugs");
}

TEST(Naranjo, RejectsAnAnswerOtherThanYesNoUnknown) {
  auto result = ScoreNaranjo(Scale(), std::vector<std::pair<std::string, std::string>>{{"after_drug", "maybe"}}, "adverse_reactions[0].naranjo.");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "answer \"maybe\" to \"after_drug\" must be yes, no or unknown");
  EXPECT_EQ(result.error().location, "adverse_reactions[0].naranjo.after_drug");
}

TEST(Naranjo, RejectsAQuestionAnsweredTwice) {
  auto result = ScoreNaranjo(Scale(), std::vector<std::pair<std::string, std::string>>{{"after_drug", "yes"}, {"after_drug", "no"}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "Naranjo question \"after_drug\" is answered twice");
}

TEST(Naranjo, RecordReactionNotesTheDechallengeFromTheHistory) {
  auto kb = app::LoadKb(std::nullopt);
  ASSERT_TRUE(kb);
  const auto record = nlohmann::json::parse(R"({"schema": "refract.patient/v1", "id": "adr",
    "medications": [{"drug": "sertraline", "start": "2026-01-01", "end": "2026-03-10", "stop_reason": "side_effects"}],
    "adverse_reactions": [{"drug": "Zoloft", "reaction": "hyponatremia", "date": "2026-03-05",
                           "naranjo": {"previous_reports": "yes", "after_drug": "yes", "objective_evidence": "yes"}}]})");
  auto patient = app::Parser().Parse(*kb, record, "adr.json");
  ASSERT_TRUE(patient) << patient.error().message;
  auto causality = AssessAdverseReactions(Scale(), *patient);
  ASSERT_TRUE(causality);
  ASSERT_EQ(causality->size(), 1U);
  EXPECT_EQ((*causality)[0].naranjo.total, 4);
  EXPECT_EQ((*causality)[0].naranjo.band, "possible");
  ASSERT_EQ((*causality)[0].notes.size(), 1U);
  EXPECT_EQ((*causality)[0].notes[0],
            "sertraline was stopped on 2026-03-10, after the reaction on 2026-03-05 (stop reason: side_effects): a dechallenge took place; "
            "record whether the reaction improved (item improved_on_stop)");
}

}  // namespace
}  // namespace refract
