// SPDX-License-Identifier: Apache-2.0
/// The assessment of one patient: trial adequacy, outcomes, TRD status and staging.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "refract/core/date.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/result.h"

namespace refract {

/// One explained statement: what was found, and the KB rule and sources behind it.
struct Finding {
  std::string code;
  std::string message;
  std::string rule;
  std::vector<std::string> sources;
};

enum class AlertSeverity { Critical, Warning, Info };
[[nodiscard]] std::string_view AlertSeverityName(AlertSeverity value);

/// A finding that must lead every output.
struct Alert {
  AlertSeverity severity = AlertSeverity::Info;
  Finding finding;
};

enum class Adequacy { Adequate, Inadequate, Indeterminate };
[[nodiscard]] std::string_view AdequacyName(Adequacy value);

/// The verdicts on one course of an antidepressant or augmenting agent.
struct TrialAssessment {
  int index = 0;
  int input_index = 0;
  std::string course_id;
  std::string input_name;
  const Drug* drug = nullptr;
  const DrugClass* drug_class = nullptr;
  CourseRole role = CourseRole::Monotherapy;
  std::string augments;
  EpisodePlacement episode = EpisodePlacement::Current;
  Date start;
  std::optional<Date> end;
  bool ongoing = false;
  std::optional<double> min_adequate_dose_mg_per_day;
  std::optional<double> max_dose_mg_per_day;
  std::optional<long> days_in_window;
  std::optional<long> days_at_adequate_dose;
  bool days_at_adequate_dose_is_lower_bound = false;
  int required_days = 0;
  Adherence adherence = Adherence::Unknown;
  std::optional<double> adherence_percent;
  Adequacy adequacy = Adequacy::Indeterminate;
  std::vector<Finding> adequacy_reasons;
  Outcome outcome = Outcome::Unknown;
  std::string outcome_basis;
  std::optional<double> improvement_percent;
  std::string rated_by;
  std::optional<bool> failed;
  bool dose_optimized = false;
  bool duration_optimized = false;
  std::vector<Finding> findings;
  std::vector<std::string> rules;
  std::vector<std::string> sources;
  // Derived for staging: the day the counting window starts and ends (end empty when unknown).
  Date window_start;
  std::optional<Date> window_end;
};

/// The verdicts on one procedure course (ECT, TMS, esketamine, ketamine, VNS).
struct ProcedureAssessment {
  int index = 0;
  std::string source_list;
  int input_index = 0;
  std::string kind;
  Date start;
  std::optional<Date> end;
  bool ongoing = false;
  std::optional<int> sessions;
  std::string laterality;
  EpisodePlacement episode = EpisodePlacement::Current;
  Outcome outcome = Outcome::Unknown;
  std::string outcome_basis;
  std::optional<double> improvement_percent;
  std::optional<bool> failed;
  std::vector<Finding> findings;
};

enum class TrdStatus { Meets, DoesNotMeet, Indeterminate, NotApplicable };
[[nodiscard]] std::string_view TrdStatusName(TrdStatus value);

struct TrdAssessment {
  TrdStatus status = TrdStatus::Indeterminate;
  int failed_adequate_trials = 0;
  std::vector<std::string> failed_drugs;
  std::vector<int> failed_trial_indices;
  std::vector<int> undecided_trial_indices;
  int required = 0;
  std::string rule;
  std::vector<std::string> sources;
  std::vector<Finding> findings;
};

/// What every staging result shows: how it was computed and where the model is ambiguous.
struct StagingExplanation {
  std::vector<std::string> computation;
  std::vector<std::string> ambiguities;
  std::string rule;
  std::vector<std::string> sources;
};

struct ThaseRushResult {
  int stage = 0;
  std::string label;
  StagingExplanation explanation;
};

struct EuropeanResult {
  std::string category;
  int failed_trials = 0;
  double total_weeks = 0;
  std::optional<int> months_since_first_trial;
  StagingExplanation explanation;
};

struct MaudsleyComponent {
  std::optional<int> points;
  std::string value;
};

struct MaudsleyResult {
  bool applicable = false;
  std::optional<int> total;
  std::optional<int> possible_min;
  std::optional<int> possible_max;
  std::string band;
  MaudsleyComponent duration;
  MaudsleyComponent severity;
  MaudsleyComponent failures;
  MaudsleyComponent augmentation;
  MaudsleyComponent ect;
  StagingExplanation explanation;
};

struct MghTrialPoints {
  int trial = 0;
  double points = 0;
  std::vector<std::string> items;
};

struct MghResult {
  double score = 0;
  std::vector<MghTrialPoints> per_trial;
  double ect_points = 0;
  StagingExplanation explanation;
};

/// The whole assessment of one patient on one date.
struct Assessment {
  std::string patient_id;
  Date as_of;
  const Criteria* criteria = nullptr;
  std::string kb_version;
  std::string kb_digest;
  std::string kb_origin;
  std::vector<Alert> alerts;
  std::vector<TrialAssessment> trials;
  std::vector<ProcedureAssessment> procedures;
  TrdAssessment trd;
  ThaseRushResult thase_rush;
  EuropeanResult european;
  MaudsleyResult maudsley;
  MghResult mgh;
  std::vector<Finding> findings;
  /// Every source named anywhere in the assessment, sorted by id, with its citation.
  std::vector<Source> cited_sources;
};

/// Options of one evaluation.
struct EvaluateOptions {
  Date as_of;
  std::string criteria_id;  ///< Empty selects the KB's default criteria.
};

/// Assesses a parsed patient record against the KB on `options.as_of`.
///
/// Pure: the same record, options and KB give the same Assessment. Fails only when the
/// criteria id is unknown (InvalidInput, with a suggestion); missing clinical data gives
/// indeterminate verdicts with findings that name what is missing.
[[nodiscard]] Result<Assessment> Evaluate(const KnowledgeBase& kb, const PatientRecord& patient,
                                          const EvaluateOptions& options);

}  // namespace refract
