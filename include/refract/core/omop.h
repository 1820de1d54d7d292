// SPDX-License-Identifier: Apache-2.0
/// Population screening over OMOP CDM rows: the KB's concept sets and reconstruction rules,
/// concept resolution against a site's CONCEPT table, and the pure reconstruction of one person's
/// rows into a PatientRecord that the ordinary engine (Evaluate) assesses.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "refract/core/assessment.h"
#include "refract/core/date.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/result.h"

namespace refract::omop {

using ConceptId = std::int64_t;

// ---------------------------------------------------------------------------------------------
// Configuration read from the KB (kb/omop/*.json, kb/rules/omop.reconstruction.json)
// ---------------------------------------------------------------------------------------------

enum class ConceptDomain { Drug, Condition, Procedure, Measurement, Unit };

/// A (vocabulary, code) pair as written in the OMOP CONCEPT table.
struct ConceptCode {
  std::string vocabulary;
  std::string code;
  friend bool operator==(const ConceptCode&, const ConceptCode&) = default;
};

/// One entry of a KB concept set: what to look up in CONCEPT and what it means to refract.
struct ConceptEntry {
  std::string set_id;  ///< "omop.concepts.drugs".
  int entry_index = 0;
  ConceptDomain domain = ConceptDomain::Drug;
  ConceptCode code;                           ///< code.code is empty when only the concept_id is known.
  std::optional<ConceptId> expected_id;       ///< The id seen in public vocabularies; never trusted alone.
  std::string name;
  std::string target;  ///< "drug.sertraline", "condition.depression", "procedure.ect", "measurement.phq9_total", "unit.mg".
  bool descendants = false;
  bool exclude = false;
  double factor_to_mg = 0;  ///< Units only: 0 when not a mass unit.
};

/// A fixed-dose combination product: one KB drug made of several ingredients.
struct CombinationEntry {
  std::string target;
  std::vector<ConceptCode> ingredients;
  ConceptCode dose_from;  ///< The ingredient whose strength the KB's dose is expressed in.
};

/// The reconstruction parameters of rule.omop.reconstruction (see docs/omop.md). Values come only from the KB.
struct ReconstructionRules {
  std::string id;
  std::vector<std::string> sources;
  int exposure_default_days = 0;
  int max_days_supply = 0;
  std::vector<std::string> exposure_sources;
  int persistence_gap_days = 0;
  std::vector<std::string> persistence_sources;
  double implausible_above_max_factor = 0;
  double step_change_min_percent = 0;
  std::vector<std::string> dose_sources;
  std::vector<std::string> adherence_sources;
  int combination_min_overlap_days = 0;
  std::vector<std::string> combination_sources;
  int switch_window_days = 0;
  Outcome outcome_after_switch = Outcome::Unknown;
  Outcome outcome_after_addition = Outcome::Unknown;
  std::vector<std::string> treatment_change_sources;
  int phq9_baseline_days_before = 0;
  int phq9_baseline_days_after = 0;
  int phq9_followup_min_days = 0;
  int phq9_followup_days_after_end = 0;
  int phq9_max_total = 0;
  std::vector<std::string> phq9_sources;
  int episode_treatment_free_days = 0;
  std::vector<std::string> episode_sources;
  int procedure_course_gap_days = 0;
  int esketamine_min_age_years = 0;
  std::vector<std::string> esketamine_sources;
};

/// Everything population screening reads from the KB.
struct OmopConfig {
  std::vector<ConceptEntry> entries;
  std::vector<CombinationEntry> combinations;
  ReconstructionRules rules;
};

/// Reads the concept sets (kind omop_concept_set) and rule.omop.reconstruction from a loaded KB.
///
/// Fails with KbReference when the KB has no reconstruction rule, no concept set, or a concept
/// entry names a drug the KB does not have.
[[nodiscard]] Result<OmopConfig> LoadOmopConfig(const KnowledgeBase& kb);

// ---------------------------------------------------------------------------------------------
// Concept resolution against the site's own CONCEPT table
// ---------------------------------------------------------------------------------------------

/// One row of a site's CONCEPT table, as an adapter read it.
struct ConceptRow {
  ConceptId concept_id = 0;
  std::string vocabulary;
  std::string code;
  std::string name;
  std::string concept_class;
  std::string invalid_reason;
};

enum class ResolutionStatus {
  Matched,        ///< Found by code with the expected id.
  Drifted,        ///< Found by code with another id than expected: the site's id is used.
  ResolvedById,   ///< No code known; the expected id exists with a matching name.
  NameMismatch,   ///< No code known; the expected id exists but names something else: not used.
  NotFound,       ///< Neither the code nor (for id-only entries) the id exists: not used.
};
[[nodiscard]] std::string_view ResolutionStatusName(ResolutionStatus status);

/// The outcome of resolving one KB entry.
struct ConceptResolution {
  const ConceptEntry* entry = nullptr;
  ResolutionStatus status = ResolutionStatus::NotFound;
  std::optional<ConceptId> site_id;
  std::string message;  ///< Empty when Matched.
};

/// What an adapter must look up in CONCEPT: every (vocabulary, code) and every expected id.
struct ConceptLookups {
  std::vector<ConceptCode> codes;
  std::vector<ConceptId> ids;
};
[[nodiscard]] ConceptLookups LookupsFor(const OmopConfig& config);

/// Resolves every KB entry against the rows an adapter read for LookupsFor(config).
/// Entries are resolved by (vocabulary, code) when a code is known, otherwise by id with a name
/// check; an invalid (invalid_reason set) row still resolves, with a message saying so.
[[nodiscard]] std::vector<ConceptResolution> ResolveConcepts(const OmopConfig& config, std::span<const ConceptRow> rows);

/// A descendant of a resolved concept (from CONCEPT_ANCESTOR, CONCEPT_RELATIONSHIP or
/// DRUG_STRENGTH's ingredient column); every resolved concept is also its own descendant.
struct DescendantRow {
  ConceptId ancestor = 0;
  ConceptId descendant = 0;
};

/// One DRUG_STRENGTH row.
struct StrengthRow {
  ConceptId drug_concept_id = 0;
  ConceptId ingredient_concept_id = 0;
  std::optional<double> amount_value;
  ConceptId amount_unit = 0;
  std::optional<double> numerator_value;
  ConceptId numerator_unit = 0;
  std::optional<double> denominator_value;
  ConceptId denominator_unit = 0;
};

/// What a drug concept means to refract: the KB drug and how to compute its daily dose.
struct DrugMapping {
  const Drug* drug = nullptr;
  /// Milligrams of the dose ingredient per unit of quantity (amount, or numerator/denominator for a
  /// concentration); empty when DRUG_STRENGTH has no usable row.
  std::optional<double> mg_per_unit;
  bool per_hour = false;  ///< Strength is a rate per hour (patches): a day is 24 units.
};

/// Condition categories as bits.
enum ConditionBit : std::uint8_t {
  kDepression = 1,
  kBipolar = 2,
  kMania = 4,
  kPsychosis = 8,
  kDementia = 16,
};

/// The resolved vocabulary: concept ids of the site mapped to refract's meanings.
struct ConceptIndex {
  std::unordered_map<ConceptId, std::vector<DrugMapping>> drugs;
  std::unordered_map<ConceptId, std::uint8_t> conditions;
  std::unordered_map<ConceptId, std::string> procedures;  ///< "ect" or "tms".
  std::vector<ConceptId> phq9;
  std::vector<ConceptId> known_concepts;  ///< Sorted ids present in CONCEPT (for unknown-concept counts).
  std::vector<ConceptResolution> resolutions;

  /// The condition and procedure concept ids, sorted (for adapters that filter rows by concept).
  [[nodiscard]] std::vector<ConceptId> ConditionIds() const;
  [[nodiscard]] std::vector<ConceptId> ProcedureIds() const;
};

/// Builds the index from resolved entries, their descendants and DRUG_STRENGTH rows.
/// `known_concepts` may be empty (then concepts absent from the index are not called unknown).
[[nodiscard]] ConceptIndex BuildConceptIndex(const KnowledgeBase& kb, const OmopConfig& config,
                                             std::vector<ConceptResolution> resolutions,
                                             std::span<const DescendantRow> descendants, std::span<const StrengthRow> strengths,
                                             std::vector<ConceptId> known_concepts);

// ---------------------------------------------------------------------------------------------
// One person's rows and their reconstruction
// ---------------------------------------------------------------------------------------------

struct DrugExposureRow {
  std::int64_t drug_exposure_id = 0;
  ConceptId drug_concept_id = 0;
  Date start;
  std::optional<Date> end;
  std::optional<double> quantity;
  std::optional<std::int64_t> days_supply;
};

struct ConditionRow {
  ConceptId concept_id = 0;
  Date start;
};

struct ProcedureRow {
  ConceptId concept_id = 0;
  Date date;
};

/// A PHQ-9 total from MEASUREMENT or OBSERVATION.
struct ScoreRow {
  ConceptId concept_id = 0;
  Date date;
  std::optional<double> value;
};

struct ObservationPeriodRow {
  Date start;
  Date end;
};

/// Every row of one person that screening reads. Adapters fill the vectors in any order.
struct PersonRows {
  std::int64_t person_id = 0;
  std::optional<int> year_of_birth;
  std::vector<ObservationPeriodRow> observation_periods;
  std::vector<DrugExposureRow> drug_exposures;
  std::vector<ConditionRow> conditions;
  std::vector<ProcedureRow> procedures;
  std::vector<ScoreRow> scores;
};

/// Data-quality problems, counted and reported, never fatal.
enum class DqIssue : std::uint8_t {
  NegativeDaysSupply,     ///< days_supply < 0: emptied, as the CDM conventions say.
  DaysSupplyOver365,      ///< days_supply above the rule's max_days_supply: kept, reported.
  EndDateMissing,         ///< No end date: end from days_supply, or start + default_days.
  EndBeforeStart,         ///< End date before start: ignored, end recomputed.
  UnmappedDrugConcept,    ///< drug_concept_id 0.
  UnknownDrugConcept,     ///< drug_concept_id not in CONCEPT.
  DoseNotComputable,      ///< Psychiatric drug without quantity, days_supply or strength.
  ImplausibleDose,        ///< Daily dose above the plausibility limit, or zero: treated as unknown.
  ExposureAfterAsOf,      ///< Starts after the assessment date: ignored.
  ScoreMissingValue,      ///< PHQ-9 row without value_as_number: ignored.
  ScoreOutOfRange,        ///< PHQ-9 total outside 0-27: ignored.
  NoObservationPeriod,    ///< Person without observation_period: as_of from the latest event.
  kCount
};
inline constexpr std::size_t kDqIssueCount = static_cast<std::size_t>(DqIssue::kCount);
[[nodiscard]] std::string_view DqIssueName(DqIssue issue);

/// Counts per DqIssue.
struct DataQuality {
  std::array<std::int64_t, kDqIssueCount> counts{};
  void Add(DqIssue issue, std::int64_t count = 1) { counts[static_cast<std::size_t>(issue)] += count; }
  [[nodiscard]] std::int64_t Get(DqIssue issue) const { return counts[static_cast<std::size_t>(issue)]; }
  [[nodiscard]] std::int64_t Total() const;
  void Merge(const DataQuality& other);
};

/// A person's rows as the engine's patient record, with what screening shows beside it.
struct Reconstruction {
  PatientRecord record;
  Date as_of;
  DataQuality data_quality;
  bool depression_diagnosis = false;
  bool psychosis_history = false;
  bool dementia_history = false;
};

/// Options of a screening run.
struct ScreenOptions {
  std::optional<Date> as_of;  ///< Empty: each person's last observation_period end (else last event).
  std::string criteria_id;    ///< Empty: the KB's default criteria.
};

/// Builds the patient record of one person. Pure: the same rows (in any order), index, KB and
/// options give the same record. Never fails: bad rows are counted in data_quality.
[[nodiscard]] Reconstruction Reconstruct(const KnowledgeBase& kb, const OmopConfig& config, const ConceptIndex& index,
                                         const PersonRows& rows, const ScreenOptions& options);

/// One person's screening result: the engine's verdicts in one row.
struct PersonResult {
  std::int64_t person_id = 0;
  Date as_of;
  std::optional<Date> episode_start;
  bool depression_diagnosis = false;
  TrdStatus trd_status = TrdStatus::Indeterminate;
  int failed_adequate_trials = 0;
  std::vector<std::string> failed_drugs;
  int antidepressant_trials = 0;
  int adequate_trials = 0;
  int undecided_trials = 0;
  int thase_rush_stage = 0;
  std::string european_category;
  std::optional<int> maudsley_total;
  double mgh_score = 0;
  bool esketamine_candidate = false;
  std::vector<std::string> flags;  ///< Sorted: bipolar_or_mania, psychosis_history, dementia, ect, tms, esketamine, ketamine.
  DataQuality data_quality;
};

/// Reconstructs one person and assesses the record with Evaluate (the same engine as `assess`).
/// Fails only when the criteria id is unknown.
[[nodiscard]] Result<PersonResult> ScreenPerson(const KnowledgeBase& kb, const OmopConfig& config, const ConceptIndex& index,
                                                const PersonRows& rows, const ScreenOptions& options);

/// The CSV header of screening results (no trailing newline).
[[nodiscard]] std::string_view ResultCsvHeader();

/// One result as a CSV line (with trailing newline); fields with separators are quoted.
[[nodiscard]] std::string ResultCsvRow(const PersonResult& result);

/// The same line appended to `out` (no temporary line per person).
void AppendResultCsvRow(const PersonResult& result, std::string& out);

/// Counts over many results; merging is order-independent.
struct ScreenSummary {
  std::int64_t persons = 0;
  std::int64_t drug_exposure_rows = 0;
  std::int64_t with_depression_diagnosis = 0;
  std::array<std::int64_t, 4> by_status{};  ///< Indexed by TrdStatus.
  std::array<std::int64_t, 6> thase_rush{};  ///< Stage 0..5 among persons meeting TRD.
  std::vector<std::pair<std::string, std::int64_t>> european;  ///< Sorted by category.
  std::vector<std::pair<std::string, std::int64_t>> flags;     ///< Sorted by flag.
  std::int64_t esketamine_candidates = 0;
  DataQuality data_quality;

  void Add(const PersonResult& result, std::size_t drug_rows);
  void Merge(const ScreenSummary& other);
};

}  // namespace refract::omop
