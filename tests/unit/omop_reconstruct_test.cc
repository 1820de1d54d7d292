// SPDX-License-Identifier: Apache-2.0
// OMOP screening mechanics: concept resolution (with drifted ids), exposure end rules, persistence
// gap, daily dose from DRUG_STRENGTH, data-quality counting, CSV rows. Every threshold is read from
// the KB's rule.omop.reconstruction, never written here.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "refract/app/app.h"
#include "refract/core/omop.h"

namespace refract::omop {
namespace {

const KnowledgeBase& Kb() {
  static const KnowledgeBase kb = [] {
    auto loaded = app::LoadKb(std::nullopt);
    if (!loaded) std::abort();
    return std::move(*loaded);
  }();
  return kb;
}

const OmopConfig& Config() {
  static const OmopConfig config = [] {
    auto loaded = LoadOmopConfig(Kb());
    if (!loaded) std::abort();
    return std::move(*loaded);
  }();
  return config;
}

const ConceptEntry& EntryFor(const std::string& target) {
  const auto found = std::find_if(Config().entries.begin(), Config().entries.end(),
                                  [&](const ConceptEntry& entry) { return entry.target == target && !entry.code.code.empty() && !entry.exclude; });
  if (found == Config().entries.end()) std::abort();
  return *found;
}

Date D(const char* text) { return *ParseDate(text); }

constexpr ConceptId kSertralineProduct = 900001;
constexpr ConceptId kVenlafaxineProduct = 900002;
constexpr ConceptId kMg = 900100;

// A site vocabulary where sertraline keeps its expected id and venlafaxine has drifted.
ConceptIndex SiteIndex() {
  const ConceptEntry& sertraline = EntryFor("drug.sertraline");
  const ConceptEntry& venlafaxine = EntryFor("drug.venlafaxine");
  const ConceptEntry& mg = EntryFor("unit.mg");
  const ConceptEntry& depression = EntryFor("condition.depression");
  const ConceptEntry& bipolar = EntryFor("condition.bipolar");
  std::vector<ConceptRow> rows = {
      {*sertraline.expected_id, sertraline.code.vocabulary, sertraline.code.code, "sertraline", "Ingredient", ""},
      {800000001, venlafaxine.code.vocabulary, venlafaxine.code.code, "venlafaxine", "Ingredient", ""},
      {kMg, mg.code.vocabulary, mg.code.code, "milligram", "Unit", ""},
      {*depression.expected_id, depression.code.vocabulary, depression.code.code, "Depressive disorder", "Clinical Finding", ""},
      {*bipolar.expected_id, bipolar.code.vocabulary, bipolar.code.code, "Bipolar disorder", "Clinical Finding", ""},
  };
  auto resolutions = ResolveConcepts(Config(), rows);
  const std::vector<DescendantRow> descendants = {{*sertraline.expected_id, kSertralineProduct}, {800000001, kVenlafaxineProduct}};
  const std::vector<StrengthRow> strengths = {
      {kSertralineProduct, *sertraline.expected_id, 50.0, kMg, std::nullopt, 0, std::nullopt, 0},
      {kVenlafaxineProduct, 800000001, 75.0, kMg, std::nullopt, 0, std::nullopt, 0},
  };
  std::vector<ConceptId> known = {kSertralineProduct, kVenlafaxineProduct, kMg, 12345};
  return BuildConceptIndex(Kb(), Config(), std::move(resolutions), descendants, strengths, known);
}

DrugExposureRow Fill(std::int64_t id, ConceptId concept_id, const char* start, std::optional<std::int64_t> days, double quantity) {
  DrugExposureRow row;
  row.drug_exposure_id = id;
  row.drug_concept_id = concept_id;
  row.start = D(start);
  if (days && *days > 0) row.end = AddDays(row.start, static_cast<long>(*days) - 1);
  row.days_supply = days;
  row.quantity = quantity;
  return row;
}

PersonRows Person() {
  PersonRows person;
  person.person_id = 42;
  person.year_of_birth = 1980;
  person.observation_periods.push_back({D("2015-01-01"), D("2025-12-31")});
  return person;
}

TEST(OmopConcepts, DriftedIdIsResolvedByCodeAndReported) {
  const ConceptIndex index = SiteIndex();
  const auto drifted = std::find_if(index.resolutions.begin(), index.resolutions.end(),
                                    [](const ConceptResolution& resolution) { return resolution.entry->target == "drug.venlafaxine"; });
  ASSERT_NE(drifted, index.resolutions.end());
  EXPECT_EQ(drifted->status, ResolutionStatus::Drifted);
  ASSERT_TRUE(drifted->site_id);
  EXPECT_EQ(*drifted->site_id, 800000001);
  EXPECT_EQ(drifted->message, fmt::format("RxNorm {} (venlafaxine) has concept_id 800000001 in this database, not the expected {}: using 800000001",
                                          drifted->entry->code.code, *drifted->entry->expected_id));
  ASSERT_EQ(index.drugs.count(kVenlafaxineProduct), 1U);
  EXPECT_EQ(index.drugs.at(kVenlafaxineProduct).front().drug->id, "drug.venlafaxine");
}

TEST(OmopConcepts, MissingCodeIsNotFoundWithMessage) {
  const ConceptIndex index = SiteIndex();
  const auto missing = std::find_if(index.resolutions.begin(), index.resolutions.end(),
                                    [](const ConceptResolution& resolution) { return resolution.entry->target == "drug.fluoxetine"; });
  ASSERT_NE(missing, index.resolutions.end());
  EXPECT_EQ(missing->status, ResolutionStatus::NotFound);
  EXPECT_EQ(missing->message, fmt::format("RxNorm {} (fluoxetine) is not in the CONCEPT table: drug.fluoxetine is not recognised in this database",
                                          missing->entry->code.code));
}

TEST(OmopConcepts, IdOnlyEntryWithAnotherNameIsNotUsed) {
  const auto id_only = std::find_if(Config().entries.begin(), Config().entries.end(), [](const ConceptEntry& entry) { return entry.code.code.empty(); });
  ASSERT_NE(id_only, Config().entries.end());
  const std::vector<ConceptRow> rows = {{*id_only->expected_id, "RxNorm", "999", "acetaminophen", "Ingredient", ""}};
  const auto resolutions = ResolveConcepts(Config(), rows);
  const auto found = std::find_if(resolutions.begin(), resolutions.end(), [&](const ConceptResolution& resolution) { return resolution.entry == &*id_only; });
  ASSERT_NE(found, resolutions.end());
  EXPECT_EQ(found->status, ResolutionStatus::NameMismatch);
  EXPECT_EQ(found->message, fmt::format("RxNorm concept {} is \"acetaminophen\" in this database, not {}: not used", *id_only->expected_id, id_only->name));
}

TEST(OmopReconstruct, PersistenceGapJoinsOrSplitsCourses) {
  const ConceptIndex index = SiteIndex();
  const int gap = Config().rules.persistence_gap_days;
  PersonRows person = Person();
  // Fill 1 covers 2024-01-01..2024-01-30; fill 2 starts after exactly `gap` drug-free days: same course.
  person.drug_exposures.push_back(Fill(1, kSertralineProduct, "2024-01-01", 30, 30));
  const Date second = AddDays(D("2024-01-30"), gap + 1);
  person.drug_exposures.push_back(Fill(2, kSertralineProduct, FormatDate(second).c_str(), 30, 30));
  // Fill 3 starts after gap + 1 drug-free days: a new course.
  const Date third = AddDays(AddDays(second, 29), gap + 2);
  person.drug_exposures.push_back(Fill(3, kSertralineProduct, FormatDate(third).c_str(), 30, 30));
  const Reconstruction out = Reconstruct(Kb(), Config(), index, person, {});
  ASSERT_EQ(out.record.courses.size(), 2U);
  EXPECT_EQ(out.record.courses[0].start, D("2024-01-01"));
  EXPECT_EQ(out.record.courses[0].end, AddDays(second, 29));
  EXPECT_EQ(out.record.courses[1].start, third);
  EXPECT_EQ(out.data_quality.Total(), 0);
}

TEST(OmopReconstruct, DailyDoseFromStrengthAndDoseSteps) {
  const ConceptIndex index = SiteIndex();
  PersonRows person = Person();
  person.drug_exposures.push_back(Fill(1, kVenlafaxineProduct, "2024-01-01", 30, 30));   // 75 mg/day
  person.drug_exposures.push_back(Fill(2, kVenlafaxineProduct, "2024-01-31", 30, 60));   // 150 mg/day
  person.drug_exposures.push_back(Fill(3, kVenlafaxineProduct, "2024-03-01", 30, 60));   // unchanged
  const Reconstruction out = Reconstruct(Kb(), Config(), index, person, {});
  ASSERT_EQ(out.record.courses.size(), 1U);
  const Course& course = out.record.courses[0];
  ASSERT_EQ(course.doses.size(), 2U);
  EXPECT_EQ(course.doses[0].mg_per_day, 75);
  EXPECT_EQ(course.doses[1].from, D("2024-01-31"));
  EXPECT_EQ(course.doses[1].mg_per_day, 150);
  ASSERT_TRUE(course.adherence_percent);
  EXPECT_EQ(*course.adherence_percent, 100);
}

TEST(OmopReconstruct, DataQualityProblemsAreCountedNotFatal) {
  const ConceptIndex index = SiteIndex();
  PersonRows person = Person();
  person.drug_exposures.push_back(Fill(1, kSertralineProduct, "2024-01-01", -30, 30));  // negative days_supply, no end
  DrugExposureRow no_end = Fill(2, kSertralineProduct, "2024-02-01", 30, 30);
  no_end.end.reset();
  person.drug_exposures.push_back(no_end);
  DrugExposureRow backwards = Fill(3, kSertralineProduct, "2024-03-01", 30, 30);
  backwards.end = D("2024-02-20");
  person.drug_exposures.push_back(backwards);
  person.drug_exposures.push_back(Fill(4, 0, "2024-03-01", 30, 30));
  person.drug_exposures.push_back(Fill(5, 777, "2024-03-01", 30, 30));
  person.drug_exposures.push_back(Fill(6, kSertralineProduct, "2024-04-01", 30, 30000));
  person.drug_exposures.push_back(Fill(7, kSertralineProduct, "2024-05-01", 400, 400));
  const Reconstruction out = Reconstruct(Kb(), Config(), index, person, {});
  const DataQuality& quality = out.data_quality;
  EXPECT_EQ(quality.Get(DqIssue::NegativeDaysSupply), 1);
  EXPECT_EQ(quality.Get(DqIssue::EndDateMissing), 2);  // the negative-supply row has no end either
  EXPECT_EQ(quality.Get(DqIssue::EndBeforeStart), 1);
  EXPECT_EQ(quality.Get(DqIssue::UnmappedDrugConcept), 1);
  EXPECT_EQ(quality.Get(DqIssue::UnknownDrugConcept), 1);
  EXPECT_EQ(quality.Get(DqIssue::ImplausibleDose), 1);
  EXPECT_EQ(quality.Get(DqIssue::DaysSupplyOver365), 1);
  EXPECT_EQ(quality.Get(DqIssue::DoseNotComputable), 1);  // the negative-supply row: no days_supply left
  EXPECT_FALSE(out.record.courses.empty());
}

TEST(OmopReconstruct, BipolarDiagnosisMakesTrdNotApplicable) {
  const ConceptIndex index = SiteIndex();
  PersonRows person = Person();
  person.conditions.push_back({*EntryFor("condition.depression").expected_id, D("2024-01-01")});
  person.conditions.push_back({*EntryFor("condition.bipolar").expected_id, D("2024-06-01")});
  auto result = ScreenPerson(Kb(), Config(), index, person, {});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->trd_status, TrdStatus::NotApplicable);
  EXPECT_TRUE(result->depression_diagnosis);
  EXPECT_EQ(ResultCsvRow(*result), "42,2025-12-31,2024-01-01,yes,not_applicable,0,,0,0,0,0,none,,0,no,bipolar_or_mania,0\n");
}

TEST(OmopReconstruct, SwitchAfterAdequateCoursesMeetsTrd) {
  const ConceptIndex index = SiteIndex();
  const Criteria* criteria = Kb().FindCriteria(Kb().default_criteria());
  ASSERT_NE(criteria, nullptr);
  // Two courses each clearly longer than the minimum duration at the minimum adequate dose or more,
  // each followed by a switch; then a third, ongoing course.
  const long days = criteria->min_duration_days + Config().rules.switch_window_days + 30;
  PersonRows person = Person();
  person.conditions.push_back({*EntryFor("condition.depression").expected_id, D("2023-01-01")});
  Date start = D("2023-01-02");
  std::int64_t id = 1;
  for (const ConceptId product : {kSertralineProduct, kVenlafaxineProduct}) {
    const double per_day = Kb().FindDrug(product == kSertralineProduct ? "drug.sertraline" : "drug.venlafaxine")->adequacy->min_dose_mg_per_day /
                           (product == kSertralineProduct ? 50.0 : 75.0);
    for (long offset = 0; offset < days; offset += 30) {
      person.drug_exposures.push_back(Fill(id++, product, FormatDate(AddDays(start, offset)).c_str(), 30, 30 * per_day));
    }
    start = AddDays(start, (days + 29) / 30 * 30 + 2);
  }
  auto result = ScreenPerson(Kb(), Config(), index, person, {});
  ASSERT_TRUE(result);
  // The first course failed (switch); the second has no next step: undecided.
  EXPECT_EQ(result->failed_adequate_trials, 1);
  EXPECT_EQ(result->trd_status, TrdStatus::Indeterminate);
  EXPECT_EQ(result->failed_drugs, std::vector<std::string>{"sertraline"});
}

TEST(OmopResultCsv, QuotesFieldsWithSeparatorsAndWritesFractionsAndOldDates) {
  // The rare shapes of a row: a field that needs quotes, a fractional MGH score, a year before 1000.
  PersonResult result;
  result.person_id = -7;
  result.as_of = Date{std::chrono::sys_days{std::chrono::year{999} / 3 / 4}};
  result.trd_status = TrdStatus::Meets;
  result.failed_adequate_trials = 2;
  result.failed_drugs = {"a,b", "c"};
  result.european_category = "say \"x\"";
  result.maudsley_total = 11;
  result.mgh_score = 2.5;
  result.esketamine_candidate = true;
  result.flags = {"ect", "tms"};
  result.data_quality.Add(DqIssue::ImplausibleDose, 3);
  EXPECT_EQ(ResultCsvRow(result), "-7,0999-03-04,,no,meets,2,\"a,b;c\",0,0,0,0,\"say \"\"x\"\"\",11,2.5,yes,ect;tms,3\n");
}

}  // namespace
}  // namespace refract::omop
