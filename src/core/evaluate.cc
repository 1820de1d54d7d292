// SPDX-License-Identifier: Apache-2.0
// Trial adequacy, outcomes, TRD status: the rules of docs/assessment.md sections 1-5.
#include "refract/core/assessment.h"

#include "refract/core/interactions.h"
#include "refract/core/mbc.h"
#include "refract/core/next_steps.h"
#include "refract/core/pgx.h"
#include "refract/core/staging.h"
#include "refract/core/text.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

namespace refract {

std::string_view AlertSeverityName(AlertSeverity value) {
  switch (value) {
    case AlertSeverity::Critical: return "critical";
    case AlertSeverity::Warning: return "warning";
    case AlertSeverity::Info: return "info";
  }
  return "info";
}

std::string_view AdequacyName(Adequacy value) {
  switch (value) {
    case Adequacy::Adequate: return "adequate";
    case Adequacy::Inadequate: return "inadequate";
    case Adequacy::Indeterminate: return "indeterminate";
  }
  return "indeterminate";
}

std::string_view TrdStatusName(TrdStatus value) {
  switch (value) {
    case TrdStatus::Meets: return "meets";
    case TrdStatus::DoesNotMeet: return "does_not_meet";
    case TrdStatus::Indeterminate: return "indeterminate";
    case TrdStatus::NotApplicable: return "not_applicable";
  }
  return "indeterminate";
}

std::string FormatWeeks(long days) { return FormatNumber(static_cast<double>(days * 10 / 7) / 10.0); }

namespace {

std::string Mg(double value) { return FormatNumber(value) + " mg/day"; }

std::vector<std::string> Concat(std::vector<std::string> left, const std::vector<std::string>& right) {
  for (const std::string& entry : right) {
    if (std::find(left.begin(), left.end(), entry) == left.end()) left.push_back(entry);
  }
  return left;
}

EpisodePlacement PlaceInEpisode(const std::optional<EpisodePlacement>& override_placement, const std::optional<Date>& episode_start,
                                const std::optional<Date>& last_day) {
  if (override_placement) return *override_placement;
  if (!episode_start) return EpisodePlacement::Current;
  // A course with an unknown end that started before the episode may still have run into it.
  if (!last_day) return EpisodePlacement::Current;
  return *last_day < *episode_start ? EpisodePlacement::Previous : EpisodePlacement::Current;
}

// The outcome of a course or procedure from an explicit judgement, a percent or a stop reason.
void DecideOutcome(const OutcomeBands& bands, const std::optional<Outcome>& explicit_outcome,
                   const std::optional<Improvement>& improvement, const std::string& stop_reason, Outcome& outcome,
                   std::string& basis) {
  if (explicit_outcome && *explicit_outcome != Outcome::Unknown) {
    outcome = *explicit_outcome;
    basis = "clinician_judgement";
    return;
  }
  if (improvement) {
    const double percent = improvement->percent;
    outcome = percent < bands.partial_from_percent    ? Outcome::Nonresponse
              : percent < bands.response_from_percent ? Outcome::Partial
                                                      : Outcome::Response;
    basis = "improvement";
    return;
  }
  if (stop_reason == "side_effects") {
    outcome = Outcome::Intolerance;
    basis = "stop_reason";
    return;
  }
  if (stop_reason == "remission") {
    outcome = Outcome::Remission;
    basis = "stop_reason";
    return;
  }
  outcome = Outcome::Unknown;
  basis = "none";
}

// Whether an outcome is an efficacy failure under the criteria; nullopt when unknown.
std::optional<bool> IsFailure(const Criteria& criteria, Outcome outcome, const std::optional<double>& percent) {
  if (outcome == Outcome::Remission || outcome == Outcome::Intolerance || outcome == Outcome::Response) return false;
  if (percent) {
    return criteria.failure_at_or_below ? *percent <= criteria.failure_percent : *percent < criteria.failure_percent;
  }
  if (outcome == Outcome::Unknown) return std::nullopt;
  return std::find(criteria.failure_outcomes.begin(), criteria.failure_outcomes.end(), outcome) != criteria.failure_outcomes.end();
}

std::string FailureTestText(const Criteria& criteria) {
  return fmt::format("improvement {} {}%", criteria.failure_at_or_below ? "at or below" : "below",
                     FormatNumber(criteria.failure_percent));
}

class Evaluator {
 public:
  Evaluator(const KnowledgeBase& kb, const PatientRecord& patient, const Criteria& criteria, Date as_of, std::string locale,
            bool regimen_and_genotypes, bool next_steps, bool explain)
      : kb_(kb),
        patient_(patient),
        criteria_(criteria),
        as_of_(as_of),
        locale_(std::move(locale)),
        regimen_and_genotypes_(regimen_and_genotypes),
        next_steps_(next_steps && regimen_and_genotypes),
        explain_(explain),
        mbc_(PrepareMeasurement(kb, patient, as_of)) {}

  Result<Assessment> Run() {
    Assessment out;
    out.patient_id = patient_.id;
    out.as_of = as_of_;
    out.criteria = &criteria_;
    if (explain_) {
      out.kb_version = kb_.version();
      out.kb_digest = kb_.digest();
      out.kb_origin = kb_.origin();
    }
    std::vector<const Course*> ordered;
    for (const Course& course : patient_.courses) ordered.push_back(&course);
    std::stable_sort(ordered.begin(), ordered.end(), [](const Course* left, const Course* right) { return left->start < right->start; });
    for (const Course* course : ordered) {
      out.trials.push_back(AssessTrial(*course, static_cast<int>(out.trials.size()) + 1));
    }
    std::vector<const Procedure*> procedures;
    for (const Procedure& procedure : patient_.procedures) procedures.push_back(&procedure);
    std::stable_sort(procedures.begin(), procedures.end(),
                     [](const Procedure* left, const Procedure* right) { return left->start < right->start; });
    for (const Procedure* procedure : procedures) {
      out.procedures.push_back(AssessProcedure(*procedure, static_cast<int>(out.procedures.size()) + 1));
    }
    if (!patient_.episode_start) {
      out.findings.push_back(Explained(
          "episode_start_missing",
          [] {
            return "the start of the current episode is not recorded: every course not marked \"previous\" is counted in the current "
                   "episode";
          },
          criteria_.id, criteria_.sources));
    }
    out.trd = AssessTrd(out.trials);
    out.thase_rush = StageThaseRush(kb_.thase_rush(), out.trials, out.procedures, explain_);
    out.european = StageEuropean(kb_.european(), out.trd, out.trials, as_of_, explain_);
    out.maudsley = StageMaudsley(kb_.maudsley(), patient_, out.trd, out.trials, out.procedures, as_of_, explain_);
    out.mgh = StageMgh(kb_.mgh(), out.trials, out.procedures, as_of_, explain_);
    CompleteMeasurement(mbc_, patient_, criteria_, as_of_, out);
    out.measurement.locale = !locale_.empty() ? locale_ : mbc_.default_locale;
    out.measurement.trials = std::move(trial_measurements_);
    if (regimen_and_genotypes_) {
      if (auto checked = CheckSafetyAndGenotypes(out); !checked) return tl::unexpected<Error>(checked.error());
    }
    out.alerts = CollectAlerts(out);
    if (out.interactions) {
      for (Alert& alert : InteractionAlerts(*out.interactions)) out.alerts.push_back(std::move(alert));
    }
    // Suicide-risk alerts lead every output: they go first, whatever any other rule raised.
    std::vector<Alert> measurement_alerts = MeasurementAlerts(mbc_, out, locale_, patient_.episode_start);
    std::vector<Alert> suicide;
    for (Alert& alert : measurement_alerts) {
      if (alert.finding.code == "suicide_risk") {
        suicide.push_back(std::move(alert));
      } else {
        out.alerts.push_back(std::move(alert));
      }
    }
    std::stable_sort(out.alerts.begin(), out.alerts.end(), [](const Alert& left, const Alert& right) { return left.severity < right.severity; });
    out.alerts.insert(out.alerts.begin(), suicide.begin(), suicide.end());
    // What next reads the finished assessment (alerts included), so it comes last.
    if (next_steps_ && !kb_.FilesOfKind("next_step_rules").empty()) {
      const auto& knowledge = kb_.Derived<Result<NextStepsKnowledge>>(&LoadNextStepsKnowledge);
      if (!knowledge) return tl::unexpected<Error>(knowledge.error());
      out.next_steps = std::make_shared<const NextSteps>(EvaluateNextSteps(*knowledge, kb_, patient_, out));
    }
    if (explain_) out.cited_sources = CitedSources(out);
    return out;
  }

 private:
  /// A finding. Its message, rule and sources are built only when the assessment explains itself
  /// (EvaluateOptions::explain); otherwise it carries its code alone, which is all the verdicts use.
  template <class MakeMessage>
  Finding Explained(std::string code, MakeMessage&& make_message, const std::string& rule,
                    const std::vector<std::string>& sources = {}) const {
    if (!explain_) return Finding{std::move(code), {}, {}, {}};
    return Finding{std::move(code), make_message(), rule, sources};
  }

  /// The regimen check (interactions, washouts, dose caps) over every drug in the record, and the
  /// pharmacogenomic assessment with the regimen's current CYP inhibitors as phenoconverters. Each is
  /// skipped (left null) when the KB has no tables for it; a KB whose tables do not load is an error.
  Result<void> CheckSafetyAndGenotypes(Assessment& out) {
    std::vector<PhenoconversionInput> inhibitors;
    if (!kb_.FilesOfKind("ddi_pk_matrix").empty()) {
      const auto& knowledge = kb_.Derived<Result<InteractionKnowledge>>(&LoadInteractionKnowledge);
      if (!knowledge) return tl::unexpected<Error>(knowledge.error());
      const Regimen regimen = RegimenFromPatient(kb_, patient_, as_of_);
      out.interactions = std::make_shared<const InteractionReport>(CheckRegimen(*knowledge, regimen, as_of_));
      for (const EnzymeInhibition& inhibition : InhibitionsInRegimen(*knowledge, regimen, as_of_)) {
        const InhibitorStrength strength = inhibition.strength == PerpetratorStrength::Strong     ? InhibitorStrength::Strong
                                           : inhibition.strength == PerpetratorStrength::Moderate ? InhibitorStrength::Moderate
                                                                                                  : InhibitorStrength::Weak;
        inhibitors.push_back(PhenoconversionInput{inhibition.drug_id, inhibition.enzyme, strength, inhibition.sources});
      }
    }
    if (!kb_.FilesOfKind("pgx_gene").empty()) {
      const auto& knowledge = kb_.Derived<Result<PgxKnowledge>>(&LoadPgxKnowledge);
      if (!knowledge) return tl::unexpected<Error>(knowledge.error());
      auto report = AssessPgx(*knowledge, kb_, patient_.genotypes, inhibitors, out.trials);
      if (!report) return tl::unexpected<Error>(report.error());
      out.pgx = std::make_shared<const PgxReport>(std::move(*report));
    }
    return {};
  }

  TrialAssessment AssessTrial(const Course& course, int index) {
    TrialAssessment trial;
    const Drug& drug = *course.drug;
    trial.index = index;
    trial.input_index = course.input_index;
    trial.course_id = course.id;
    trial.input_name = course.input_name;
    trial.drug = &drug;
    trial.drug_class = kb_.FindClass(drug.class_id);
    trial.role = course.role.value_or(drug.counts_as == CountsAs::Augmentation ? CourseRole::Augmentation : CourseRole::Monotherapy);
    trial.augments = course.augments;
    trial.start = course.start;
    trial.end = course.end;
    trial.ongoing = course.ongoing;
    trial.adherence = course.adherence;
    trial.adherence_percent = course.adherence_percent;
    trial.dose_optimized = course.dose_optimized;
    trial.doses = course.doses;
    trial.duration_optimized = course.duration_optimized;
    if (explain_) {
      trial.rules = {criteria_.id, kb_.outcome_bands().id, drug.id};
      trial.sources = Concat(criteria_.sources, kb_.outcome_bands().sources);
    }

    // Counting window: the last day is the end, or as_of for an ongoing course; a recorded end
    // after as_of is cut at as_of (the assessment cannot know later days).
    std::optional<Date> last_day = course.end;
    if (course.ongoing) last_day = as_of_;
    if (last_day && as_of_ < *last_day) {
      trial.findings.push_back(Explained(
          "end_after_as_of",
          [&] {
            return fmt::format("the recorded end {} is after the assessment date; days after {} are not counted", FormatDate(*last_day),
                               FormatDate(as_of_));
          },
          criteria_.id));
      last_day = as_of_;
    }
    trial.episode = PlaceInEpisode(course.episode, patient_.episode_start, last_day);
    trial.window_start = course.start;
    if (trial.episode == EpisodePlacement::Current && patient_.episode_start && course.start < *patient_.episode_start &&
        !course.episode) {
      trial.window_start = *patient_.episode_start;
      trial.findings.push_back(Explained(
          "started_before_episode",
          [&] {
            return fmt::format("started {}, before the current episode began on {}: only the days since {} count toward adequacy in this episode",
                               FormatDate(course.start), FormatDate(*patient_.episode_start), FormatDate(*patient_.episode_start));
          },
          criteria_.id, criteria_.sources));
    }
    if (last_day && *last_day < trial.window_start) last_day = std::nullopt;
    trial.window_end = last_day;
    if (last_day) trial.days_in_window = InclusiveDays(trial.window_start, *last_day);

    const DrugAdequacy& adequacy = *drug.adequacy;
    const double min_dose = adequacy.min_dose_mg_per_day;
    trial.min_adequate_dose_mg_per_day = min_dose;
    trial.required_days = adequacy.min_duration_days.value_or(criteria_.min_duration_days);
    if (explain_) trial.sources = Concat(trial.sources, adequacy.sources);
    const auto required_text = [&] { return fmt::format("{} days ({} weeks)", trial.required_days, FormatWeeks(trial.required_days)); };
    const std::string& drug_rule = adequacy.min_duration_days ? drug.id : criteria_.id;

    std::vector<Finding> inadequate;
    std::vector<Finding> indeterminate;

    // A recorded serum level decides instead of the dose where the drug's KB entry says so.
    const SerumLevelRule* level_rule = adequacy.serum_level ? &*adequacy.serum_level : nullptr;
    std::vector<const LabResult*> levels;
    if (level_rule != nullptr) {
      const Date level_window_end = last_day.value_or(as_of_);
      for (const LabResult& lab : patient_.labs) {
        if (lab.name != level_rule->lab || lab.date < trial.window_start || level_window_end < lab.date) continue;
        const bool known_unit = std::find(level_rule->units.begin(), level_rule->units.end(), lab.unit) != level_rule->units.end();
        if (!known_unit) {
          trial.findings.push_back(Explained(
              "level_unit_unknown",
              [&] {
                return fmt::format("{} {} {} on {} is not used: expected a unit of {}", lab.name, FormatNumber(lab.value),
                                   lab.unit.empty() ? "(no unit)" : lab.unit, FormatDate(lab.date), fmt::join(level_rule->units, " or "));
              },
              drug.id, level_rule->sources));
          continue;
        }
        levels.push_back(&lab);
      }
    }
    if (!levels.empty()) {
      const auto first_adequate = std::find_if(levels.begin(), levels.end(), [&](const LabResult* lab) { return lab->value >= level_rule->min; });
      double highest = 0;
      for (const LabResult* lab : levels) highest = std::max(highest, lab->value);
      if (!course.doses.empty()) {
        double highest_dose = 0;
        for (const DoseStep& step : course.doses) highest_dose = std::max(highest_dose, step.mg_per_day);
        trial.max_dose_mg_per_day = highest_dose;
      }
      if (first_adequate == levels.end()) {
        inadequate.push_back(Explained(
            "subtherapeutic_level",
            [&] {
              return fmt::format("the highest {} in the course, {} {}, is below the {} {} that makes an adequate trial; the level decides, not the dose",
                                 level_rule->lab, FormatNumber(highest), levels.front()->unit, FormatNumber(level_rule->min),
                                 level_rule->units.front());
            },
            drug.id, level_rule->sources));
        trial.days_at_adequate_dose = 0;
      } else {
        // The level proves adequate exposure from the day it was drawn; earlier days are not assumed.
        const Date from = (*first_adequate)->date;
        const long days = last_day ? InclusiveDays(from, *last_day) : 1;
        trial.days_at_adequate_dose = days;
        trial.days_at_adequate_dose_is_lower_bound = !last_day.has_value();
        trial.findings.push_back(Explained(
            "serum_level_used",
            [&] {
              return fmt::format("{} {} {} on {} (at least {} required): the level, not the dose, decides; days are counted from that date",
                                 level_rule->lab, FormatNumber((*first_adequate)->value), (*first_adequate)->unit, FormatDate(from),
                                 FormatNumber(level_rule->min));
            },
            drug.id, level_rule->sources));
        if (last_day && days < trial.required_days) {
          inadequate.push_back(Explained(
              "too_short_at_level",
              [&] {
                return fmt::format("{} days ({} weeks) from the first adequate level to the end; at least {} are required", days, FormatWeeks(days),
                                   required_text());
              },
              drug_rule, criteria_.sources));
        } else if (!last_day && days < trial.required_days) {
          indeterminate.push_back(
              Explained("end_missing", [] { return "no end date and not marked ongoing: the duration is unknown"; }, criteria_.id, criteria_.sources));
        }
      }
    } else if (!course.doses.empty()) {
      // Dose: days in the window on which the step in force reached the minimum adequate dose.
      double highest = 0;
      long adequate_days = 0;
      long below_days = 0;
      // Without an end, the last step is known to have lasted at least its first day.
      const Date window_last = last_day.value_or(std::max(course.doses.back().from, trial.window_start));
      for (std::size_t step_idx = 0; step_idx < course.doses.size(); ++step_idx) {
        const DoseStep& step = course.doses[step_idx];
        highest = std::max(highest, step.mg_per_day);
        const Date step_last = step_idx + 1 < course.doses.size() ? AddDays(course.doses[step_idx + 1].from, -1) : window_last;
        const Date from = std::max(step.from, trial.window_start);
        const Date to = std::min(step_last, window_last);
        if (to < from) continue;
        if (step.mg_per_day >= min_dose) {
          adequate_days += InclusiveDays(from, to);
        } else {
          below_days += InclusiveDays(from, to);
        }
      }
      trial.max_dose_mg_per_day = highest;
      trial.days_at_adequate_dose = adequate_days;
      trial.days_at_adequate_dose_is_lower_bound = !last_day.has_value();
      if (highest < min_dose) {
        inadequate.push_back(Explained(
            "subtherapeutic_dose",
            [&] {
              return fmt::format("the highest dose, {}, is below the minimum adequate dose of {} ({} {})", Mg(highest), drug.inn, Mg(min_dose),
                                 adequacy.basis == "atrq" ? "on the MGH-ATRQ" : "per " + adequacy.basis);
            },
            drug.id, adequacy.sources));
      } else if (last_day && adequate_days < trial.required_days) {
        inadequate.push_back(Explained(
            "too_short_at_dose",
            [&] {
              std::string message = fmt::format("{} days ({} weeks) at or above {}; at least {} are required", adequate_days,
                                                FormatWeeks(adequate_days), Mg(min_dose), required_text());
              if (below_days > 0) message += fmt::format("; {} days below {} (titration or reduction) do not count", below_days, Mg(min_dose));
              return message;
            },
            drug_rule, criteria_.sources));
      } else if (!last_day && adequate_days < trial.required_days) {
        indeterminate.push_back(Explained(
            "end_missing",
            [&] {
              return fmt::format("no end date and not marked ongoing: at least {} days at or above {} are documented, {} are required", adequate_days,
                                 Mg(min_dose), required_text());
            },
            criteria_.id, criteria_.sources));
      }
    } else {
      if (trial.days_in_window && *trial.days_in_window < trial.required_days) {
        inadequate.push_back(Explained(
            "too_short",
            [&] {
              return fmt::format("taken for {} days ({} weeks) in this episode at any dose; at least {} at or above {} are required",
                                 *trial.days_in_window, FormatWeeks(*trial.days_in_window), required_text(), Mg(min_dose));
            },
            drug_rule, criteria_.sources));
      }
      indeterminate.push_back(Explained(
          "dose_missing",
          [&] { return fmt::format("no dose recorded: cannot tell whether {} reached the minimum adequate dose of {}", drug.inn, Mg(min_dose)); },
          drug.id, adequacy.sources));
      if (!last_day) {
        indeterminate.push_back(
            Explained("end_missing", [] { return "no end date and not marked ongoing: the duration is unknown"; }, criteria_.id, criteria_.sources));
      }
    }

    // Adherence.
    const bool accepted_label =
        std::find(criteria_.adherence_accepted.begin(), criteria_.adherence_accepted.end(), AdherenceName(course.adherence)) !=
        criteria_.adherence_accepted.end();
    if (course.adherence_percent && *course.adherence_percent < criteria_.adherence_min_percent) {
      inadequate.push_back(Explained(
          "adherence_below_threshold",
          [&] {
            return fmt::format("{}% of doses taken; at least {}% are required", FormatNumber(*course.adherence_percent),
                               FormatNumber(criteria_.adherence_min_percent));
          },
          criteria_.id, criteria_.sources));
    } else if (course.adherence != Adherence::Unknown && !accepted_label) {
      inadequate.push_back(Explained(
          fmt::format("{}_adherence", AdherenceName(course.adherence)),
          [&] {
            return fmt::format("adherence recorded as {}: the criteria require the drug to have been taken as prescribed", AdherenceName(course.adherence));
          },
          criteria_.id, criteria_.sources));
    } else if (course.adherence == Adherence::Unknown && !course.adherence_percent && criteria_.adherence_unknown_is_indeterminate) {
      indeterminate.push_back(Explained(
          "adherence_missing", [] { return "adherence not recorded: ask whether the drug was taken as prescribed"; }, criteria_.id, criteria_.sources));
    }

    // An ongoing course that has not yet reached the dose or the duration is still in progress:
    // its verdict will change with time, so it is indeterminate rather than inadequate.
    if (course.ongoing) {
      std::vector<Finding> still_open;
      for (auto it = inadequate.begin(); it != inadequate.end();) {
        if (it->code != "too_short" && it->code != "too_short_at_dose" && it->code != "too_short_at_level" &&
            it->code != "subtherapeutic_dose" && it->code != "subtherapeutic_level") {
          ++it;
          continue;
        }
        still_open.push_back(*it);
        it = inadequate.erase(it);
      }
      if (!still_open.empty()) {
        indeterminate.insert(indeterminate.begin(), Explained(
                                                        "in_progress",
                                                        [&] {
                                                          std::string message =
                                                              "in progress: the course is ongoing and has not yet met the dose and duration rules";
                                                          const long done = trial.days_at_adequate_dose.value_or(0);
                                                          const bool at_dose_now =
                                                              !course.doses.empty() && course.doses.back().mg_per_day >= min_dose;
                                                          if (at_dose_now && done < trial.required_days) {
                                                            message += fmt::format("; at the current dose it can be judged from {}",
                                                                                   FormatDate(AddDays(as_of_, trial.required_days - done)));
                                                          }
                                                          return message;
                                                        },
                                                        drug_rule, criteria_.sources));
        for (Finding& finding : still_open) {
          if (explain_) finding.message = "so far: " + finding.message;
          indeterminate.push_back(std::move(finding));
        }
      }
    }
    if (!inadequate.empty()) {
      trial.adequacy = Adequacy::Inadequate;
    } else if (!indeterminate.empty()) {
      trial.adequacy = Adequacy::Indeterminate;
    } else {
      trial.adequacy = Adequacy::Adequate;
      trial.adequacy_reasons.push_back(Explained(
          "adequate",
          [&] {
            const std::string exposure = levels.empty() ? "at or above " + Mg(min_dose)
                                                        : fmt::format("from the first {} of at least {}", level_rule->lab, FormatNumber(level_rule->min));
            return fmt::format("{} days ({} weeks) {} with good adherence; {} required", *trial.days_at_adequate_dose,
                               FormatWeeks(*trial.days_at_adequate_dose), exposure, required_text());
          },
          criteria_.id, explain_ ? Concat(criteria_.sources, adequacy.sources) : std::vector<std::string>{}));
    }
    trial.adequacy_reasons.insert(trial.adequacy_reasons.end(), inadequate.begin(), inadequate.end());
    trial.adequacy_reasons.insert(trial.adequacy_reasons.end(), indeterminate.begin(), indeterminate.end());

    // Outcome and failure. Scale totals decide before a rated improvement; a clinician's explicit
    // outcome still wins, and a disagreeing trajectory is reported beside it.
    DecideOutcome(kb_.outcome_bands(), course.outcome, course.improvement, course.stop_reason, trial.outcome, trial.outcome_basis);
    if (course.improvement) {
      trial.improvement_percent = course.improvement->percent;
      trial.rated_by = course.improvement->rated_by;
    }
    TrialMeasurement measured = MeasureTrial(mbc_, index, trial.window_start, last_day, as_of_);
    const ScaleTrajectory* decided = nullptr;
    for (const ScaleTrajectory& trajectory : measured.trajectories) {
      if (trajectory.scale_id == measured.decided_by) decided = &trajectory;
    }
    if (decided != nullptr && trial.outcome_basis == "clinician_judgement") {
      if (*decided->outcome != trial.outcome) {
        trial.findings.push_back(Explained(
            "scale_disagrees",
            [&] {
              return fmt::format("the recorded outcome is {}, but {} totals show {} ({}% improvement): the recorded judgement is used",
                                 OutcomeName(trial.outcome), decided->short_name, OutcomeName(*decided->outcome),
                                 FormatNumber(std::round(*decided->percent_change * 10) / 10));
            },
            kb_.outcome_bands().id, kb_.outcome_bands().sources));
      }
    } else if (decided != nullptr) {
      const std::optional<double> rated = trial.improvement_percent;
      trial.outcome = *decided->outcome;
      trial.outcome_basis = "scale_trajectory";
      trial.outcome_scale = decided->scale_id;
      trial.improvement_percent = std::round(*decided->percent_change * 10) / 10;
      const auto scale = mbc_.scales.find(decided->scale_id);
      trial.rated_by = scale != mbc_.scales.end() && scale->second.rater == "clinician" ? "clinician" : "patient";
      trial.findings.push_back(Explained(
          "outcome_from_scale",
          [&] {
            std::string message = fmt::format("outcome from {} totals: {} on {} to {} on {}, {}% improvement: {}", decided->short_name,
                                              FormatNumber(decided->baseline->total), FormatDate(decided->baseline->date),
                                              FormatNumber(decided->latest->total), FormatDate(decided->latest->date),
                                              FormatNumber(*trial.improvement_percent), OutcomeName(trial.outcome));
            if (rated) message += fmt::format("; the rated improvement of {}% is not used", FormatNumber(*rated));
            return message;
          },
          mbc_.rules.outcomes->id,
          explain_ ? Concat(mbc_.rules.outcomes->sources, decided->remission ? scale->second.remission_sources : std::vector<std::string>{})
                   : std::vector<std::string>{}));
      if (explain_) {
        trial.rules.push_back(mbc_.rules.outcomes->id);
        trial.sources = Concat(trial.sources, mbc_.rules.outcomes->sources);
      }
    }
    if (!measured.trajectories.empty()) trial_measurements_.push_back(std::move(measured));
    const bool percent_decides = trial.outcome_basis == "improvement" ||
                                 (trial.improvement_percent && trial.outcome != Outcome::Remission && trial.outcome != Outcome::Intolerance);
    const std::optional<double> percent = percent_decides ? trial.improvement_percent : std::nullopt;
    switch (trial.adequacy) {
      case Adequacy::Adequate:
        trial.failed = IsFailure(criteria_, trial.outcome, percent);
        break;
      case Adequacy::Inadequate:
        trial.failed = false;
        break;
      case Adequacy::Indeterminate: {
        const auto failure = IsFailure(criteria_, trial.outcome, percent);
        trial.failed = failure.has_value() && !*failure ? std::optional<bool>(false) : std::nullopt;
        break;
      }
    }
    if (trial.outcome == Outcome::Intolerance) {
      trial.findings.push_back(Explained(
          "intolerance",
          [] {
            return "stopped because of side effects: intolerance is recorded, but it is not an efficacy failure and does not count toward "
                   "treatment resistance";
          },
          kb_.trd_definition().id, kb_.trd_definition().sources));
    }
    if (trial.adequacy == Adequacy::Adequate && !trial.failed) {
      trial.findings.push_back(Explained(
          "outcome_unknown",
          [] {
            return "adequate, but the outcome is not recorded: record the improvement (percent) or the clinician's judgement to decide whether "
                   "it failed";
          },
          kb_.outcome_bands().id, kb_.outcome_bands().sources));
    }
    if (trial.adequacy == Adequacy::Adequate && trial.failed && *trial.failed && percent) {
      trial.findings.push_back(Explained(
          "failed",
          [&] {
            return fmt::format("{}% improvement meets the failure test of {} ({})", FormatNumber(*percent), criteria_.id, FailureTestText(criteria_));
          },
          criteria_.id, criteria_.sources));
    }
    if (drug.max_dose_mg_per_day && trial.max_dose_mg_per_day && *trial.max_dose_mg_per_day > *drug.max_dose_mg_per_day) {
      trial.findings.push_back(Explained(
          "dose_above_maximum",
          [&] {
            return fmt::format("{} of {} is above the usual maximum of {}", Mg(*trial.max_dose_mg_per_day), drug.inn, Mg(*drug.max_dose_mg_per_day));
          },
          drug.id, drug.max_dose_sources));
    }
    if (course.episode) {
      trial.findings.push_back(Explained(
          "episode_set_in_record", [&] { return fmt::format("placed in the {} episode as the record says", EpisodePlacementName(*course.episode)); },
          criteria_.id));
    }
    return trial;
  }

  ProcedureAssessment AssessProcedure(const Procedure& procedure, int index) {
    ProcedureAssessment out;
    out.index = index;
    out.source_list = procedure.source_list;
    out.input_index = procedure.input_index;
    out.kind = procedure.kind;
    out.start = procedure.start;
    out.end = procedure.end;
    out.ongoing = procedure.ongoing;
    out.sessions = procedure.sessions;
    out.laterality = procedure.laterality;
    std::optional<Date> last_day = procedure.ongoing ? std::optional<Date>(as_of_) : procedure.end;
    out.episode = PlaceInEpisode(procedure.episode, patient_.episode_start, last_day);
    DecideOutcome(kb_.outcome_bands(), procedure.outcome, procedure.improvement, "", out.outcome, out.outcome_basis);
    if (procedure.improvement) out.improvement_percent = procedure.improvement->percent;
    out.failed = IsFailure(criteria_, out.outcome, out.outcome_basis == "improvement" ? out.improvement_percent : std::nullopt);
    if (procedure.source_list == "medications") {
      out.findings.push_back(Explained(
          "interventional_drug",
          [&] {
            return fmt::format("listed under medications; {} is given in supervised sessions and is assessed with the procedures, not as an "
                               "antidepressant trial",
                               procedure.kind);
          },
          explain_ ? "drug." + procedure.kind : std::string()));
    }
    if (procedure.kind == "ect") {
      out.findings.push_back(Explained(
          "ect_adequacy_not_assessed",
          [] { return "the adequacy of an ECT course (number of sessions, seizure quality) is not assessed; the recorded outcome is used"; },
          kb_.thase_rush().id));
    }
    return out;
  }

  bool HasBipolarHistory(std::vector<Finding>& findings) const {
    const TrdDefinition& definition = kb_.trd_definition();
    bool bipolar = false;
    for (const Diagnosis& diagnosis : patient_.diagnoses) {
      const bool excluded = std::find(definition.excluding_diagnoses.begin(), definition.excluding_diagnoses.end(), diagnosis.kind) !=
                            definition.excluding_diagnoses.end();
      if (!excluded) continue;
      if (diagnosis.status == "ruled_out") {
        findings.push_back(Explained(
            "bipolar_ruled_out", [&] { return fmt::format("{} is recorded as ruled out, so the TRD definition applies", diagnosis.kind); },
            definition.id, definition.sources));
        continue;
      }
      bipolar = true;
      findings.push_back(Explained(
          "bipolar_diagnosis",
          [&] {
            return fmt::format("the record has a diagnosis of {}{}: the TRD definition covers unipolar depression only", diagnosis.kind,
                               diagnosis.status.empty() ? "" : " (" + diagnosis.status + ")");
          },
          definition.id, definition.sources));
    }
    const auto excluded_history = [&](const char* name) {
      return std::find(definition.excluding_history.begin(), definition.excluding_history.end(), name) != definition.excluding_history.end();
    };
    if (patient_.history_bipolar && excluded_history("bipolar")) {
      bipolar = true;
      findings.push_back(Explained(
          "bipolar_history", [] { return "the history records bipolar disorder: the TRD definition covers unipolar depression only"; }, definition.id,
          definition.sources));
    }
    if (patient_.history_mania_or_hypomania && excluded_history("mania_or_hypomania")) {
      bipolar = true;
      findings.push_back(Explained(
          "mania_history", [] { return "the history records a manic or hypomanic episode: the TRD definition covers unipolar depression only"; },
          definition.id, definition.sources));
    }
    return bipolar;
  }

  TrdAssessment AssessTrd(const std::vector<TrialAssessment>& trials) const {
    const TrdDefinition& definition = kb_.trd_definition();
    TrdAssessment trd;
    trd.required = definition.min_failed_trials;
    if (explain_) {
      trd.rule = definition.id;
      trd.sources = definition.sources;
    }
    std::set<std::string> failed_drugs;
    std::set<std::string> undecided_drugs;
    for (const TrialAssessment& trial : trials) {
      if (trial.episode != EpisodePlacement::Current || trial.drug->counts_as != CountsAs::Antidepressant) continue;
      if (trial.failed && *trial.failed) {
        const bool is_new = failed_drugs.insert(trial.drug->id).second;
        trd.failed_trial_indices.push_back(trial.index);
        if (is_new) trd.failed_drugs.push_back(trial.drug->id);
        if (!is_new && definition.distinct_drugs) {
          trd.findings.push_back(Explained(
              "same_drug_again",
              [&] {
                return fmt::format("trial {} repeats {}: a drug counts once toward the {} different antidepressants required", trial.index,
                                   trial.drug->inn, definition.min_failed_trials);
              },
              definition.id, definition.sources));
        }
      }
    }
    for (const TrialAssessment& trial : trials) {
      if (trial.episode != EpisodePlacement::Current || trial.drug->counts_as != CountsAs::Antidepressant) continue;
      if (!trial.failed && failed_drugs.count(trial.drug->id) == 0) {
        undecided_drugs.insert(trial.drug->id);
        trd.undecided_trial_indices.push_back(trial.index);
      }
    }
    trd.failed_adequate_trials = static_cast<int>(definition.distinct_drugs ? failed_drugs.size() : trd.failed_trial_indices.size());
    std::vector<Finding> bipolar_findings;
    if (HasBipolarHistory(bipolar_findings)) {
      trd.status = TrdStatus::NotApplicable;
      trd.findings.insert(trd.findings.begin(), bipolar_findings.begin(), bipolar_findings.end());
      return trd;
    }
    trd.findings.insert(trd.findings.end(), bipolar_findings.begin(), bipolar_findings.end());
    const int possible = trd.failed_adequate_trials + static_cast<int>(undecided_drugs.size());
    if (trd.failed_adequate_trials >= definition.min_failed_trials) {
      trd.status = TrdStatus::Meets;
      trd.findings.insert(trd.findings.begin(),
                          Explained(
                              "trd_met",
                              [&] {
                                return fmt::format("{} different antidepressants failed after adequate trials in the current episode; {} are required",
                                                   trd.failed_adequate_trials, definition.min_failed_trials);
                              },
                              definition.id, definition.sources));
    } else if (possible >= definition.min_failed_trials) {
      trd.status = TrdStatus::Indeterminate;
      trd.findings.insert(trd.findings.begin(),
                          Explained(
                              "trd_undecided",
                              [&] {
                                return fmt::format("{} failed adequate trial{} counted; {} more trial{} could count once the missing data are recorded "
                                                   "(trials {})",
                                                   trd.failed_adequate_trials, trd.failed_adequate_trials == 1 ? "" : "s", undecided_drugs.size(),
                                                   undecided_drugs.size() == 1 ? "" : "s", fmt::join(trd.undecided_trial_indices, ", "));
                              },
                              definition.id, definition.sources));
    } else {
      trd.status = TrdStatus::DoesNotMeet;
      trd.findings.insert(trd.findings.begin(),
                          Explained(
                              "trd_not_met",
                              [&] {
                                return fmt::format("{} failed adequate antidepressant trial{} in the current episode; {} are required",
                                                   trd.failed_adequate_trials, trd.failed_adequate_trials == 1 ? "" : "s",
                                                   definition.min_failed_trials);
                              },
                              definition.id, definition.sources));
    }
    return trd;
  }

  std::vector<Source> CitedSources(const Assessment& assessment) const {
    std::set<std::string> used(assessment.criteria->sources.begin(), assessment.criteria->sources.end());
    const auto add = [&](const std::vector<std::string>& sources) { used.insert(sources.begin(), sources.end()); };
    const auto add_findings = [&](const std::vector<Finding>& findings) {
      for (const Finding& finding : findings) add(finding.sources);
    };
    for (const Alert& alert : assessment.alerts) add(alert.finding.sources);
    for (const TrialAssessment& trial : assessment.trials) {
      add(trial.sources);
      add_findings(trial.adequacy_reasons);
      add_findings(trial.findings);
    }
    for (const ProcedureAssessment& procedure : assessment.procedures) add_findings(procedure.findings);
    add(assessment.trd.sources);
    add_findings(assessment.trd.findings);
    add_findings(assessment.findings);
    const MeasurementAssessment& measurement = assessment.measurement;
    for (const ScaleResult& result : measurement.administrations) add_findings(result.findings);
    for (const TrialMeasurement& trial : measurement.trials) {
      for (const ScaleTrajectory& trajectory : trial.trajectories) add_findings(trajectory.findings);
    }
    for (const ScaleTrajectory& trajectory : measurement.episode) add_findings(trajectory.findings);
    for (const EpisodeEvent& event : measurement.events) add(event.finding.sources);
    for (const TachyphylaxisResult& found : measurement.tachyphylaxis) add(found.finding.sources);
    if (measurement.daily_log) add_findings(measurement.daily_log->findings);
    add_findings(measurement.findings);
    if (assessment.interactions) {
      for (const InteractionFinding& finding : assessment.interactions->findings) add(finding.sources);
    }
    if (assessment.pgx) add(assessment.pgx->sources);
    if (assessment.next_steps) add(assessment.next_steps->sources);
    for (const StagingExplanation* explanation : {&assessment.thase_rush.explanation, &assessment.european.explanation,
                                                  &assessment.maudsley.explanation, &assessment.mgh.explanation}) {
      add(explanation->sources);
    }
    std::vector<Source> out;
    for (const std::string& id : used) {
      if (const Source* source = kb_.FindSource(id); source != nullptr) out.push_back(*source);
    }
    return out;
  }

  std::vector<Alert> CollectAlerts(const Assessment& assessment) const {
    std::vector<Alert> alerts;
    for (const Finding& finding : assessment.findings) {
      if (finding.code != "episode_start_missing") continue;
      alerts.push_back(Alert{AlertSeverity::Warning, Explained(
                                                         finding.code,
                                                         [] {
                                                           return "the start of the current episode is not recorded: trials from earlier episodes may be "
                                                                  "counted toward treatment resistance; record episode.start";
                                                         },
                                                         finding.rule, finding.sources)});
    }
    if (assessment.trd.status == TrdStatus::NotApplicable) {
      alerts.push_back(Alert{AlertSeverity::Warning, Explained(
                                                         "bipolar_spectrum",
                                                         [] {
                                                           return "bipolar disorder or a past manic/hypomanic episode is recorded: TRD criteria for "
                                                                  "unipolar depression do not apply, and antidepressant choices need a "
                                                                  "bipolar-depression pathway";
                                                         },
                                                         kb_.trd_definition().id, kb_.trd_definition().sources)});
    }
    for (const TrialAssessment& trial : assessment.trials) {
      for (const Finding& finding : trial.findings) {
        if (finding.code != "dose_above_maximum") continue;
        Finding alert = finding;
        if (explain_) alert.message = fmt::format("trial {}: {}", trial.index, finding.message);
        alerts.push_back(Alert{AlertSeverity::Warning, alert});
      }
    }
    std::stable_sort(alerts.begin(), alerts.end(), [](const Alert& left, const Alert& right) { return left.severity < right.severity; });
    return alerts;
  }

  const KnowledgeBase& kb_;
  const PatientRecord& patient_;
  const Criteria& criteria_;
  Date as_of_;
  std::string locale_;
  bool regimen_and_genotypes_ = true;
  bool next_steps_ = true;
  bool explain_ = true;
  MbcContext mbc_;
  std::vector<TrialMeasurement> trial_measurements_;
};

}  // namespace

Result<Assessment> Evaluate(const KnowledgeBase& kb, const PatientRecord& patient, const EvaluateOptions& options) {
  const std::string criteria_id = options.criteria_id.empty() ? kb.default_criteria() : options.criteria_id;
  const Criteria* criteria = kb.FindCriteria(criteria_id);
  // The command line accepts the short form ("atrq" for "criteria.atrq").
  if (criteria == nullptr) criteria = kb.FindCriteria("criteria." + criteria_id);
  if (criteria == nullptr) {
    std::vector<std::string> ids;
    for (const Criteria& entry : kb.criteria()) ids.push_back(entry.id);
    std::string message = fmt::format("unknown criteria \"{}\" (known: {})", criteria_id, fmt::join(ids, ", "));
    return Fail(ErrorCode::InvalidInput, message, "--criteria");
  }
  return Evaluator(kb, patient, *criteria, options.as_of, options.locale, options.regimen_and_genotypes, options.next_steps, options.explain)
      .Run();
}

}  // namespace refract
