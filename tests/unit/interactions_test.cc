// SPDX-License-Identifier: Apache-2.0
// Engine mechanics of the interaction checker on a small in-memory KB (the fixture KB plus
// interaction files written here), and the enzyme-table API on the built-in KB.
#include <gtest/gtest.h>

#include "fixture_kb.h"
#include "refract/app/app.h"
#include "refract/core/interactions.h"

namespace refract {
namespace {

constexpr const char* kSrc = R"("sources": ["source.fava-2003"], "checked": {"on": "2026-11-22", "against": ["source.fava-2003"]})";

std::string Group(const std::string& id, const std::string& members, const std::string& levels = "") {
  return R"({"id": "group.)" + id + R"(", "kind": "ddi_group", "name": "test group", )" + (levels.empty() ? "" : R"("levels": [)" + levels + "], ") +
         R"("members": [)" + members + "], " + kSrc + "}";
}

std::string Member(const std::string& drug, const std::string& level = "") {
  return R"({"drug": "drug.)" + drug + R"(", )" + (level.empty() ? "" : R"("level": ")" + level + R"(", )") + R"("sources": ["source.fava-2003"]})";
}

// The files every interaction KB needs besides rules: a severity scale and a PK matrix.
std::vector<KbFile> BaseFiles() {
  auto files = testing_support::FixtureKbFiles();
  files.push_back({"interactions/severity.json", R"({"id": "rule.ddi.severity_scale", "kind": "ddi_severity_scale", "levels": [
      {"level": "contraindicated", "rank": 4, "meaning": "never", "alert": "critical", "maps_to": {"lexicomp": "X"}},
      {"level": "major", "rank": 3, "meaning": "avoid", "alert": "warning", "maps_to": {"lexicomp": "D"}},
      {"level": "moderate", "rank": 2, "meaning": "monitor", "alert": "none", "maps_to": {"lexicomp": "C"}},
      {"level": "minor", "rank": 1, "meaning": "aware", "alert": "none", "maps_to": {"lexicomp": "B"}}], )" +
                                                          std::string(kSrc) + "}"});
  files.push_back({"interactions/pk.json", R"({"id": "rule.ddi.pk", "kind": "ddi_pk_matrix", "category": "pharmacokinetic",
      "cells": [{"effect": "inhibition", "strength": "strong", "sensitivity": "sensitive", "severity": "major"}],
      "mechanism": {"inhibition": "{perpetrator} raises {substrate} via {enzyme}", "induction": "{perpetrator} lowers {substrate}",
                    "inhibition_activation": "{perpetrator} blocks {substrate} activation"},
      "action": {"inhibition": "lower {substrate}", "induction": "raise {substrate}"}, "evidence": "label", )" +
                                                    std::string(kSrc) + "}"});
  files.push_back({"enzymes/cyp2d6.json", R"({"id": "enzyme.cyp2d6", "kind": "enzyme", "name": "CYP2D6",
      "inhibitors": [{"drug": "drug.fluoxetine", "strength": "strong", "persists_after_stop_days": 35, "sources": ["source.fava-2003"]},
                     {"drug": "drug.sertraline", "strength": "weak", "sources": ["source.fava-2003"]}],
      "inducers": [], "substrates": [{"drug": "drug.nortriptyline", "sensitivity": "sensitive", "sources": ["source.fava-2003"]}], )" +
                                                          std::string(kSrc) + "}"});
  files.push_back({"interactions/groups/maoi.json", Group("maoi", Member("phenelzine"))});
  files.push_back({"interactions/groups/sri.json", Group("sri", Member("sertraline", "strong") + ", " + Member("fluoxetine", "strong") + ", " +
                                                                    Member("duloxetine", "strong") + ", " + Member("imipramine", "weak"),
                                                                R"("strong", "weak")")});
  files.push_back({"interactions/rules/maoi_sri.json", R"({"id": "rule.ddi.maoi_sri", "kind": "ddi_rule", "category": "serotonin_toxicity",
      "a": {"group": "group.maoi"}, "b": {"group": "group.sri"}, "severity": "contraindicated", "mechanism": "serotonin toxicity",
      "action": "do not combine", "evidence": "label", )" +
                                                                  std::string(kSrc) + "}"});
  files.push_back({"interactions/rules/sri_sri.json", R"({"id": "rule.ddi.sri_sri", "kind": "ddi_rule", "category": "serotonin_toxicity",
      "a": {"group": "group.sri", "levels": ["strong"]}, "b": {"group": "group.sri", "levels": ["strong"]}, "severity": "major",
      "cross_taper": {"max_overlap_days": 14, "severity": "moderate"},
      "escalate": {"severity": "contraindicated", "factors": [{"type": "age_at_least", "years": 90}]},
      "mechanism": "two reuptake inhibitors", "action": "taper", "evidence": "theoretical", )" +
                                                                std::string(kSrc) + "}"});
  files.push_back({"interactions/washouts/maoi.json", R"({"id": "rule.ddi.maoi_washout", "kind": "ddi_washout", "rules": ["rule.ddi.maoi_sri"],
      "severity": "contraindicated", "action": "not {started} before {earliest}, {days} days after {stopped}",
      "after_stopping": [{"drug": "drug.fluoxetine", "min_days": 35, "sources": ["source.fava-2003"]},
                         {"drug": "drug.phenelzine", "min_days": 14, "sources": ["source.fava-2003"]}], )" +
                                                                    std::string(kSrc) + "}"});
  return files;
}

void Replace(std::vector<KbFile>& files, const std::string& path, const std::string& from, const std::string& to) {
  for (KbFile& file : files) {
    if (file.path != path) continue;
    const auto at = file.content.find(from);
    ASSERT_NE(at, std::string::npos) << from << " not in " << path;
    file.content.replace(at, from.size(), to);
    return;
  }
  FAIL() << path << " not in the test KB";
}

struct TestKb {
  KnowledgeBase kb;
  InteractionKnowledge knowledge;
};

std::unique_ptr<TestKb> Load(const std::vector<KbFile>& files) {
  auto kb = LoadKnowledgeBase(files, "test");
  EXPECT_TRUE(kb) << (kb ? "" : kb.error().location + ": " + kb.error().message);
  if (!kb) return nullptr;
  auto out = std::make_unique<TestKb>(TestKb{std::move(*kb), {}});
  auto knowledge = LoadInteractionKnowledge(out->kb);
  EXPECT_TRUE(knowledge) << (knowledge ? "" : knowledge.error().location + ": " + knowledge.error().message);
  if (!knowledge) return nullptr;
  out->knowledge = std::move(*knowledge);
  return out;
}

Date D(const char* text) { return *ParseDate(text); }

RegimenEntry Course(const TestKb& test, const char* drug, const char* start, std::optional<const char*> end) {
  RegimenEntry entry;
  entry.input_name = drug;
  entry.drug = test.kb.FindDrug(std::string("drug.") + drug);
  entry.origin = std::string("test ") + drug;
  entry.start = D(start);
  if (end) {
    entry.end = D(*end);
  } else {
    entry.ongoing = true;
  }
  return entry;
}

TEST(InteractionKnowledge, LoadsTheTestTables) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  EXPECT_EQ(test->knowledge.pair_rules().size(), 2U);
  EXPECT_EQ(test->knowledge.washouts().size(), 1U);
  EXPECT_EQ(test->knowledge.severity_scale().front().severity, InteractionSeverity::Contraindicated);
}

TEST(InteractionKnowledge, RejectsAnUnknownGroup) {
  auto files = BaseFiles();
  Replace(files, "interactions/rules/maoi_sri.json", "\"group.maoi\"", "\"group.maoii\"");
  auto kb = LoadKnowledgeBase(files, "test");
  ASSERT_TRUE(kb);
  const auto errors = CheckInteractionKnowledge(*kb);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].message, "group \"group.maoii\" does not exist");
  EXPECT_EQ(errors[0].location, "kb/interactions/rules/maoi_sri.json#/a/group");
  const auto loaded = LoadInteractionKnowledge(*kb);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, ErrorCode::KbReference);
}

TEST(InteractionKnowledge, RejectsALevelTheGroupDoesNotDeclare) {
  auto files = BaseFiles();
  Replace(files, "interactions/rules/sri_sri.json", R"("b": {"group": "group.sri", "levels": ["strong"]})",
          R"("b": {"group": "group.sri", "levels": ["strongest"]})");
  auto kb = LoadKnowledgeBase(files, "test");
  ASSERT_TRUE(kb);
  const auto errors = CheckInteractionKnowledge(*kb);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].message, "level \"strongest\" is not one of the levels of group.sri (strong, weak)");
  EXPECT_EQ(errors[0].location, "kb/interactions/rules/sri_sri.json#/b/levels/0");
}

TEST(InteractionKnowledge, RejectsAWashoutForAnUnknownRule) {
  auto files = BaseFiles();
  Replace(files, "interactions/washouts/maoi.json", "\"rules\": [\"rule.ddi.maoi_sri\"]", "\"rules\": [\"rule.ddi.maoi_ssri\"]");
  auto kb = LoadKnowledgeBase(files, "test");
  ASSERT_TRUE(kb);
  const auto loaded = LoadInteractionKnowledge(*kb);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message, "rule \"rule.ddi.maoi_ssri\" is not a pair rule (kind ddi_rule)");
  EXPECT_EQ(loaded.error().location, "kb/interactions/washouts/maoi.json#/rules/0");
}

TEST(InteractionKnowledge, RejectsACrossTaperThatDoesNotLowerTheSeverity) {
  auto files = BaseFiles();
  Replace(files, "interactions/rules/sri_sri.json", R"("cross_taper": {"max_overlap_days": 14, "severity": "moderate"})",
          R"("cross_taper": {"max_overlap_days": 14, "severity": "major"})");
  auto kb = LoadKnowledgeBase(files, "test");
  ASSERT_TRUE(kb);
  const auto errors = CheckInteractionKnowledge(*kb);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].message, "a cross-taper severity must be below the rule's severity");
}

TEST(CheckRegimen, WashoutGivesTheEarliestStartFromTheKbDays) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  Regimen regimen;
  regimen.entries.push_back(Course(*test, "fluoxetine", "2026-01-01", "2026-11-01"));
  AddProposed(regimen, *test->kb.FindDrug("drug.phenelzine"), "phenelzine", std::nullopt);
  const auto report = CheckRegimen(test->knowledge, regimen, D("2026-11-22"));
  ASSERT_EQ(report.findings.size(), 1U);
  const InteractionFinding& finding = report.findings[0];
  EXPECT_EQ(finding.rule, "rule.ddi.maoi_washout");
  EXPECT_EQ(finding.timing, InteractionTiming::Washout);
  ASSERT_TRUE(finding.earliest_start);
  EXPECT_EQ(FormatDate(*finding.earliest_start), "2026-12-06");
  EXPECT_EQ(finding.message, "phenelzine cannot start before 2026-12-06 (35 days after the last dose of fluoxetine on 2026-11-01)");
  EXPECT_EQ(finding.action, "not phenelzine before 2026-12-06, 35 days after fluoxetine");
  const auto alerts = InteractionAlerts(report);
  ASSERT_EQ(alerts.size(), 1U);
  EXPECT_EQ(alerts[0].severity, AlertSeverity::Critical);
}

TEST(CheckRegimen, WashoutMetGivesNothing) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  Regimen regimen;
  regimen.entries.push_back(Course(*test, "fluoxetine", "2026-01-01", "2026-10-18"));
  AddProposed(regimen, *test->kb.FindDrug("drug.phenelzine"), "phenelzine", std::nullopt);
  EXPECT_TRUE(CheckRegimen(test->knowledge, regimen, D("2026-11-22")).findings.empty());
}

TEST(CheckRegimen, ShortPlannedOverlapIsACrossTaper) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  Regimen regimen;
  regimen.entries.push_back(Course(*test, "sertraline", "2026-01-01", "2026-11-30"));
  regimen.entries.push_back(Course(*test, "duloxetine", "2026-11-20", std::nullopt));
  auto report = CheckRegimen(test->knowledge, regimen, D("2026-11-22"));
  ASSERT_EQ(report.findings.size(), 1U);
  EXPECT_EQ(report.findings[0].code, "cross_taper");
  EXPECT_EQ(report.findings[0].severity, InteractionSeverity::Moderate);
  // Fifteen days of overlap is past the KB's 14: a full combination.
  regimen.entries[1].start = D("2026-11-16");
  report = CheckRegimen(test->knowledge, regimen, D("2026-11-22"));
  ASSERT_EQ(report.findings.size(), 1U);
  EXPECT_EQ(report.findings[0].code, "interaction");
  EXPECT_EQ(report.findings[0].severity, InteractionSeverity::Major);
}

TEST(CheckRegimen, LevelsOutsideTheRuleDoNotMatch) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  Regimen regimen;
  regimen.entries.push_back(Course(*test, "sertraline", "2026-01-01", std::nullopt));
  regimen.entries.push_back(Course(*test, "imipramine", "2026-01-01", std::nullopt));
  EXPECT_TRUE(CheckRegimen(test->knowledge, regimen, D("2026-11-22")).findings.empty());
}

TEST(CheckRegimen, EscalationFactorRaisesTheSeverityAndIsNamed) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  Regimen regimen;
  regimen.entries.push_back(Course(*test, "sertraline", "2026-01-01", std::nullopt));
  regimen.entries.push_back(Course(*test, "fluoxetine", "2026-01-01", std::nullopt));
  regimen.patient.age_years = 91;
  const auto report = CheckRegimen(test->knowledge, regimen, D("2026-11-22"));
  ASSERT_EQ(report.findings.size(), 1U);
  EXPECT_EQ(report.findings[0].severity, InteractionSeverity::Contraindicated);
  EXPECT_EQ(report.findings[0].factors, std::vector<std::string>{"age 91 (90 or older)"});
}

TEST(CheckRegimen, StoppedInhibitorStillCountsWhileItsEffectLasts) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  Regimen regimen;
  regimen.entries.push_back(Course(*test, "fluoxetine", "2026-01-01", "2026-11-01"));
  regimen.entries.push_back(Course(*test, "nortriptyline", "2026-11-10", std::nullopt));
  auto report = CheckRegimen(test->knowledge, regimen, D("2026-11-22"));
  ASSERT_EQ(report.findings.size(), 1U);
  EXPECT_EQ(report.findings[0].rule, "rule.ddi.pk");
  EXPECT_EQ(report.findings[0].mechanism, "fluoxetine raises nortriptyline via CYP2D6");
  EXPECT_EQ(report.findings[0].notes.back(), "fluoxetine was stopped on 2026-11-01; its CYP2D6 effect lasts until 2026-12-06");
  report = CheckRegimen(test->knowledge, regimen, D("2026-12-07"));
  EXPECT_TRUE(report.findings.empty());
}

TEST(CheckRegimen, WeakInhibitorGivesNoFinding) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  Regimen regimen;
  regimen.entries.push_back(Course(*test, "sertraline", "2026-01-01", std::nullopt));
  regimen.entries.push_back(Course(*test, "nortriptyline", "2026-01-01", std::nullopt));
  EXPECT_TRUE(CheckRegimen(test->knowledge, regimen, D("2026-11-22")).findings.empty());
}

TEST(CheckRegimen, PastCombinationOnlyWhenContraindicated) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  Regimen regimen;
  regimen.entries.push_back(Course(*test, "sertraline", "2025-01-01", "2025-06-01"));
  regimen.entries.push_back(Course(*test, "phenelzine", "2025-05-01", "2025-08-01"));
  regimen.entries.push_back(Course(*test, "duloxetine", "2025-05-01", "2025-08-01"));
  const auto report = CheckRegimen(test->knowledge, regimen, D("2026-11-22"));
  ASSERT_EQ(report.findings.size(), 2U);  // phenelzine with sertraline and with duloxetine; not the two SRIs.
  for (const InteractionFinding& finding : report.findings) {
    EXPECT_EQ(finding.timing, InteractionTiming::Past);
    EXPECT_EQ(finding.rule, "rule.ddi.maoi_sri");
  }
  EXPECT_TRUE(InteractionAlerts(report).empty());
}

TEST(CheckRegimen, UnknownNamesAreReportedWithASuggestion) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  const std::vector<std::string> names = {"sertralime", "ashwagandha"};
  const Regimen regimen = RegimenFromNames(test->kb, names);
  const auto report = CheckRegimen(test->knowledge, regimen, D("2026-11-22"));
  ASSERT_EQ(report.unresolved.size(), 2U);
  EXPECT_EQ(report.unresolved[0].message, "unknown drug \"sertralime\" (did you mean \"sertraline\"?): its interactions were not checked");
  EXPECT_EQ(report.unresolved[0].origin, "argument 1");
  EXPECT_EQ(report.unresolved[1].message, "unknown drug \"ashwagandha\": its interactions were not checked");
  EXPECT_TRUE(report.checked.empty());
}

TEST(CheckRegimen, JsonNamesEveryPart) {
  auto test = Load(BaseFiles());
  ASSERT_TRUE(test);
  Regimen regimen;
  regimen.entries.push_back(Course(*test, "phenelzine", "2026-01-01", std::nullopt));
  regimen.entries.push_back(Course(*test, "sertraline", "2026-02-01", std::nullopt));
  const auto json = InteractionsToJson(test->knowledge, CheckRegimen(test->knowledge, regimen, D("2026-11-22")));
  ASSERT_EQ(json["interactions"].size(), 1U);
  const auto& finding = json["interactions"][0];
  EXPECT_EQ(finding["severity"], "contraindicated");
  EXPECT_EQ(finding["rule"], "rule.ddi.maoi_sri");
  EXPECT_EQ(finding["drugs"][0]["drug"], "drug.phenelzine");
  EXPECT_EQ(finding["overlap"]["from"], "2026-02-01");
  EXPECT_TRUE(finding["overlap"]["until"].is_null());
  EXPECT_EQ(json["severity_scale"]["levels"][0]["maps_to"]["lexicomp"], "X");
}

TEST(EnzymeTables, InhibitionsByGivesTheBuiltInClasses) {
  auto kb = app::LoadKb(std::nullopt);
  ASSERT_TRUE(kb);
  auto knowledge = LoadInteractionKnowledge(*kb);
  ASSERT_TRUE(knowledge) << knowledge.error().location << ": " << knowledge.error().message;
  const std::vector<std::string> ids = {"drug.fluoxetine", "drug.dextromethorphan_bupropion", "drug.mirtazapine", "drug.unknown"};
  const auto inhibitions = InhibitionsBy(*knowledge, ids);
  std::vector<std::string> got;
  for (const EnzymeInhibition& inhibition : inhibitions) {
    got.push_back(inhibition.drug_id + " " + inhibition.enzyme + " " + std::string(PerpetratorStrengthName(inhibition.strength)));
    EXPECT_FALSE(inhibition.sources.empty());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"drug.dextromethorphan_bupropion CYP2D6 strong", "drug.fluoxetine CYP2C19 strong",
                                            "drug.fluoxetine CYP2D6 strong", "drug.fluoxetine CYP3A4 weak"}));
  EXPECT_EQ(inhibitions[2].persists_after_stop_days, 35);
}

TEST(EnzymeTables, InhibitionsInRegimenKeepFluoxetineAfterItStops) {
  auto kb = app::LoadKb(std::nullopt);
  ASSERT_TRUE(kb);
  auto knowledge = LoadInteractionKnowledge(*kb);
  ASSERT_TRUE(knowledge);
  Regimen regimen;
  RegimenEntry fluoxetine;
  fluoxetine.drug = kb->FindDrug("drug.fluoxetine");
  fluoxetine.start = D("2026-01-01");
  fluoxetine.end = D("2026-11-01");
  regimen.entries.push_back(fluoxetine);
  EXPECT_EQ(InhibitionsInRegimen(*knowledge, regimen, D("2026-12-06")).size(), 2U);
  EXPECT_TRUE(InhibitionsInRegimen(*knowledge, regimen, D("2026-12-07")).empty());
}

}  // namespace
}  // namespace refract
