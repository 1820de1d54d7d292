// SPDX-License-Identifier: Apache-2.0
// Trajectories, outcomes from scores, relapse/recurrence, reliable change, tachyphylaxis, the daily
// log and the suicide-risk alerts, against the MBC fixture KB (thresholds read from its declarations).
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "refract/app/app.h"
#include "refract/core/chart.h"
#include "refract/core/mbc.h"
#include "refract/core/report.h"
#include "mbc_fixture_kb.h"

namespace refract {
namespace {

using nlohmann::json;
using testing_support::MbcFixtureEntities;
using testing_support::MbcFixtureKb;

const json& Rule(const std::string& path) {
  static const json entities = MbcFixtureEntities();
  return entities.at(path);
}

json Record(json extra) {
  json record = {{"schema", "refract.patient/v1"}, {"id", "unit"}, {"person", {{"sex", "female"}}},
                 {"episode", {{"start", "2026-01-01"}}}, {"diagnoses", {{{"kind", "mdd"}}}}};
  for (const auto& [key, value] : extra.items()) record[key] = value;
  return record;
}

json Sum(const std::string& date, int first, int second, int third) {
  return json{{"scale", "test_sum"}, {"date", date}, {"items", {first, second, third}}};
}

Assessment Assess(const json& record, const std::string& as_of, const std::string& locale = "") {
  auto patient = app::Parser().Parse(MbcFixtureKb(), record, "unit.json");
  if (!patient) {
    ADD_FAILURE() << patient.error().location << ": " << patient.error().message;
    return {};
  }
  EvaluateOptions options;
  options.as_of = *ParseDate(as_of);
  options.locale = locale;
  auto assessment = Evaluate(MbcFixtureKb(), *patient, options);
  if (!assessment) ADD_FAILURE() << assessment.error().message;
  return assessment ? *assessment : Assessment{};
}

json Sertraline(const std::string& start, const std::string& end, json extra = json::object()) {
  json course = {{"drug", "sertraline"}, {"start", start}, {"end", end}, {"doses", {{{"from", start}, {"mg_per_day", 100}}}}, {"adherence", "good"}};
  for (const auto& [key, value] : extra.items()) course[key] = value;
  return course;
}

TEST(TrialTrajectory, BaselineWindowEdgeFromTheKb) {
  const int window = Rule("rules/mbc.outcomes.json")["baseline_max_days_before_start"].get<int>();
  const Date start = *ParseDate("2026-01-20");
  for (const int days_before : {window, window + 1}) {
    const json record = Record({{"medications", {Sertraline("2026-01-20", "2026-03-20")}},
                                {"scales", {Sum(FormatDate(AddDays(start, -days_before)), 3, 3, 0), Sum("2026-03-15", 1, 0, 0)}}});
    const Assessment assessment = Assess(record, "2026-04-01");
    ASSERT_EQ(assessment.measurement.trials.size(), 1U);
    const ScaleTrajectory& trajectory = assessment.measurement.trials[0].trajectories[0];
    if (days_before == window) {
      EXPECT_EQ(trajectory.status, "evaluated");
      EXPECT_EQ(assessment.trials[0].outcome_basis, "scale_trajectory");
    } else {
      EXPECT_EQ(trajectory.status, "no_baseline");
      EXPECT_EQ(assessment.trials[0].outcome_basis, "none");
    }
  }
}

TEST(TrialTrajectory, BandsAtTheKbThresholds) {
  const double response = Rule("rules/mbc.outcomes.json")["response_from_percent"].get<double>();
  const double partial = Rule("rules/mbc.outcomes.json")["partial_from_percent"].get<double>();
  // Baseline 8 (items 3, 3, 2): latest totals giving exactly the thresholds and just below them.
  struct Expectation {
    int latest;
    Outcome outcome;
  };
  const double baseline = 8;
  const int at_response = static_cast<int>(baseline * (100 - response) / 100);
  const int at_partial = static_cast<int>(baseline * (100 - partial) / 100);
  for (const Expectation& expectation : {Expectation{at_response, Outcome::Response}, Expectation{at_response + 1, Outcome::Partial},
                                         Expectation{at_partial, Outcome::Partial}, Expectation{at_partial + 1, Outcome::Nonresponse}}) {
    const int first = std::min(3, expectation.latest);
    const int second = std::min(3, expectation.latest - first);
    const json record = Record({{"medications", {Sertraline("2026-01-20", "2026-03-20")}},
                                {"scales", {Sum("2026-01-18", 3, 3, 0), Sum("2026-01-19", 3, 3, 2), Sum("2026-03-15", first, second, expectation.latest - first - second)}}});
    // Two totals before the start: the last one (8) is the baseline.
    const Assessment assessment = Assess(record, "2026-04-01");
    const ScaleTrajectory& trajectory = assessment.measurement.trials[0].trajectories[0];
    ASSERT_TRUE(trajectory.outcome) << expectation.latest;
    EXPECT_EQ(trajectory.baseline->total, baseline);
    EXPECT_EQ(*trajectory.outcome, expectation.outcome) << "latest " << expectation.latest;
  }
}

TEST(TrialTrajectory, RemissionAndReliableChangeByPoints) {
  const int remission = Rule("scales/test_sum.json")["remission"]["max_total"].get<int>();
  const int points = Rule("scales/test_sum.json")["reliable_change"]["min_points"].get<int>();
  const json record = Record({{"medications", {Sertraline("2026-01-20", "2026-03-20")}},
                              {"scales", {Sum("2026-01-19", 3, 3, 0), Sum("2026-02-10", 3, 1, 0), Sum("2026-03-15", remission, 0, 0)}}});
  const Assessment assessment = Assess(record, "2026-04-01");
  const ScaleTrajectory& trajectory = assessment.measurement.trials[0].trajectories[0];
  EXPECT_EQ(*trajectory.outcome, Outcome::Remission);
  EXPECT_TRUE(trajectory.remission);
  EXPECT_EQ(trajectory.reliable_change, 6 - remission >= points ? "improved" : "no_reliable_change");
  EXPECT_EQ(trajectory.best->total, remission);
  ASSERT_TRUE(trajectory.response_date);
  EXPECT_EQ(FormatDate(*trajectory.response_date), "2026-03-15");
  EXPECT_EQ(*trajectory.days_to_response, DaysBetween(*ParseDate("2026-01-20"), *ParseDate("2026-03-15")));
  EXPECT_EQ(assessment.trials[0].outcome, Outcome::Remission);
  EXPECT_EQ(assessment.trials[0].failed, std::optional<bool>(false));
}

TEST(TrialTrajectory, JacobsonTruaxIndexFromReliabilityAndSd) {
  const json& change = Rule("scales/test_domain.json")["reliable_change"];
  const double s_diff = std::sqrt(2.0) * change["reference_sd"].get<double>() * std::sqrt(1 - change["reliability"].get<double>());
  const json record = Record({{"medications", {Sertraline("2026-01-20", "2026-03-20")}},
                              {"scales", {{{"scale", "test_domain"}, {"date", "2026-01-19"}, {"items", {3, 0, 3}}},
                                          {{"scale", "test_domain"}, {"date", "2026-03-15"}, {"items", {1, 0, 0}}}}}});
  const Assessment assessment = Assess(record, "2026-04-01");
  const ScaleTrajectory& trajectory = assessment.measurement.trials[0].trajectories[0];
  ASSERT_TRUE(trajectory.reliable_change_index);
  EXPECT_NEAR(*trajectory.reliable_change_index, (1 - 6) / s_diff, 0.01);
  EXPECT_EQ(trajectory.reliable_change, (1 - 6) / s_diff <= -Rule("rules/mbc.reliable_change.json")["critical_z"].get<double>() ? "improved" : "no_reliable_change");
  // The domain scale comes first in the fixture's priority and decides the outcome.
  EXPECT_EQ(assessment.trials[0].outcome_scale, "scale.test_domain");
  EXPECT_EQ(assessment.trials[0].rated_by, "clinician");
}

TEST(EpisodeEvents, RelapseBeforeAndRecurrenceAfterRecoveryDays) {
  const int recovery = Rule("rules/mbc.outcomes.json")["recovery_days"].get<int>();
  const int span = Rule("rules/mbc.outcomes.json")["episode_return"]["min_span_days"].get<int>();
  const Date remission = *ParseDate("2026-01-10");
  for (const bool recovered : {false, true}) {
    const Date last_well = recovered ? AddDays(remission, recovery) : AddDays(remission, recovery - 1);
    const Date back = AddDays(last_well, 10);
    const json record = Record({{"scales", {Sum("2026-01-10", 1, 0, 0), Sum(FormatDate(last_well), 1, 0, 0), Sum(FormatDate(back), 3, 2, 0),
                                            Sum(FormatDate(AddDays(back, span)), 3, 3, 0)}}});
    const Assessment assessment = Assess(record, FormatDate(AddDays(back, 30)));
    const auto& events = assessment.measurement.events;
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().kind, recovered ? "recurrence" : "relapse");
    EXPECT_EQ(events.back().date, back);
  }
}

json Tachyphylaxis(json course_extra = json::object(), json log = json::array()) {
  json course = Sertraline("2025-01-05", "2026-03-01", course_extra);
  return Record({{"episode", {{"start", "2026-01-01"}}},
                 {"medications", {course}},
                 {"history", {{"substance_use", "none"}}},
                 {"daily_log", log},
                 {"scales", {Sum("2025-01-01", 3, 3, 2), Sum("2025-03-01", 1, 1, 0), Sum("2025-06-01", 1, 0, 0), Sum("2026-01-10", 3, 2, 0),
                             Sum("2026-01-20", 3, 3, 0)}}});
}

TEST(Tachyphylaxis, SameDrugSameDoseGoodAdherence) {
  const Assessment assessment = Assess(Tachyphylaxis(), "2026-03-01");
  ASSERT_EQ(assessment.measurement.tachyphylaxis.size(), 1U);
  const TachyphylaxisResult& found = assessment.measurement.tachyphylaxis[0];
  EXPECT_EQ(found.classification, "tachyphylaxis");
  EXPECT_EQ(FormatDate(found.response_from), "2025-03-01");
  EXPECT_EQ(FormatDate(found.response_until), "2025-06-01");
  EXPECT_EQ(FormatDate(found.loss_from), "2026-01-10");
  EXPECT_EQ(FormatDate(*found.loss_confirmed), "2026-01-20");
  ASSERT_EQ(found.alternatives.size(), Rule("rules/mbc.tachyphylaxis.json")["alternative_explanations"].size());
  EXPECT_EQ(found.alternatives[0].status, "not_found");
  EXPECT_EQ(found.alternatives[1].status, "not_found");
  EXPECT_EQ(found.alternatives[2].status, "unknown");
  bool alerted = false;
  for (const Alert& alert : assessment.alerts) alerted = alerted || alert.finding.code == "tachyphylaxis";
  EXPECT_TRUE(alerted);
}

TEST(Tachyphylaxis, DoseReductionOrPoorAdherenceExplainsTheLoss) {
  const Assessment reduced = Assess(Tachyphylaxis({{"doses", {{{"from", "2025-01-05"}, {"mg_per_day", 100}}, {{"from", "2025-10-01"}, {"mg_per_day", 50}}}}}), "2026-03-01");
  ASSERT_EQ(reduced.measurement.tachyphylaxis.size(), 1U);
  EXPECT_EQ(reduced.measurement.tachyphylaxis[0].classification, "loss_of_response");
  EXPECT_EQ(reduced.measurement.tachyphylaxis[0].alternatives[1].detail, "dose reduced from 100 to 50 mg/day on 2025-10-01");
  const Assessment poor = Assess(Tachyphylaxis({{"adherence", "poor"}}), "2026-03-01");
  EXPECT_EQ(poor.measurement.tachyphylaxis[0].classification, "loss_of_response");
  EXPECT_EQ(poor.measurement.tachyphylaxis[0].alternatives[0].status, "present");
  const Assessment missed = Assess(Tachyphylaxis(json::object(), json::array({{{"date", "2026-01-12"}, {"doses_missed", 3}}})), "2026-03-01");
  EXPECT_EQ(missed.measurement.tachyphylaxis[0].alternatives[0].detail, "3 doses missed in the daily log");
}

TEST(DailyLog, TrendsOverTheKbWindow) {
  const int window = Rule("rules/mbc.daily_log.json")["window_days"].get<int>();
  json log = json::array();
  for (int day_idx = 0; day_idx < window; ++day_idx) {
    log.push_back({{"date", FormatDate(AddDays(*ParseDate("2026-02-01"), day_idx))}, {"mood", 2 + day_idx}, {"anxiety", 8 - day_idx}, {"sleep_hours", 7}});
  }
  const Assessment assessment = Assess(Record({{"daily_log", log}}), FormatDate(AddDays(*ParseDate("2026-02-01"), window - 1)));
  ASSERT_TRUE(assessment.measurement.daily_log);
  const DailyLogSummary& summary = *assessment.measurement.daily_log;
  EXPECT_EQ(summary.entries, window);
  EXPECT_EQ(summary.fields[0].trend, "improving");
  EXPECT_EQ(*summary.fields[0].change, window - 1);
  EXPECT_EQ(summary.fields[1].trend, "improving");  // anxiety falls: lower is better
  EXPECT_EQ(summary.fields[2].trend, "stable");
  // Too few entries: no trend.
  const int minimum = Rule("rules/mbc.daily_log.json")["min_entries"].get<int>();
  json few = json::array();
  for (int day_idx = 0; day_idx < minimum - 1; ++day_idx) few.push_back(log[day_idx]);
  const Assessment sparse = Assess(Record({{"daily_log", few}}), FormatDate(AddDays(*ParseDate("2026-02-01"), window - 1)));
  EXPECT_EQ(sparse.measurement.daily_log->fields[0].trend, "too_few_entries");
}

TEST(SuicideAlert, LeadsWithDateAndLocaleLine) {
  const json record = Record({{"history", {{"bipolar", true}}}, {"scales", {Sum("2026-02-01", 0, 0, 1)}}});
  const Assessment assessment = Assess(record, "2026-02-03");
  ASSERT_GE(assessment.alerts.size(), 2U);
  EXPECT_EQ(assessment.alerts[0].severity, AlertSeverity::Critical);
  EXPECT_EQ(assessment.alerts[0].finding.code, "suicide_risk");
  const json& lines = Rule("rules/mbc.crisis_lines.json");
  EXPECT_EQ(assessment.alerts[0].finding.message,
            fmt::format("SUICIDE RISK: TS item 3 (harm): item 3 = 1 on 2026-02-01 (2 days before the assessment date), the latest TS. Act now. Crisis line "
                        "(US): {}; {}",
                        lines["lines"][0]["text"].get<std::string>(), lines["lines"][0]["emergency"].get<std::string>()));
  EXPECT_EQ(assessment.alerts[1].finding.code, "bipolar_spectrum");
  EXPECT_EQ(assessment.trd.status, TrdStatus::NotApplicable);
  // A locale without a configured line still gets the critical alert.
  const Assessment elsewhere = Assess(record, "2026-02-03", "CA");
  EXPECT_EQ(elsewhere.alerts[0].severity, AlertSeverity::Critical);
  EXPECT_NE(elsewhere.alerts[0].finding.message.find("No crisis line is configured in the KB for locale \"CA\""), std::string::npos);
  // Text and HTML lead with it too.
  const std::string text = RenderText(assessment, app::Engine(), false);
  EXPECT_LT(text.find("SUICIDE RISK"), text.find("TRD:"));
  const std::string html = RenderHtml(assessment, app::Engine());
  EXPECT_LT(html.find("SUICIDE RISK"), html.find("Treatment-resistant depression"));
}

TEST(SuicideAlert, LaterNegativeAnswerGivesWarningInTheEpisodeAndInformationBeforeIt) {
  const Assessment in_episode = Assess(Record({{"scales", {Sum("2026-01-05", 0, 0, 2), Sum("2026-01-20", 0, 0, 0)}}}), "2026-02-01");
  ASSERT_EQ(in_episode.alerts.size(), 1U);
  EXPECT_EQ(in_episode.alerts[0].severity, AlertSeverity::Warning);
  EXPECT_EQ(in_episode.alerts[0].finding.code, "suicide_item_positive_earlier");
  // Before the episode: history, shown as information, never dropped.
  const Assessment before = Assess(Record({{"scales", {Sum("2025-06-05", 0, 0, 2), Sum("2026-01-20", 0, 0, 0)}}}), "2026-02-01");
  ASSERT_EQ(before.alerts.size(), 1U);
  EXPECT_EQ(before.alerts[0].severity, AlertSeverity::Info);
  EXPECT_EQ(before.alerts[0].finding.code, "suicide_item_positive_before_episode");
  EXPECT_NE(before.alerts[0].finding.message.find("2025-06-05"), std::string::npos) << before.alerts[0].finding.message;
  EXPECT_NE(before.alerts[0].finding.message.find("before the current episode began on"), std::string::npos);
}

TEST(Measurement, RecordWithoutScalesAndKbWithoutRulesIsQuiet) {
  auto patient = app::Parser().Parse(testing_support::FixtureKb(), json::parse(R"({"schema": "refract.patient/v1", "id": "x"})"), "x.json");
  ASSERT_TRUE(patient);
  EvaluateOptions options;
  options.as_of = *ParseDate("2026-01-01");
  auto assessment = Evaluate(testing_support::FixtureKb(), *patient, options);
  ASSERT_TRUE(assessment);
  EXPECT_TRUE(assessment->measurement.administrations.empty());
  EXPECT_FALSE(assessment->measurement.daily_log);
  EXPECT_TRUE(ReadMbcRules(testing_support::FixtureKb()).outcomes == std::nullopt);
}

TEST(TimelineChart, SpecHasScorePanelThresholdsAndTreatments) {
  const json record = Record({{"medications", {Sertraline("2026-01-20", "2026-03-20")}},
                              {"procedures", {{{"kind", "ect"}, {"start", "2026-03-22"}, {"end", "2026-04-20"}, {"sessions", 9}}}},
                              {"scales", {Sum("2026-01-19", 3, 3, 0), Sum("2026-03-15", 1, 0, 0)}}});
  const Assessment assessment = Assess(record, "2026-05-01");
  const json spec = TimelineChartSpec(assessment);
  EXPECT_EQ(spec["$schema"], "https://vega.github.io/schema/vega-lite/v6.json");
  ASSERT_EQ(spec["vconcat"].size(), 2U);  // one depression scale with totals, then treatments
  const std::string dump = spec.dump();
  EXPECT_NE(dump.find(fmt::format("remission: {} or less", Rule("scales/test_sum.json")["remission"]["max_total"].get<int>())), std::string::npos);
  EXPECT_NE(dump.find("trial 1: response at 3 or less"), std::string::npos);
  EXPECT_NE(dump.find("\"row\":\"ECT\""), std::string::npos);
  EXPECT_NE(dump.find("1. sertraline (monotherapy)"), std::string::npos);
  // The HTML adapter inlines the spec; "</" never closes the script element early.
  const std::string html = RenderHtml(assessment, app::Engine(), HtmlChartScripts{{"/* library </b> */"}});
  EXPECT_NE(html.find("id=\"timeline-spec\""), std::string::npos);
  EXPECT_EQ(RenderHtml(assessment, app::Engine()).find("<script"), std::string::npos);
}

}  // namespace
}  // namespace refract
