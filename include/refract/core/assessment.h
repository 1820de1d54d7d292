// SPDX-License-Identifier: Apache-2.0
/// The assessment of one patient: trial adequacy, outcomes, TRD status and staging.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "refract/core/date.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/result.h"

namespace refract {

struct InteractionReport;  // refract/core/interactions.h
struct PgxReport;          // refract/core/pgx.h
struct NextSteps;          // refract/core/next_steps.h

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
  std::string outcome_scale;  ///< The scale id when the outcome comes from a scale trajectory.
  std::vector<DoseStep> doses;  ///< The course's dose steps, for the timeline.
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

/// One scale administration as scored (measurement-based care).
struct ScaleResult {
  int input_index = 0;
  std::string scale_id;
  std::string short_name;
  std::string measures;
  Date date;
  std::string rater;
  std::optional<double> total;
  std::string total_source;  ///< "items", "recorded" or "none".
  bool complete = true;
  std::string band;
  std::string screen;  ///< "positive", "negative", "indeterminate" or "not_applicable".
  std::string screen_name;
  std::string risk_tier;
  std::vector<Finding> findings;
};

/// One total of one scale on one date.
struct ScorePoint {
  Date date;
  double total = 0;
  int input_index = 0;
};

/// Totals of one scale over one period (a trial, or the current episode). Scales are never mixed.
struct ScaleTrajectory {
  std::string scale_id;
  std::string short_name;
  /// evaluated | no_baseline | baseline_zero | baseline_below_minimum | no_follow_up
  std::string status;
  std::string baseline_basis;  ///< "before_start" or "first_recorded".
  std::optional<ScorePoint> baseline;
  std::optional<ScorePoint> best;
  std::optional<ScorePoint> latest;
  std::optional<double> percent_change;       ///< Latest vs baseline; positive = improvement.
  std::optional<double> best_percent_change;  ///< Best vs baseline.
  std::optional<Outcome> outcome;             ///< From the latest total; empty when not evaluable.
  bool remission = false;
  std::optional<Date> response_date;
  std::optional<long> days_to_response;
  std::optional<double> reliable_change_index;
  std::string reliable_change;  ///< improved | deteriorated | no_reliable_change | not_assessable
  std::vector<ScorePoint> points;
  std::vector<Finding> findings;
};

/// The trajectories of one trial and the scale that decided its outcome (empty when none did).
struct TrialMeasurement {
  int trial = 0;
  std::string decided_by;
  std::vector<ScaleTrajectory> trajectories;
};

/// A remission, recovery, relapse or recurrence found on one scale.
struct EpisodeEvent {
  std::string kind;
  std::string scale_id;
  Date date;
  std::optional<Date> remission_from;
  Finding finding;
};

/// One explanation that must be ruled out before loss of response is called tachyphylaxis.
struct AlternativeExplanation {
  std::string code;
  std::string name;
  std::string status;  ///< "present", "not_found" or "unknown".
  std::string detail;
};

/// A sustained response on a drug that was later lost on the same drug.
struct TachyphylaxisResult {
  int trial = 0;
  std::string drug;
  std::string scale_id;
  std::string classification;  ///< tachyphylaxis | loss_of_response | possible_loss_of_response
  Date response_from;
  Date response_until;
  Date loss_from;
  std::optional<Date> loss_confirmed;
  std::optional<double> dose_mg_per_day;
  std::vector<AlternativeExplanation> alternatives;
  Finding finding;
};

/// One field of the daily log over the summary window.
struct DailyFieldSummary {
  std::string field;
  std::string label;
  int entries = 0;
  std::optional<double> mean;
  std::optional<double> min;
  std::optional<double> max;
  std::optional<double> change;  ///< Least-squares change over the window.
  std::string trend;             ///< improving | worsening | stable | increasing | decreasing | too_few_entries
};

/// The patient's own log over the days before the assessment.
struct DailyLogSummary {
  Date from;
  Date to;
  int entries = 0;
  int window_days = 0;
  std::optional<Date> last_entry;
  std::vector<DailyFieldSummary> fields;
  std::optional<int> doses_missed;
  std::vector<std::string> notes;
  std::vector<Finding> findings;
};

/// What the timeline needs to know about a scale the record uses (copied from the KB).
struct ScaleSummary {
  std::string id;
  std::string short_name;
  std::string measures;
  std::optional<int> total_min;
  std::optional<int> total_max;
  std::vector<std::pair<int, std::string>> band_starts;  ///< Lower bound and label of each band.
  std::optional<int> remission_max;
};

/// Measurement-based care: scored scales, trajectories, tachyphylaxis and the daily log.
struct MeasurementAssessment {
  std::string locale;
  std::vector<ScaleSummary> scales;  ///< The scales used, by id.
  std::optional<double> response_from_percent;
  std::vector<ScaleResult> administrations;
  std::vector<TrialMeasurement> trials;
  std::vector<ScaleTrajectory> episode;
  std::vector<EpisodeEvent> events;
  std::vector<TachyphylaxisResult> tachyphylaxis;
  std::optional<DailyLogSummary> daily_log;
  std::vector<Finding> findings;
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
  MeasurementAssessment measurement;
  /// The whole regimen checked for interactions, washouts and dose caps (null when the KB has no
  /// interaction tables, e.g. the fixture KB).
  std::shared_ptr<const InteractionReport> interactions;
  /// Genotypes, effective phenotypes after co-medication inhibitors, CPIC guidance and the ties to the
  /// trial history (null when the KB has no pharmacogenomic tables).
  std::shared_ptr<const PgxReport> pgx;
  /// What next: drivers of non-response, options with eligibility, monitoring plans and the patient
  /// summary (null when the KB has no next-steps tables, or when EvaluateOptions turned it off).
  std::shared_ptr<const NextSteps> next_steps;
  std::vector<Finding> findings;
  /// Every source named anywhere in the assessment, sorted by id, with its citation.
  std::vector<Source> cited_sources;
};

/// Options of one evaluation.
struct EvaluateOptions {
  Date as_of;
  std::string criteria_id;  ///< Empty selects the KB's default criteria.
  std::string locale;       ///< Country code for the crisis line ("US", "CA"); empty selects the KB's default.
  /// Check the regimen (interactions) and the genotypes (PGx). Population screening turns it off:
  /// it needs only adequacy, TRD status and staging.
  bool regimen_and_genotypes = true;
  /// Evaluate drivers, options, monitoring and the patient summary (needs regimen_and_genotypes).
  bool next_steps = true;
  /// Explain every conclusion: finding messages, rules and sources, the trials' rules and sources,
  /// the cited sources and the KB provenance. Population screening turns it off: verdicts, counts,
  /// staging and finding codes are the same (the same rules run), but findings carry their code only
  /// and cited_sources, kb_version, kb_digest and kb_origin stay empty.
  bool explain = true;
};

/// Assesses a parsed patient record against the KB on `options.as_of`.
///
/// Pure: the same record, options and KB give the same Assessment. Fails only when the
/// criteria id is unknown (InvalidInput, with a suggestion); missing clinical data gives
/// indeterminate verdicts with findings that name what is missing.
[[nodiscard]] Result<Assessment> Evaluate(const KnowledgeBase& kb, const PatientRecord& patient,
                                          const EvaluateOptions& options);

}  // namespace refract
