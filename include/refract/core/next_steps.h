// SPDX-License-Identifier: Apache-2.0
/// What next (issue 6): drivers of non-response, the treatment-option catalogue with per-patient
/// eligibility, dated monitoring plans and a plain-language patient summary, all from kb/next_steps.
#pragma once

// Public API, in the order an adapter calls it:
//
//   auto knowledge = LoadNextStepsKnowledge(kb);               // once per KB; Result<NextStepsKnowledge>
//   Assessment assessment = *Evaluate(kb, patient, options);   // the existing assessment
//   NextSteps next = EvaluateNextSteps(*knowledge, kb, patient, assessment);
//   nlohmann::json j = NextStepsToJson(next);                  // { alerts, drivers, options, monitoring, patient_summary, ... }
//   std::string text = RenderNextStepsText(next, Audience::Clinician);  // or Audience::Patient
//
// `CheckNextStepsKnowledge(kb)` lists every cross-reference problem for `refract kb check`.
// The module is pure (no I/O, no clock): "today" is `assessment.as_of`. Every clinical value it
// uses comes from kb/next_steps (kinds next_step_drivers, next_step_rules, treatment_option,
// monitoring_plan), kb/rules/mbc.crisis_lines.json, the interaction KB and the pharmacogenomic KB.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/assessment.h"
#include "refract/core/date.h"
#include "refract/core/interactions.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/pgx.h"
#include "refract/core/result.h"

namespace refract {

// ---------------------------------------------------------------------------------------------
// Knowledge (kb/next_steps)
// ---------------------------------------------------------------------------------------------

/// One typed rule clause as the KB states it: a driver check, an indication clause or a labelled
/// warning. Only the fields its `type` uses are set.
struct NextStepClause {
  std::string type;
  std::string id;
  std::string status;  ///< Driver checks: "present" or "possible".
  std::string scope;
  std::string scale;
  std::string lab;
  std::string sex;
  std::string flag;
  std::string driver;
  std::string kind;
  std::string min_severity;
  std::string text;
  std::string deviation;
  std::string confirm;  ///< Indication clauses: what the clinician must confirm when only this clause holds.
  std::vector<std::string> kinds;
  std::vector<std::string> statuses;
  std::vector<std::string> values;
  std::vector<std::string> terms;
  std::vector<std::string> codes;
  std::vector<std::string> phenotypes;
  struct Range {
    std::string unit;  ///< Lower case.
    std::optional<double> low;
    std::optional<double> high;
  };
  std::vector<Range> ranges;
  std::optional<int> count;
  std::optional<int> months;
  std::optional<int> min_age;
  std::optional<int> max_age;
  std::optional<double> systolic;
  std::optional<double> diastolic;
  bool unverified = false;
  std::vector<std::string> sources;
};

/// A driver of non-response (kb/next_steps/drivers.json).
struct DriverDefinition {
  std::string id;
  std::string name;
  std::string group;
  std::string looks_for;
  std::vector<NextStepClause> checks;
  std::string question;
  std::string test;
  std::vector<std::string> often_next;
  std::string patient_text;
  bool unverified = false;
  int year = 0;
  std::vector<std::string> sources;
};

/// A contraindication of an option: any match makes it not eligible.
struct OptionContraindication {
  std::string id;
  std::string text;
  std::vector<std::string> conditions;
  std::vector<std::string> diagnoses;
  std::vector<std::string> procedures;
  std::vector<std::string> adverse_reaction_drugs;
  std::vector<std::string> reactions;
  std::vector<std::string> sources;
};

/// One OR-group of an option's indication; every group must hold.
struct IndicationRequirement {
  std::vector<NextStepClause> any_of;
  std::string text;
};

/// A guideline's position on an option.
struct GuidelinePosition {
  std::string guideline;
  std::string position;
  bool unverified = false;
  std::vector<std::string> sources;
};

/// One entry of the treatment-option catalogue (kb/next_steps/options/*.json).
struct OptionDefinition {
  std::string id;
  std::string name;
  std::string patient_name;
  std::string patient_text;
  std::string category;
  int order = 0;
  int usual_after_failed_trials = 0;
  std::vector<IndicationRequirement> indication;
  std::string indication_text;
  std::vector<std::string> indication_sources;
  int min_age_years = 0;
  std::string pregnancy;      ///< contraindicated | avoid | caution | no_restriction
  std::string breastfeeding;  ///< As pregnancy.
  std::string bipolar;        ///< not_indicated | caution | no_restriction
  std::vector<std::string> constraint_sources;
  std::vector<OptionContraindication> contraindications;
  std::vector<NextStepClause> warnings;
  std::vector<GuidelinePosition> guideline;
  std::string action;  ///< add | switch | adjust | none
  std::vector<std::string> drugs;
  bool within_class = false;
  std::string procedure_kind;
  std::string psychotherapy_kind;
  bool rapid_acting = false;
  bool off_label = false;
  bool requires_specialist = false;
  std::vector<std::string> defer_when_drivers;
  std::vector<std::string> monitoring;
  bool star_d_applies = false;
  std::optional<Finding> star_d_arm;
  std::string notes;
  int year = 0;
  std::vector<std::string> sources;
};

/// One item of a monitoring plan, as day offsets from the start date.
struct MonitoringItemDefinition {
  std::string id;
  std::string what;
  std::string label;
  std::vector<int> days;
  std::optional<int> repeat_every_days;
  std::optional<int> repeat_from_day;
  std::optional<int> repeat_until_day;
  std::string lab;
  std::string vital;
  std::string note;
  bool unverified = false;
  std::vector<std::string> sources;
};

/// A step of a treatment session, in minutes from dosing.
struct SessionStep {
  int minute = 0;
  std::string what;
  bool unverified = false;
  std::vector<std::string> sources;
};

/// A monitoring plan (kb/next_steps/monitoring/*.json).
struct MonitoringPlanDefinition {
  std::string id;
  std::string name;
  std::vector<std::string> drugs;
  std::vector<std::string> procedures;
  std::vector<MonitoringItemDefinition> items;
  std::vector<SessionStep> session;
  std::string notes;
  std::vector<std::string> sources;
};

/// A text with its sources (ranking, tolerance and off-label notes).
struct SourcedText {
  std::string text;
  std::vector<std::string> sources;
};

/// Everything the module reads, parsed and cross-checked once. Holds the interaction knowledge and,
/// when the KB has pharmacogenomic files, the PGx knowledge. Points into the KB it was loaded from.
struct NextStepsKnowledge {
  std::string drivers_rule;
  std::vector<std::string> drivers_sources;
  std::vector<DriverDefinition> drivers;          ///< In KB order.
  std::vector<OptionDefinition> options;          ///< Sorted by `order`, then id.
  std::vector<MonitoringPlanDefinition> plans;    ///< Sorted by id.
  std::string rules_id;
  std::vector<std::string> status_order;
  SourcedText ranking;
  SourcedText tolerance;
  SourcedText already_tried;
  SourcedText off_label;
  struct StarD {
    std::string scale;
    std::vector<std::pair<int, double>> levels;
    std::string text;
    std::string caveat;
    std::vector<std::string> sources;
  } star_d;
  int match_window_days = 0;
  int display_past_days = 0;
  int display_ahead_days = 0;
  int max_patient_options = 0;
  nlohmann::json patient_text;  ///< rules.patient, as validated by its schema.
  std::string crisis_rule;
  std::string crisis_default_locale;
  struct CrisisLine {
    std::string locale;
    std::string text;
    std::string emergency;
    std::vector<std::string> sources;
  };
  std::vector<CrisisLine> crisis_lines;
  InteractionKnowledge interactions;
  std::optional<PgxKnowledge> pgx;

  [[nodiscard]] const DriverDefinition* FindDriver(std::string_view id) const;
  [[nodiscard]] const OptionDefinition* FindOption(std::string_view id) const;
  [[nodiscard]] const MonitoringPlanDefinition* FindPlan(std::string_view id) const;
};

/// Every problem of the next-steps files that the schema cannot see, each located in the KB: a
/// missing or duplicated drivers or rules file, an option naming an unknown driver, plan or scale,
/// a drug id that is not in the catalogue, an empty candidate list, a missing crisis-line rule.
[[nodiscard]] std::vector<Error> CheckNextStepsKnowledge(const KnowledgeBase& kb);

/// Parses kb/next_steps once, with the interaction and PGx knowledge the options need.
///
/// Fails with KbReference naming the first problem CheckNextStepsKnowledge finds (and how many
/// there are), or the error of LoadInteractionKnowledge / LoadPgxKnowledge. A KB without PGx files
/// loads without PGx guidance. The result points into `kb`, which must outlive it.
[[nodiscard]] Result<NextStepsKnowledge> LoadNextStepsKnowledge(const KnowledgeBase& kb);

// ---------------------------------------------------------------------------------------------
// Result
// ---------------------------------------------------------------------------------------------

enum class DriverStatus { Present, Possible, NotFound, Unknown };
[[nodiscard]] std::string_view DriverStatusName(DriverStatus value);

enum class OptionStatus { Eligible, Conditional, Deferred, NotEligible };
[[nodiscard]] std::string_view OptionStatusName(OptionStatus value);

/// Who a text rendering is for.
enum class Audience { Clinician, Patient };

/// One piece of evidence from the record, with its date when the record has one.
struct DatedFinding {
  Finding finding;
  std::optional<Date> date;
};

/// A driver as found in this record.
struct DriverResult {
  std::string id;
  std::string name;
  std::string group;
  DriverStatus status = DriverStatus::Unknown;
  std::string looks_for;
  std::vector<DatedFinding> evidence;  ///< What was found (present/possible) or checked (not_found).
  std::string question;                ///< The question or test that settles it (always set; shown when unknown).
  std::string test;
  std::vector<std::string> often_next;
  std::string patient_text;
  bool unverified = false;
  std::string rule;
  std::vector<std::string> sources;
};

/// One drug an option would add or switch to, as checked for this patient.
struct CandidateResult {
  std::string drug_id;
  std::string drug_name;
  OptionStatus status = OptionStatus::Eligible;
  std::vector<Finding> reasons;  ///< Already taken or tried, interactions, PGx.
};

/// One option of the catalogue for this patient.
struct OptionResult {
  std::string id;
  std::string name;
  std::string patient_name;
  std::string patient_text;
  std::string category;
  OptionStatus status = OptionStatus::Eligible;
  int rank = 0;                   ///< 1 = listed first.
  std::string ranking;            ///< Why it is listed where it is, in words.
  std::vector<Finding> reasons;   ///< Every reason for the status, each with rule and sources.
  std::vector<CandidateResult> candidates;
  std::vector<Finding> guideline;
  std::vector<Finding> expected_remission;
  std::vector<std::string> monitoring;
  bool requires_specialist = false;
  std::string rule;
  std::vector<std::string> sources;
};

/// One dated checklist entry of a plan.
struct MonitoringEntry {
  Date date;
  int day = 0;
  std::string item;
  std::string what;
  std::string label;
  std::string timing;  ///< past | due | upcoming
  std::optional<Date> recorded_on;
  std::string note;
  bool unverified = false;
  std::vector<std::string> sources;
};

/// A monitoring plan anchored on a start date.
struct MonitoringResult {
  std::string plan;
  std::string name;
  std::string basis;      ///< "current" (a treatment in the record) or "if_started" (a proposed option).
  std::string treatment;  ///< The drug or procedure it follows.
  Date start;
  std::vector<std::string> for_options;
  std::vector<SessionStep> session;
  std::vector<MonitoringEntry> checklist;  ///< By date, then item.
  std::string notes;
  std::vector<std::string> sources;
};

/// The plain-language summary for the patient. Mirrors the clinician view: the options listed are
/// the eligible and conditional ones in rank order; it never advises changing medication alone.
struct PatientSummary {
  std::string reading_level;
  bool suicide_alert = false;
  std::string suicide_message;
  std::string intro;
  std::string status;
  std::string why_heading;
  std::string why_general;
  std::vector<std::string> why;
  std::string options_heading;
  std::vector<std::string> options;
  std::string questions_heading;
  std::vector<std::string> questions;
  std::string safety;
  std::string crisis_heading;
  std::string crisis_intro;
  std::string crisis_line;
  std::string emergency;
  std::vector<std::string> sources;
};

/// The whole "what next" for one patient on one date.
struct NextSteps {
  std::string patient_id;
  Date as_of;
  SourcedText ranking_rule;  ///< How options are ordered (said once; each option's `ranking` applies it).
  std::vector<Alert> alerts;  ///< Suicide-risk and other critical alerts of the assessment, first.
  std::vector<DriverResult> drivers;
  std::vector<OptionResult> options;  ///< In rank order.
  std::vector<MonitoringResult> monitoring;
  PatientSummary patient;
  std::vector<Finding> findings;
  std::vector<std::string> sources;  ///< Every source id named anywhere, sorted.
};

/// Evaluates drivers, options, monitoring and the patient summary for one assessed record.
///
/// Pure and deterministic. Missing data never fails: a driver without data is Unknown with the
/// question that settles it; an indication that depends on undecided trials makes an option
/// Deferred. A drug option whose addition (or switch) would create a contraindicated combination,
/// or start inside a washout, is NotEligible with the interaction finding as the reason.
[[nodiscard]] NextSteps EvaluateNextSteps(const NextStepsKnowledge& knowledge, const KnowledgeBase& kb, const PatientRecord& patient,
                                          const Assessment& assessment);

/// The JSON form: { as_of, alerts[], drivers[], options[], monitoring[], patient_summary, findings[], sources[] }.
/// Alerts come first; arrays keep rank and date order; keys are stable.
[[nodiscard]] nlohmann::json NextStepsToJson(const NextSteps& next);

/// Plain text: alerts first; the clinician view shows drivers, ranked options with reasons and
/// rules, and the checklists; the patient view is the plain-language summary with the crisis line.
[[nodiscard]] std::string RenderNextStepsText(const NextSteps& next, Audience audience);

}  // namespace refract
