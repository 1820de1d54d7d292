// SPDX-License-Identifier: Apache-2.0
/// The patient record (refract.patient/v1) as the engine reads it, and its parser.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/date.h"
#include "refract/core/json_schema.h"
#include "refract/core/kb.h"
#include "refract/core/result.h"

namespace refract {

enum class Adherence { Good, Partial, Poor, Unknown };
enum class CourseRole { Monotherapy, Augmentation, Combination };
enum class EpisodePlacement { Current, Previous };

[[nodiscard]] std::string_view AdherenceName(Adherence value);
[[nodiscard]] std::string_view CourseRoleName(CourseRole value);
[[nodiscard]] std::string_view EpisodePlacementName(EpisodePlacement value);

/// A daily dose in force from a date until the next step or the end of the course.
struct DoseStep {
  Date from;
  double mg_per_day = 0;
};

/// Improvement from the start of a course, in percent.
struct Improvement {
  double percent = 0;
  std::string rated_by;
};

/// One course of a psychiatric drug from the record's medications[].
struct Course {
  int input_index = 0;
  std::string id;
  std::string input_name;
  const Drug* drug = nullptr;
  std::optional<CourseRole> role;
  std::string augments;
  Date start;
  std::optional<Date> end;
  bool ongoing = false;
  std::vector<DoseStep> doses;
  Adherence adherence = Adherence::Unknown;
  std::optional<double> adherence_percent;
  std::string stop_reason;
  std::optional<Improvement> improvement;
  std::optional<Outcome> outcome;
  bool dose_optimized = false;
  bool duration_optimized = false;
  std::optional<EpisodePlacement> episode;
};

/// A procedure (ECT, TMS, esketamine, ketamine, VNS) from procedures[], or an interventional
/// drug course moved here from medications[].
struct Procedure {
  int input_index = 0;
  std::string source_list;  ///< "procedures" or "medications".
  std::string kind;
  Date start;
  std::optional<Date> end;
  bool ongoing = false;
  std::optional<int> sessions;
  std::string laterality;
  std::optional<Outcome> outcome;
  std::optional<Improvement> improvement;
  std::optional<EpisodePlacement> episode;
};

/// One laboratory result.
struct LabResult {
  std::string name;  ///< Lower-case lab id as recorded ("lithium_level", "tsh").
  double value = 0;
  std::string unit;
  Date date;
};

struct Diagnosis {
  std::string kind;
  std::string status;
  std::string name;
  std::string code_system;
  std::string code;
};

/// A medical condition (free name, optional code).
struct Condition {
  std::string name;  ///< Lower-case, white space folded.
  std::string code_system;
  std::string code;
  std::string status;
};

/// One administration of a rating scale, as recorded (validated against the scale later).
struct ScaleAdministration {
  int input_index = 0;
  std::string scale;  ///< As entered ("phq9", "PHQ-9", "scale.phq9").
  Date date;
  std::vector<std::optional<int>> items;  ///< Empty when only a total was recorded; nullopt = unanswered.
  std::optional<double> total;
  std::string rater;
};

/// A genotype result for one gene: a diplotype, an activity score or a phenotype.
struct GenotypeEntry {
  int input_index = 0;
  std::string gene;
  std::string diplotype;
  std::optional<double> activity_score;
  std::string phenotype;
  std::string source;
  std::optional<Date> date;
};

/// A non-psychiatric medication or supplement. `drug` is null when the KB does not know the name:
/// adapters and rules must report it, never drop it.
struct OtherMedication {
  int input_index = 0;
  std::string input_name;
  const Drug* drug = nullptr;
  std::optional<double> mg_per_day;
  std::optional<Date> start;
  std::optional<Date> end;
  bool ongoing = false;
  bool as_needed = false;
  std::string kind;
};

/// A vital sign: blood pressure uses systolic/diastolic, the others value and unit.
struct VitalSign {
  std::string kind;
  Date date;
  std::optional<double> systolic;
  std::optional<double> diastolic;
  std::optional<double> value;
  std::string unit;
};

/// A structured adverse drug reaction with optional Naranjo answers ("yes", "no", "unknown").
struct AdverseReaction {
  int input_index = 0;
  std::string drug_name;
  const Drug* drug = nullptr;
  std::string reaction;
  std::optional<Date> date;
  std::string severity;
  std::vector<std::pair<std::string, std::string>> naranjo;  ///< Question key and answer, in record order.
};

/// One day of the patient's own log.
struct DailyEntry {
  Date date;
  std::optional<int> mood;
  std::optional<double> sleep_hours;
  std::optional<int> energy;
  std::optional<int> functioning;
  std::optional<int> anxiety;
  std::optional<int> doses_missed;
  std::string note;
};

/// The parts of a patient record the engine reads. The whole record stays in `raw`.
struct PatientRecord {
  std::string id;
  std::optional<Date> birth_date;
  std::optional<int> age_years;
  std::string sex;
  std::optional<bool> pregnant;
  std::optional<bool> breastfeeding;
  std::optional<bool> postpartum;
  std::optional<Date> episode_start;
  std::string episode_severity;
  std::optional<bool> psychotic_features;
  bool history_bipolar = false;
  bool history_mania_or_hypomania = false;
  bool history_psychosis = false;
  bool history_self_harm = false;
  bool history_family_bipolar = false;
  std::optional<int> history_suicide_attempts;
  std::optional<Date> history_last_suicide_attempt;
  std::string history_substance_use;
  std::vector<Diagnosis> diagnoses;
  std::vector<Condition> conditions;
  std::vector<Course> courses;
  std::vector<Procedure> procedures;
  std::vector<LabResult> labs;
  std::vector<ScaleAdministration> scales;
  std::vector<GenotypeEntry> genotypes;
  std::vector<OtherMedication> other_medications;
  std::vector<VitalSign> vitals;
  std::vector<AdverseReaction> adverse_reactions;
  std::vector<DailyEntry> daily_log;
  nlohmann::json raw;
};

/// Parses records against the patient schema and the KB.
class PatientParser {
 public:
  explicit PatientParser(nlohmann::json patient_schema);

  /// Validates and reads one record. `label` names the input in error locations
  /// ("patient.json" gives "patient.json#/medications/0/drug").
  ///
  /// Fails with InvalidInput on the first problem, in document order: a schema violation, an
  /// unknown drug name (with a suggestion), an end before a start, dose steps out of order or
  /// before the start, an `augments` that names no course. Missing clinical data is not an error.
  [[nodiscard]] Result<PatientRecord> Parse(const KnowledgeBase& kb, const nlohmann::json& record,
                                            std::string_view label) const;

 private:
  SchemaValidator validator_;
};

}  // namespace refract
