// SPDX-License-Identifier: Apache-2.0
/// A fixture KB for measurement-based-care tests: tests/kb-fixtures plus small test scales and
/// rule.mbc.* entities declared here. Tests read every threshold from these declarations.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fixture_kb.h"

namespace refract::testing_support {

/// The test scales and rules, as JSON, so that tests can read the values they assert.
inline nlohmann::json MbcFixtureEntities() {
  using nlohmann::json;
  const json checked = {{"on", "2026-11-22"}, {"against", {"source.nierenberg-2001"}}};
  const json src = json::array({"source.nierenberg-2001"});
  const json licence = {{"status", "free"}, {"ship_text", false}, {"detail", "test fixture"}, {"sources", src}};
  json sum = {{"id", "scale.test_sum"}, {"kind", "scale"}, {"name", "Test sum scale"}, {"short_name", "TS"}, {"aliases", {"test_sum", "ts-4"}},
              {"measures", "depression"}, {"rater", "self"},
              {"items", {{{"label", "1"}, {"construct", "one"}, {"min", 0}, {"max", 3}, {"answers", {"never", "sometimes", "often", "always"}}},
                         {{"label", "2"}, {"construct", "two"}, {"min", 0}, {"max", 3}},
                         {{"label", "3"}, {"construct", "harm"}, {"min", 0}, {"max", 3}},
                         {{"label", "4"}, {"construct", "extra"}, {"min", 0}, {"max", 2}, {"required", false}, {"scored", false}}}},
              {"scoring", {{"method", "sum"}}}, {"total_range", {0, 9}},
              {"bands", {{{"min", 0}, {"max", 3}, {"label", "low"}}, {{"min", 4}, {"max", 6}, {"label", "mid"}}, {{"min", 7}, {"max", 9}, {"label", "high"}}}},
              {"bands_sources", src},
              {"screen", {{"name", "test positive"}, {"positive_if", {{"total", true}, {"at_least", 5}}}, {"sources", src}}},
              {"remission", {{"max_total", 2}, {"sources", src}}},
              {"response", {{"min_baseline", 4}, {"sources", src}}},
              {"episode_threshold", {{"min_total", 5}, {"sources", src}}},
              {"reliable_change", {{"method", "points"}, {"min_points", 3}, {"sources", src}}},
              {"safety_items", {{{"what", "TS item 3 (harm)"}, {"positive_if", {{"item", "3"}, {"at_least", 1}}}, {"severity", "critical"}, {"sources", src}}}},
              {"licence", licence}, {"sources", src}, {"checked", checked}};
  json domain = {{"id", "scale.test_domain"}, {"kind", "scale"}, {"name", "Test domain scale"}, {"short_name", "TD"}, {"aliases", {"test_domain"}},
                 {"measures", "depression"}, {"rater", "clinician"},
                 {"items", {{{"label", "a"}, {"construct", "a"}, {"min", 0}, {"max", 3}}, {{"label", "b"}, {"construct", "b"}, {"min", 0}, {"max", 3}},
                            {{"label", "c"}, {"construct", "c"}, {"min", 0}, {"max", 3}}}},
                 {"scoring", {{"method", "domain_max_sum"},
                              {"domains", json::array({json{{"name", "ab"}, {"items", json::array({"a", "b"})}},
                                                       json{{"name", "c"}, {"items", json::array({"c"})}}})}}},
                 {"total_range", {0, 6}},
                 {"reliable_change", {{"method", "jacobson_truax"}, {"reliability", 0.84}, {"reference_sd", 2.5}, {"sources", src}}},
                 {"licence", licence}, {"sources", src}, {"checked", checked}};
  json tier = {{"id", "scale.test_tier"}, {"kind", "scale"}, {"name", "Test tier scale"}, {"short_name", "TT"}, {"aliases", {"test_tier"}},
               {"measures", "suicide_risk"}, {"rater", "either"},
               {"items", {{{"label", "1"}, {"construct", "first"}, {"min", 0}, {"max", 1}},
                          {{"label", "2"}, {"construct", "second"}, {"min", 0}, {"max", 1}, {"required", false}, {"required_if", {{"item", "1"}, {"at_least", 1}}}}}},
               {"scoring", {{"method", "none"}}},
               {"risk_tiers", {{{"tier", "high"}, {"if", {{"item", "2"}, {"at_least", 1}}}}, {{"tier", "low"}, {"if", {{"item", "1"}, {"at_least", 1}}}}}},
               {"safety_items", {{{"what", "TT any yes"}, {"positive_if", {{"any", {{{"item", "1"}, {"at_least", 1}}, {{"item", "2"}, {"at_least", 1}}}}}},
                                  {"severity", "critical"}, {"sources", src}}}},
               {"licence", licence}, {"sources", src}, {"checked", checked}};
  json sex = {{"id", "scale.test_sex"}, {"kind", "scale"}, {"name", "Test sex cut-off"}, {"short_name", "TX"}, {"aliases", {"test_sex"}},
              {"measures", "alcohol"}, {"rater", "self"},
              {"items", {{{"label", "1"}, {"construct", "x"}, {"min", 0}, {"max", 2}}, {{"label", "2"}, {"construct", "y"}, {"min", 0}, {"max", 2}}}},
              {"scoring", {{"method", "sum"}}}, {"total_range", {0, 4}},
              {"screen", {{"name", "test drinking"}, {"by_sex", {{"female", {{"total", true}, {"at_least", 2}}}, {"male", {{"total", true}, {"at_least", 3}}}, {"when_unknown", "female"}}},
                          {"alert", "warning"}, {"advice", "ask"}, {"sources", src}}},
              {"licence", licence}, {"sources", src}, {"checked", checked}};
  json outcomes = {{"id", "rule.mbc.outcomes"}, {"kind", "mbc_outcomes"}, {"name", "test"}, {"description", "test"}, {"response_from_percent", 50},
                   {"partial_from_percent", 25}, {"baseline_max_days_before_start", 10}, {"scale_priority", {"scale.test_domain", "scale.test_sum"}},
                   {"recovery_days", 60}, {"episode_return", {{"min_assessments", 2}, {"min_span_days", 7}}}, {"sources", src}, {"checked", checked}};
  json tachy = {{"id", "rule.mbc.tachyphylaxis"}, {"kind", "mbc_tachyphylaxis"}, {"name", "test"}, {"description", "test"}, {"min_response_assessments", 2},
                {"min_response_span_days", 14}, {"min_loss_assessments", 2}, {"min_loss_span_days", 7},
                {"alternative_explanations", {{{"code", "nonadherence"}, {"name", "missed doses"}, {"how_checked", "adherence"}},
                                              {{"code", "dose_change"}, {"name", "a dose change"}, {"how_checked", "doses"}},
                                              {{"code", "new_stressors"}, {"name", "new stressors"}, {"how_checked", "ask"}}}},
                {"sources", src}, {"checked", checked}};
  json reliable = {{"id", "rule.mbc.reliable_change"}, {"kind", "mbc_reliable_change"}, {"name", "test"}, {"description", "test"}, {"critical_z", 1.96},
                   {"sources", src}, {"checked", checked}};
  json daily = {{"id", "rule.mbc.daily_log"}, {"kind", "mbc_daily_log"}, {"name", "test"}, {"description", "test"}, {"window_days", 7}, {"min_entries", 4},
                {"fields", {{{"field", "mood"}, {"label", "mood"}, {"better", "higher"}, {"trend_min_change", 1}},
                            {{"field", "anxiety"}, {"label", "anxiety"}, {"better", "lower"}, {"trend_min_change", 1}},
                            {{"field", "sleep_hours"}, {"label", "sleep"}, {"better", "neither"}, {"trend_min_change", 1}}}},
                {"sources", src}, {"checked", checked}};
  json crisis = {{"id", "rule.mbc.crisis_lines"}, {"kind", "mbc_crisis_lines"}, {"name", "test"}, {"description", "test"}, {"default_locale", "US"},
                 {"action", "act now"}, {"lines", {{{"locale", "US"}, {"text", "call TEST-LINE"}, {"emergency", "call TEST-EMERGENCY"}, {"sources", src}}}},
                 {"sources", src}, {"checked", checked}};
  return json{{"scales/test_sum.json", sum},         {"scales/test_domain.json", domain}, {"scales/test_tier.json", tier},
              {"scales/test_sex.json", sex},         {"rules/mbc.outcomes.json", outcomes}, {"rules/mbc.tachyphylaxis.json", tachy},
              {"rules/mbc.reliable_change.json", reliable}, {"rules/mbc.daily_log.json", daily}, {"rules/mbc.crisis_lines.json", crisis}};
}

/// The fixture KB files plus the MBC entities (optionally changed by `edit` before loading).
inline std::vector<KbFile> MbcFixtureFiles(const nlohmann::json& entities = MbcFixtureEntities()) {
  std::vector<KbFile> files = FixtureKbFiles();
  for (const auto& [path, content] : entities.items()) files.push_back(KbFile{path, content.dump(2)});
  std::sort(files.begin(), files.end(), [](const KbFile& left, const KbFile& right) { return left.path < right.path; });
  return files;
}

/// The loaded MBC fixture KB (aborts the test binary if it does not load).
inline const KnowledgeBase& MbcFixtureKb() {
  static const KnowledgeBase kb = [] {
    auto loaded = LoadKnowledgeBase(MbcFixtureFiles(), "mbc-fixtures");
    if (!loaded) {
      std::fprintf(stderr, "MBC fixture KB does not load: %s: %s\n", loaded.error().location.c_str(), loaded.error().message.c_str());
      std::abort();
    }
    return std::move(*loaded);
  }();
  return kb;
}

}  // namespace refract::testing_support
