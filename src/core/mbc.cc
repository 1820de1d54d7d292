// SPDX-License-Identifier: Apache-2.0
// Measurement-based care: trajectories, outcomes from scores, relapse and recurrence, reliable
// change, tachyphylaxis, the daily-log summary and the suicide-risk alerts (docs/assessment.md §7).
#include "refract/core/mbc.h"

#include "refract/core/text.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <fmt/format.h>

namespace refract {
namespace {

std::string Str(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_string() ? found->get<std::string>() : std::string();
}

int Int(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_number_integer() ? found->get<int>() : 0;
}

double Num(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_number() ? found->get<double>() : 0;
}

std::vector<std::string> Strings(const nlohmann::json& node, const char* key) {
  std::vector<std::string> out;
  const auto found = node.find(key);
  if (found == node.end() || !found->is_array()) return out;
  for (const auto& entry : *found) {
    if (entry.is_string()) out.push_back(entry.get<std::string>());
  }
  return out;
}

const nlohmann::json* FirstOfKind(const KnowledgeBase& kb, std::string_view kind) {
  const auto files = kb.FilesOfKind(kind);
  return files.empty() ? nullptr : files.front().second;
}

std::vector<std::string> Merge(std::vector<std::string> left, const std::vector<std::string>& right) {
  for (const std::string& entry : right) {
    if (std::find(left.begin(), left.end(), entry) == left.end()) left.push_back(entry);
  }
  return left;
}

std::string Percent(double value) { return FormatNumber(std::round(value * 10) / 10) + "%"; }

std::string Total(double value) { return FormatNumber(value); }

// Percent improvement from a baseline (positive = fewer symptoms).
double PercentChange(double baseline, double current) { return (baseline - current) / baseline * 100; }

Outcome OutcomeFromPercent(const MbcRules::Outcomes& rules, double percent) {
  if (percent >= rules.response_from_percent) return Outcome::Response;
  if (percent >= rules.partial_from_percent) return Outcome::Partial;
  return Outcome::Nonresponse;
}

std::string OutcomeWords(Outcome outcome) {
  switch (outcome) {
    case Outcome::Nonresponse: return "nonresponse";
    case Outcome::Partial: return "partial response";
    case Outcome::Response: return "response";
    case Outcome::Remission: return "remission";
    case Outcome::Intolerance: return "intolerance";
    case Outcome::Unknown: return "unknown";
  }
  return "unknown";
}

// The totals of one scale, oldest first.
std::vector<ScorePoint> PointsOf(const MbcContext& context, const std::string& scale_id) {
  std::vector<ScorePoint> points;
  for (const ScaleResult& result : context.results) {
    if (result.scale_id != scale_id || !result.total) continue;
    points.push_back(ScorePoint{result.date, *result.total, result.input_index});
  }
  return points;
}

// Depression scales with totals, in the KB's priority order first, then any others by id.
std::vector<const ScaleDefinition*> DepressionScales(const MbcContext& context) {
  std::vector<const ScaleDefinition*> out;
  if (context.rules.outcomes) {
    for (const std::string& id : context.rules.outcomes->scale_priority) {
      const auto found = context.scales.find(id);
      if (found != context.scales.end()) out.push_back(&found->second);
    }
  }
  for (const auto& [id, scale] : context.scales) {
    if (scale.measures != "depression" || std::find(out.begin(), out.end(), &scale) != out.end()) continue;
    out.push_back(&scale);
  }
  return out;
}

// Baseline, best, latest, percent change, outcome and reliable change of one scale's totals.
// `points` are the candidates, oldest first; `anchor` is the start the baseline must precede.
ScaleTrajectory Trajectory(const MbcContext& context, const ScaleDefinition& scale, const std::vector<ScorePoint>& all, Date anchor,
                           Date last_day, bool allow_first_recorded) {
  ScaleTrajectory out;
  out.scale_id = scale.id;
  out.short_name = scale.short_name;
  const auto* rules = context.rules.outcomes ? &*context.rules.outcomes : nullptr;
  const std::vector<std::string> rule_sources = rules != nullptr ? rules->sources : std::vector<std::string>{};
  const std::string rule_id = rules != nullptr ? rules->id : scale.id;
  const long window = rules != nullptr ? rules->baseline_max_days_before_start : 0;
  for (const ScorePoint& point : all) {
    if (point.date <= anchor && DaysBetween(point.date, anchor) <= window) out.baseline = point;
  }
  std::vector<ScorePoint> follow;
  for (const ScorePoint& point : all) {
    if (anchor < point.date && point.date <= last_day) follow.push_back(point);
  }
  out.baseline_basis = "before_start";
  if (!out.baseline && allow_first_recorded && !follow.empty()) {
    out.baseline = follow.front();
    follow.erase(follow.begin());
    out.baseline_basis = "first_recorded";
    out.findings.push_back(Finding{"baseline_first_recorded",
                                   fmt::format("no {} on or within {} days before {}: the first total in the period ({} on {}) is the baseline",
                                               scale.short_name, window, FormatDate(anchor), Total(out.baseline->total), FormatDate(out.baseline->date)),
                                   rule_id, rule_sources});
  }
  if (out.baseline) out.points.push_back(*out.baseline);
  out.points.insert(out.points.end(), follow.begin(), follow.end());
  if (!follow.empty()) {
    out.latest = follow.back();
    out.best = *std::min_element(follow.begin(), follow.end(), [](const ScorePoint& left, const ScorePoint& right) { return left.total < right.total; });
  }
  if (!out.baseline) {
    out.status = "no_baseline";
    out.findings.push_back(Finding{"no_baseline",
                                   fmt::format("no {} on or within {} days before {}: no percent change is computed from this scale", scale.short_name,
                                               window, FormatDate(anchor)),
                                   rule_id, rule_sources});
    return out;
  }
  if (!out.latest) {
    out.status = "no_follow_up";
    out.findings.push_back(Finding{"no_follow_up",
                                   fmt::format("baseline {} {} on {}, but no later {} up to {}", scale.short_name, Total(out.baseline->total),
                                               FormatDate(out.baseline->date), scale.short_name, FormatDate(last_day)),
                                   rule_id, rule_sources});
    return out;
  }
  if (out.baseline->total <= 0) {
    out.status = "baseline_zero";
    out.findings.push_back(Finding{"baseline_zero", fmt::format("the baseline {} is 0: a percent change is not defined", scale.short_name), rule_id,
                                   rule_sources});
    return out;
  }
  if (scale.response_min_baseline && out.baseline->total < *scale.response_min_baseline) {
    out.status = "baseline_below_minimum";
    out.findings.push_back(Finding{"baseline_below_minimum",
                                   fmt::format("the baseline {} of {} is below {}: response is measured only from a baseline of at least {}",
                                               scale.short_name, Total(out.baseline->total), *scale.response_min_baseline, *scale.response_min_baseline),
                                   scale.id, scale.response_sources});
    return out;
  }
  if (rules == nullptr) {
    out.status = "no_rule";
    out.findings.push_back(Finding{"rule_missing", "the KB has no rule.mbc.outcomes: no outcome is derived from scores", scale.id, scale.sources});
    return out;
  }
  out.status = "evaluated";
  out.percent_change = PercentChange(out.baseline->total, out.latest->total);
  out.best_percent_change = PercentChange(out.baseline->total, out.best->total);
  out.outcome = OutcomeFromPercent(*rules, *out.percent_change);
  out.remission = scale.remission_max && out.latest->total <= *scale.remission_max;
  if (out.remission) out.outcome = Outcome::Remission;
  for (const ScorePoint& point : follow) {
    if (PercentChange(out.baseline->total, point.total) >= rules->response_from_percent) {
      out.response_date = point.date;
      out.days_to_response = DaysBetween(anchor, point.date);
      break;
    }
  }
  std::string message = fmt::format("{} {} on {} to {} on {}: {} improvement, {}", scale.short_name, Total(out.baseline->total),
                                    FormatDate(out.baseline->date), Total(out.latest->total), FormatDate(out.latest->date),
                                    Percent(*out.percent_change), OutcomeWords(*out.outcome));
  if (out.remission) message += fmt::format(" ({} at or below {})", Total(out.latest->total), *scale.remission_max);
  if (out.response_date) message += fmt::format("; response first reached on {}, day {}", FormatDate(*out.response_date), *out.days_to_response);
  out.findings.push_back(Finding{"trajectory", message, rules->id, Merge(rules->sources, out.remission ? scale.remission_sources : std::vector<std::string>{})});

  // Reliable change: from the scale's points threshold, or Jacobson-Truax from its reliability and SD.
  out.reliable_change = "not_assessable";
  const double change = out.latest->total - out.baseline->total;
  if (!scale.reliable_change) {
    out.findings.push_back(Finding{"reliable_change_not_assessable",
                                   fmt::format("the KB has no reliability data for {}: reliable change is not assessed", scale.short_name), scale.id, {}});
  } else if (scale.reliable_change->method == "points") {
    const int threshold = *scale.reliable_change->min_points;
    out.reliable_change = change <= -threshold ? "improved" : change >= threshold ? "deteriorated" : "no_reliable_change";
    out.findings.push_back(Finding{"reliable_change",
                                   fmt::format("change {}{} points; a change of {} or more is reliable: {}", change > 0 ? "+" : "", Total(change),
                                               threshold, out.reliable_change == "no_reliable_change" ? "no reliable change" : "reliably " + out.reliable_change),
                                   scale.id, scale.reliable_change->sources});
  } else if (context.rules.reliable_change) {
    const double s_diff = std::sqrt(2.0) * *scale.reliable_change->reference_sd * std::sqrt(1 - *scale.reliable_change->reliability);
    const double rci = change / s_diff;
    const double z = context.rules.reliable_change->critical_z;
    out.reliable_change_index = std::round(rci * 100) / 100;
    out.reliable_change = rci <= -z ? "improved" : rci >= z ? "deteriorated" : "no_reliable_change";
    out.findings.push_back(Finding{"reliable_change",
                                   fmt::format("reliable change index {} (critical value {}): {}", FormatNumber(*out.reliable_change_index), FormatNumber(z),
                                               out.reliable_change == "no_reliable_change" ? "no reliable change" : "reliably " + out.reliable_change),
                                   context.rules.reliable_change->id, Merge(context.rules.reliable_change->sources, scale.reliable_change->sources)});
  }
  return out;
}

// The dose in force on a date, when recorded.
std::optional<double> DoseOn(const Course& course, Date date) {
  std::optional<double> dose;
  for (const DoseStep& step : course.doses) {
    if (step.from <= date) dose = step.mg_per_day;
  }
  return dose;
}

const Course* CourseOf(const PatientRecord& patient, const TrialAssessment& trial) {
  for (const Course& course : patient.courses) {
    if (course.input_index == trial.input_index) return &course;
  }
  return nullptr;
}

std::optional<TachyphylaxisResult> FindTachyphylaxis(const MbcContext& context, const PatientRecord& patient, const Criteria& criteria,
                                                     const TrialAssessment& trial, const Course& course, const ScaleDefinition& scale,
                                                     Date as_of) {
  const MbcRules::Outcomes& outcomes = *context.rules.outcomes;
  const MbcRules::Tachyphylaxis& rule = *context.rules.tachyphylaxis;
  const std::vector<ScorePoint> all = PointsOf(context, scale.id);
  const Date last_day = course.ongoing ? as_of : course.end.value_or(as_of);
  std::optional<ScorePoint> baseline;
  for (const ScorePoint& point : all) {
    if (point.date <= course.start && DaysBetween(point.date, course.start) <= outcomes.baseline_max_days_before_start) baseline = point;
  }
  if (!baseline || baseline->total <= 0) return std::nullopt;
  if (scale.response_min_baseline && baseline->total < *scale.response_min_baseline) return std::nullopt;
  std::vector<ScorePoint> points;
  for (const ScorePoint& point : all) {
    if (course.start < point.date && point.date <= last_day) points.push_back(point);
  }
  const auto responds = [&](const ScorePoint& point) { return PercentChange(baseline->total, point.total) >= outcomes.response_from_percent; };
  std::size_t idx = 0;
  while (idx < points.size()) {
    if (!responds(points[idx])) {
      ++idx;
      continue;
    }
    // A run of responding totals.
    const std::size_t run_start = idx;
    while (idx < points.size() && responds(points[idx])) ++idx;
    const std::size_t run_end = idx - 1;
    const long run_days = DaysBetween(points[run_start].date, points[run_end].date);
    const bool sustained = static_cast<int>(run_end - run_start + 1) >= rule.min_response_assessments && run_days >= rule.min_response_span_days;
    if (!sustained || idx >= points.size()) continue;
    // The totals that follow without response.
    const std::size_t loss_start = idx;
    while (idx < points.size() && !responds(points[idx])) ++idx;
    const std::size_t loss_end = idx - 1;
    std::optional<Date> confirmed;
    for (std::size_t loss_idx = loss_start; loss_idx <= loss_end; ++loss_idx) {
      if (static_cast<int>(loss_idx - loss_start + 1) >= rule.min_loss_assessments &&
          DaysBetween(points[loss_start].date, points[loss_idx].date) >= rule.min_loss_span_days) {
        confirmed = points[loss_idx].date;
        break;
      }
    }
    // A single dip followed by renewed response is a fluctuation; keep looking.
    if (!confirmed && idx < points.size()) continue;

    TachyphylaxisResult result;
    result.trial = trial.index;
    result.drug = trial.drug->inn;
    result.scale_id = scale.id;
    result.response_from = points[run_start].date;
    result.response_until = points[run_end].date;
    result.loss_from = points[loss_start].date;
    result.loss_confirmed = confirmed;
    result.dose_mg_per_day = DoseOn(course, points[run_start].date);
    const Date check_until = confirmed.value_or(points[loss_end].date);
    for (const AlternativeExplanation& template_entry : rule.alternatives) {
      AlternativeExplanation entry{template_entry.code, template_entry.name, "unknown", template_entry.detail};
      if (entry.code == "dose_change") {
        std::vector<std::string> changes;
        for (const DoseStep& step : course.doses) {
          if (step.from <= result.response_from || check_until < step.from) continue;
          const double before = DoseOn(course, AddDays(step.from, -1)).value_or(0);
          if (step.mg_per_day == before) continue;
          changes.push_back(fmt::format("{} from {} to {} mg/day on {}", step.mg_per_day < before ? "reduced" : "raised", FormatNumber(before),
                                        FormatNumber(step.mg_per_day), FormatDate(step.from)));
        }
        if (!changes.empty()) {
          entry.status = "present";
          entry.detail = fmt::format("dose {}", fmt::join(changes, "; "));
        } else if (!course.doses.empty()) {
          entry.status = "not_found";
          entry.detail = result.dose_mg_per_day ? fmt::format("no dose change: {} mg/day throughout", FormatNumber(*result.dose_mg_per_day))
                                                : "no dose step between the response and the loss";
        }
      } else if (entry.code == "nonadherence") {
        int missed = 0;
        bool logged = false;
        for (const DailyEntry& day : patient.daily_log) {
          if (day.date < result.response_from || check_until < day.date || !day.doses_missed) continue;
          logged = true;
          missed += *day.doses_missed;
        }
        const bool poor_label = course.adherence == Adherence::Partial || course.adherence == Adherence::Poor;
        const bool low_percent = course.adherence_percent && *course.adherence_percent < criteria.adherence_min_percent;
        if (poor_label || low_percent || missed > 0) {
          entry.status = "present";
          std::vector<std::string> parts;
          if (poor_label) parts.push_back(fmt::format("adherence recorded as {}", AdherenceName(course.adherence)));
          if (low_percent) parts.push_back(fmt::format("{}% of doses taken (at least {}% required)", FormatNumber(*course.adherence_percent),
                                                       FormatNumber(criteria.adherence_min_percent)));
          if (missed > 0) parts.push_back(fmt::format("{} doses missed in the daily log", missed));
          entry.detail = fmt::format("{}", fmt::join(parts, "; "));
        } else if (course.adherence == Adherence::Good || course.adherence_percent || logged) {
          entry.status = "not_found";
          std::vector<std::string> parts;
          if (course.adherence == Adherence::Good) parts.push_back("adherence recorded as good");
          if (course.adherence_percent) parts.push_back(fmt::format("{}% of doses taken", FormatNumber(*course.adherence_percent)));
          if (logged) parts.push_back("no missed doses in the daily log");
          entry.detail = fmt::format("{}", fmt::join(parts, "; "));
        }
      } else if (entry.code == "substance_use") {
        std::vector<std::string> positive;
        for (std::size_t result_idx = 0; result_idx < context.results.size(); ++result_idx) {
          const ScaleResult& scored = context.results[result_idx];
          if (scored.measures == "alcohol" && scored.screen == "positive") positive.push_back(fmt::format("{} positive on {}", scored.short_name, FormatDate(scored.date)));
        }
        if (patient.history_substance_use == "current" || !positive.empty()) {
          entry.status = "present";
          if (patient.history_substance_use == "current") positive.insert(positive.begin(), "current substance use recorded");
          entry.detail = fmt::format("{}", fmt::join(positive, "; "));
        } else if (patient.history_substance_use == "none" || patient.history_substance_use == "past") {
          entry.status = "not_found";
          entry.detail = fmt::format("substance use recorded as {}", patient.history_substance_use);
        }
      } else if (entry.code == "bipolarity") {
        std::vector<std::string> present;
        std::vector<std::string> negative;
        if (patient.history_bipolar) present.push_back("bipolar disorder in the history");
        if (patient.history_mania_or_hypomania) present.push_back("a manic or hypomanic episode in the history");
        for (const ScaleResult& scored : context.results) {
          if (scored.measures != "bipolarity") continue;
          if (scored.screen == "positive") present.push_back(fmt::format("{} positive on {}", scored.short_name, FormatDate(scored.date)));
          if (scored.screen == "negative") negative.push_back(fmt::format("{} negative on {}", scored.short_name, FormatDate(scored.date)));
        }
        if (!present.empty()) {
          entry.status = "present";
          entry.detail = fmt::format("{}", fmt::join(present, "; "));
        } else if (!negative.empty()) {
          entry.status = "not_found";
          entry.detail = fmt::format("{}", fmt::join(negative, "; "));
        }
      }
      result.alternatives.push_back(std::move(entry));
    }
    const bool explained = std::any_of(result.alternatives.begin(), result.alternatives.end(), [](const AlternativeExplanation& entry) {
      return entry.status == "present" && (entry.code == "dose_change" || entry.code == "nonadherence");
    });
    result.classification = !confirmed ? "possible_loss_of_response" : explained ? "loss_of_response" : "tachyphylaxis";
    const std::string dose = result.dose_mg_per_day ? fmt::format(" {} mg/day", FormatNumber(*result.dose_mg_per_day)) : "";
    std::string message = fmt::format("trial {} ({}{}): {} response from {} held to {}; lost from {} ({} {})", trial.index, trial.drug->inn, dose,
                                      scale.short_name, FormatDate(result.response_from), FormatDate(result.response_until),
                                      FormatDate(result.loss_from), scale.short_name, Total(points[loss_start].total));
    if (result.classification == "tachyphylaxis") {
      message += fmt::format(", confirmed {}: tachyphylaxis (\"poop-out\") on the same drug and dose", FormatDate(*confirmed));
    } else if (result.classification == "loss_of_response") {
      message += fmt::format(", confirmed {}: loss of response, not tachyphylaxis, because", FormatDate(*confirmed));
      std::vector<std::string> reasons;
      for (const AlternativeExplanation& entry : result.alternatives) {
        if (entry.status == "present" && (entry.code == "dose_change" || entry.code == "nonadherence")) reasons.push_back(entry.detail);
      }
      message += fmt::format(" {}", fmt::join(reasons, "; "));
    } else {
      message += fmt::format(": possible loss of response; confirm with another {} at least {} days after {}", scale.short_name,
                             rule.min_loss_span_days, FormatDate(result.loss_from));
    }
    std::vector<std::string> open;
    std::vector<std::string> found;
    for (const AlternativeExplanation& entry : result.alternatives) {
      if (entry.status == "unknown") open.push_back(entry.name);
      if (entry.status == "present" && entry.code != "dose_change" && entry.code != "nonadherence") found.push_back(entry.name + ": " + entry.detail);
    }
    if (!found.empty()) message += fmt::format("; also present: {}", fmt::join(found, "; "));
    if (!open.empty()) message += fmt::format("; rule out: {}", fmt::join(open, ", "));
    result.finding = Finding{result.classification, message, rule.id, rule.sources};
    return result;
  }
  return std::nullopt;
}

// Remission, recovery, relapse and recurrence on one scale, over its whole history.
void FindEvents(const MbcContext& context, const ScaleDefinition& scale, std::vector<EpisodeEvent>& events) {
  if (!context.rules.outcomes || !scale.remission_max || !scale.episode_min) return;
  const MbcRules::Outcomes& rules = *context.rules.outcomes;
  const std::vector<ScorePoint> points = PointsOf(context, scale.id);
  std::optional<Date> remission_from;
  std::optional<Date> remission_last;
  bool recovered = false;
  bool in_remission = false;
  std::size_t idx = 0;
  while (idx < points.size()) {
    const ScorePoint& point = points[idx];
    if (point.total <= *scale.remission_max) {
      if (!in_remission) {
        in_remission = true;
        remission_from = point.date;
        recovered = false;
        events.push_back(EpisodeEvent{"remission", scale.id, point.date, point.date,
                                      Finding{"remission", fmt::format("{} {} on {}: remission ({} at or below {})", scale.short_name, Total(point.total),
                                                                       FormatDate(point.date), Total(point.total), *scale.remission_max),
                                              rules.id, Merge(rules.sources, scale.remission_sources)}});
      }
      remission_last = point.date;
      if (!recovered && DaysBetween(*remission_from, point.date) >= rules.recovery_days) {
        recovered = true;
        events.push_back(EpisodeEvent{"recovery", scale.id, point.date, remission_from,
                                      Finding{"recovery",
                                              fmt::format("{} in remission from {} to {} ({} days or more): recovery", scale.short_name,
                                                          FormatDate(*remission_from), FormatDate(point.date), rules.recovery_days),
                                              rules.id, rules.sources}});
      }
      ++idx;
      continue;
    }
    in_remission = false;
    if (!remission_from || point.total < *scale.episode_min) {
      ++idx;
      continue;
    }
    // A return to the episode threshold after a remission: confirmed by consecutive totals.
    std::size_t end = idx;
    std::optional<Date> confirmed;
    while (end < points.size() && points[end].total >= *scale.episode_min) {
      if (static_cast<int>(end - idx + 1) >= rules.return_min_assessments && DaysBetween(point.date, points[end].date) >= rules.return_min_span_days) {
        confirmed = points[end].date;
        break;
      }
      ++end;
    }
    if (!confirmed) {
      idx = std::max(end, idx + 1);
      continue;
    }
    const std::string kind = recovered ? "recurrence" : "relapse";
    events.push_back(EpisodeEvent{kind, scale.id, point.date, remission_from,
                                  Finding{kind,
                                          fmt::format("{} {} on {} after remission from {}{}: {} (confirmed on {})", scale.short_name, Total(point.total),
                                                      FormatDate(point.date), FormatDate(*remission_from),
                                                      recovered ? " that had lasted long enough to count as recovery" : " before recovery", kind,
                                                      FormatDate(*confirmed)),
                                          rules.id, Merge(rules.sources, scale.episode_sources)}});
    remission_from.reset();
    recovered = false;
    while (idx < points.size() && points[idx].total > *scale.remission_max) ++idx;
  }
}

DailyLogSummary SummariseDailyLog(const MbcRules::DailyLog& rule, const PatientRecord& patient, Date as_of) {
  DailyLogSummary summary;
  summary.window_days = rule.window_days;
  summary.to = as_of;
  summary.from = AddDays(as_of, -(rule.window_days - 1));
  std::vector<const DailyEntry*> entries;
  for (const DailyEntry& entry : patient.daily_log) {
    if (entry.date <= as_of && (!summary.last_entry || *summary.last_entry < entry.date)) summary.last_entry = entry.date;
    if (entry.date < summary.from || as_of < entry.date) continue;
    entries.push_back(&entry);
  }
  std::stable_sort(entries.begin(), entries.end(), [](const DailyEntry* left, const DailyEntry* right) { return left->date < right->date; });
  summary.entries = static_cast<int>(entries.size());
  if (entries.empty()) {
    summary.findings.push_back(Finding{"daily_log_empty",
                                       fmt::format("no daily-log entries from {} to {}{}", FormatDate(summary.from), FormatDate(as_of),
                                                   summary.last_entry ? fmt::format(" (last entry {})", FormatDate(*summary.last_entry)) : ""),
                                       rule.id, rule.sources});
    return summary;
  }
  const auto value_of = [](const DailyEntry& entry, const std::string& field) -> std::optional<double> {
    if (field == "mood" && entry.mood) return *entry.mood;
    if (field == "sleep_hours" && entry.sleep_hours) return *entry.sleep_hours;
    if (field == "energy" && entry.energy) return *entry.energy;
    if (field == "functioning" && entry.functioning) return *entry.functioning;
    if (field == "anxiety" && entry.anxiety) return *entry.anxiety;
    return std::nullopt;
  };
  std::vector<std::string> trends;
  for (const MbcRules::DailyField& field : rule.fields) {
    DailyFieldSummary out{field.field, field.label, 0, std::nullopt, std::nullopt, std::nullopt, std::nullopt, "too_few_entries"};
    double sum = 0;
    std::vector<std::pair<double, double>> xy;
    for (const DailyEntry* entry : entries) {
      const auto value = value_of(*entry, field.field);
      if (!value) continue;
      ++out.entries;
      sum += *value;
      out.min = std::min(out.min.value_or(*value), *value);
      out.max = std::max(out.max.value_or(*value), *value);
      xy.emplace_back(static_cast<double>(DaysBetween(summary.from, entry->date)), *value);
    }
    if (out.entries == 0) {
      out.trend = "not_recorded";
      summary.fields.push_back(out);
      continue;
    }
    out.mean = std::round(sum / out.entries * 10) / 10;
    if (out.entries >= rule.min_entries) {
      double mean_x = 0;
      double mean_y = 0;
      for (const auto& [x, y] : xy) {
        mean_x += x;
        mean_y += y;
      }
      mean_x /= static_cast<double>(xy.size());
      mean_y /= static_cast<double>(xy.size());
      double numerator = 0;
      double denominator = 0;
      for (const auto& [x, y] : xy) {
        numerator += (x - mean_x) * (y - mean_y);
        denominator += (x - mean_x) * (x - mean_x);
      }
      const double slope = denominator > 0 ? numerator / denominator : 0;
      out.change = std::round(slope * (rule.window_days - 1) * 10) / 10;
      if (std::abs(*out.change) < field.trend_min_change) {
        out.trend = "stable";
      } else if (field.better == "neither") {
        out.trend = *out.change > 0 ? "increasing" : "decreasing";
      } else {
        const bool up_is_better = field.better == "higher";
        out.trend = (*out.change > 0) == up_is_better ? "improving" : "worsening";
      }
      trends.push_back(fmt::format("{} {} ({}{} over {} days)", field.field == "sleep_hours" ? "sleep" : field.field, out.trend,
                                   *out.change > 0 ? "+" : "", FormatNumber(*out.change), rule.window_days));
    }
    summary.fields.push_back(out);
  }
  int missed = 0;
  bool any_missed = false;
  for (const DailyEntry* entry : entries) {
    if (entry->doses_missed) {
      any_missed = true;
      missed += *entry->doses_missed;
    }
    if (!entry->note.empty()) summary.notes.push_back(fmt::format("{}: {}", FormatDate(entry->date), entry->note));
  }
  if (any_missed) summary.doses_missed = missed;
  std::string message = fmt::format("{} entries from {} to {}", summary.entries, FormatDate(summary.from), FormatDate(as_of));
  if (summary.entries < rule.min_entries) {
    message += fmt::format(": fewer than {}, so no trends are reported", rule.min_entries);
  } else if (!trends.empty()) {
    message += fmt::format(": {}", fmt::join(trends, ", "));
  }
  if (summary.doses_missed) message += fmt::format("; {} dose{} missed", *summary.doses_missed, *summary.doses_missed == 1 ? "" : "s");
  summary.findings.push_back(Finding{"daily_log_summary", message, rule.id, rule.sources});
  return summary;
}

}  // namespace

namespace {

// Which rule.mbc.* parts to read: an evaluation reads only what the record can use.
struct MbcParts {
  bool tachyphylaxis = true;
  bool reliable_change = true;
  bool daily_log = true;
  bool crisis_lines = true;
};

MbcRules ReadMbcParts(const KnowledgeBase& kb, const MbcParts& parts) {
  MbcRules rules;
  if (const nlohmann::json* json = FirstOfKind(kb, "mbc_outcomes")) {
    const auto& back = (*json)["episode_return"];
    rules.outcomes = MbcRules::Outcomes{Str(*json, "id"), Num(*json, "response_from_percent"), Num(*json, "partial_from_percent"),
                                        Int(*json, "baseline_max_days_before_start"), Strings(*json, "scale_priority"), Int(*json, "recovery_days"),
                                        Int(back, "min_assessments"), Int(back, "min_span_days"), Strings(*json, "sources")};
  }
  if (const nlohmann::json* json = parts.tachyphylaxis ? FirstOfKind(kb, "mbc_tachyphylaxis") : nullptr) {
    MbcRules::Tachyphylaxis rule{Str(*json, "id"), Int(*json, "min_response_assessments"), Int(*json, "min_response_span_days"),
                                 Int(*json, "min_loss_assessments"), Int(*json, "min_loss_span_days"), {}, Strings(*json, "sources")};
    for (const auto& entry : (*json)["alternative_explanations"]) {
      rule.alternatives.push_back(AlternativeExplanation{Str(entry, "code"), Str(entry, "name"), "unknown", Str(entry, "how_checked")});
    }
    rules.tachyphylaxis = std::move(rule);
  }
  if (const nlohmann::json* json = parts.reliable_change ? FirstOfKind(kb, "mbc_reliable_change") : nullptr) {
    rules.reliable_change = MbcRules::ReliableChange{Str(*json, "id"), Num(*json, "critical_z"), Strings(*json, "sources")};
  }
  if (const nlohmann::json* json = parts.daily_log ? FirstOfKind(kb, "mbc_daily_log") : nullptr) {
    MbcRules::DailyLog rule{Str(*json, "id"), Int(*json, "window_days"), Int(*json, "min_entries"), {}, Strings(*json, "sources")};
    for (const auto& entry : (*json)["fields"]) {
      rule.fields.push_back(MbcRules::DailyField{Str(entry, "field"), Str(entry, "label"), Str(entry, "better"), Num(entry, "trend_min_change")});
    }
    rules.daily_log = std::move(rule);
  }
  if (const nlohmann::json* json = parts.crisis_lines ? FirstOfKind(kb, "mbc_crisis_lines") : nullptr) {
    MbcRules::CrisisLines lines{Str(*json, "id"), Str(*json, "default_locale"), Str(*json, "action"), {}, Strings(*json, "sources")};
    for (const auto& entry : (*json)["lines"]) {
      lines.lines.push_back(MbcRules::CrisisLine{Str(entry, "locale"), Str(entry, "text"), Str(entry, "emergency"), Strings(entry, "sources")});
    }
    rules.crisis_lines = std::move(lines);
  }
  return rules;
}

}  // namespace

MbcRules ReadMbcRules(const KnowledgeBase& kb) { return ReadMbcParts(kb, MbcParts{}); }

std::vector<Error> CheckMeasurementKnowledge(const KnowledgeBase& kb) {
  std::vector<Error> errors = CheckScaleDefinitions(kb);
  for (const char* kind : {"mbc_outcomes", "mbc_tachyphylaxis", "mbc_reliable_change", "mbc_daily_log", "mbc_crisis_lines"}) {
    const auto files = kb.FilesOfKind(kind);
    if (files.size() > 1) errors.push_back(Error{ErrorCode::KbReference, fmt::format("more than one rule of kind \"{}\"", kind), "kb/" + files[1].first});
  }
  const MbcRules rules = ReadMbcRules(kb);
  if (rules.outcomes) {
    const std::string where = "kb/" + kb.FilesOfKind("mbc_outcomes").front().first;
    if (rules.outcomes->partial_from_percent >= rules.outcomes->response_from_percent) {
      errors.push_back(Error{ErrorCode::KbReference, "partial_from_percent must be below response_from_percent", where});
    }
    for (const std::string& id : rules.outcomes->scale_priority) {
      bool found = false;
      for (const auto& [path, json] : kb.FilesOfKind("scale")) found = found || Str(*json, "id") == id;
      if (!found) errors.push_back(Error{ErrorCode::KbReference, fmt::format("scale_priority names \"{}\", which is not a scale", id), where + "#/scale_priority"});
    }
  }
  if (rules.crisis_lines) {
    const bool has_default = std::any_of(rules.crisis_lines->lines.begin(), rules.crisis_lines->lines.end(),
                                         [&](const MbcRules::CrisisLine& line) { return line.locale == rules.crisis_lines->default_locale; });
    if (!has_default) {
      errors.push_back(Error{ErrorCode::KbReference, fmt::format("default_locale \"{}\" has no line", rules.crisis_lines->default_locale),
                             "kb/" + kb.FilesOfKind("mbc_crisis_lines").front().first + "#/default_locale"});
    }
  }
  return errors;
}

MbcContext PrepareMeasurement(const KnowledgeBase& kb, const PatientRecord& patient, Date as_of) {
  MbcContext context;
  if (patient.scales.empty() && patient.daily_log.empty()) return context;
  std::vector<const ScaleAdministration*> ordered;
  for (const ScaleAdministration& administration : patient.scales) {
    // An answer dated after the assessment date was not known on it: it neither raises nor clears an alert.
    if (administration.date > as_of) {
      context.findings.push_back(Finding{"scale_after_as_of",
                                         fmt::format("scales[{}] ({}) is dated {}, after the assessment date {}: not used", administration.input_index,
                                                     administration.scale, FormatDate(administration.date), FormatDate(as_of)),
                                         "", {}});
      continue;
    }
    ordered.push_back(&administration);
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const ScaleAdministration* left, const ScaleAdministration* right) { return left->date < right->date; });
  std::map<std::string, std::string, std::less<>> id_by_name;
  for (const ScaleAdministration* administration : ordered) {
    const ScaleDefinition* scale = nullptr;
    if (const auto known = id_by_name.find(administration->scale); known != id_by_name.end()) {
      scale = &context.scales.find(known->second)->second;
    } else {
      auto found = FindScale(kb, administration->scale, ScaleDetail::Scoring);
      if (!found || CheckScaleInput(*found, administration->items, administration->total)) {
        context.findings.push_back(Finding{"scale_skipped",
                                           fmt::format("scales[{}] ({}) is not scored: {}", administration->input_index, administration->scale,
                                                       found ? CheckScaleInput(*found, administration->items, administration->total)->message : found.error().message),
                                           "", {}});
        continue;
      }
      const std::string id = found->id;
      id_by_name.emplace(administration->scale, id);
      scale = &context.scales.emplace(id, std::move(*found)).first->second;
    }
    if (CheckScaleInput(*scale, administration->items, administration->total)) {
      context.findings.push_back(Finding{"scale_skipped",
                                         fmt::format("scales[{}] ({}) is not scored: {}", administration->input_index, administration->scale,
                                                     CheckScaleInput(*scale, administration->items, administration->total)->message),
                                         scale->id, {}});
      continue;
    }
    ScaleScore score = ScoreScale(*scale, administration->items, administration->total, patient.sex);
    ScaleResult result;
    result.input_index = administration->input_index;
    result.scale_id = scale->id;
    result.short_name = scale->short_name;
    result.measures = scale->measures;
    result.date = administration->date;
    result.rater = administration->rater;
    result.total = score.total;
    result.total_source = score.total_from_items ? "items" : score.total ? "recorded" : "none";
    result.complete = score.complete;
    result.band = score.band;
    result.screen = std::string(ScreenResultName(score.screen));
    result.screen_name = scale->screen ? scale->screen->name : "";
    result.risk_tier = score.risk_tier;
    for (const ScaleNote& note : score.notes) result.findings.push_back(Finding{note.code, note.message, scale->id, scale->sources});
    if (score.total && !score.band.empty()) {
      result.findings.push_back(Finding{"band", fmt::format("{} {}: {}", scale->short_name, Total(*score.total), score.band), scale->id, scale->bands_sources});
    }
    // A depression scale's screen says nothing new in a depressed patient; comorbidity screens do.
    if (score.screen != ScreenResult::NotApplicable && scale->measures != "depression") {
      const std::string rule_text = score.screen_rule.empty() ? "" : fmt::format(" ({})", score.screen_rule);
      result.findings.push_back(Finding{"screen", fmt::format("{} screen {}{} for {}", scale->short_name, ScreenResultName(score.screen), rule_text, scale->screen->name),
                                        scale->id, scale->screen->sources});
    }
    if (!score.risk_tier.empty()) {
      result.findings.push_back(Finding{"risk_tier", fmt::format("{} risk tier: {}", scale->short_name, score.risk_tier), scale->id, scale->sources});
    }
    context.results.push_back(std::move(result));
    context.scores.push_back(std::move(score));
    context.items.push_back(administration->items);
  }
  MbcParts parts;
  parts.tachyphylaxis = !patient.courses.empty() && !context.results.empty();
  parts.daily_log = !patient.daily_log.empty();
  parts.reliable_change = std::any_of(context.scales.begin(), context.scales.end(), [](const auto& entry) {
    return entry.second.reliable_change && entry.second.reliable_change->method == "jacobson_truax";
  });
  parts.crisis_lines = std::any_of(context.scores.begin(), context.scores.end(), [](const ScaleScore& score) {
    return std::any_of(score.safety.begin(), score.safety.end(), [](const SafetyItemResult& safety) { return safety.state == Truth::True; });
  });
  context.rules = ReadMbcParts(kb, parts);
  if (const nlohmann::json* lines = FirstOfKind(kb, "mbc_crisis_lines")) context.default_locale = Str(*lines, "default_locale");
  return context;
}

TrialMeasurement MeasureTrial(const MbcContext& context, int trial_index, Date anchor, std::optional<Date> last_day, Date as_of) {
  TrialMeasurement out;
  out.trial = trial_index;
  for (const ScaleDefinition* scale : DepressionScales(context)) {
    const std::vector<ScorePoint> points = PointsOf(context, scale->id);
    // A scale with no total in the trial or in the baseline window before it says nothing about it.
    const Date first_day = AddDays(anchor, -(context.rules.outcomes ? context.rules.outcomes->baseline_max_days_before_start : 0));
    const Date end_day = last_day.value_or(as_of);
    const bool relevant = std::any_of(points.begin(), points.end(), [&](const ScorePoint& point) { return first_day <= point.date && point.date <= end_day; });
    if (!relevant) continue;
    ScaleTrajectory trajectory = Trajectory(context, *scale, points, anchor, end_day, false);
    if (!last_day) {
      trajectory.findings.push_back(Finding{"end_unknown", fmt::format("the course has no end date: {} totals up to {} are used", scale->short_name, FormatDate(as_of)),
                                            context.rules.outcomes ? context.rules.outcomes->id : scale->id, {}});
    }
    // A scale with no total in or just before the trial says nothing about it.
    if (trajectory.points.empty()) continue;
    if (out.decided_by.empty() && trajectory.status == "evaluated") out.decided_by = scale->id;
    out.trajectories.push_back(std::move(trajectory));
  }
  return out;
}

void CompleteMeasurement(const MbcContext& context, const PatientRecord& patient, const Criteria& criteria, Date as_of, Assessment& assessment) {
  MeasurementAssessment& measurement = assessment.measurement;
  measurement.administrations = context.results;
  for (const auto& [id, scale] : context.scales) {
    ScaleSummary summary{id, scale.short_name, scale.measures, scale.total_min, scale.total_max, {}, scale.remission_max};
    for (const ScaleBand& band : scale.bands) summary.band_starts.emplace_back(band.min, band.label);
    measurement.scales.push_back(std::move(summary));
  }
  if (context.rules.outcomes) measurement.response_from_percent = context.rules.outcomes->response_from_percent;
  measurement.findings.insert(measurement.findings.end(), context.findings.begin(), context.findings.end());
  for (const ScaleDefinition* scale : DepressionScales(context)) {
    const std::vector<ScorePoint> points = PointsOf(context, scale->id);
    if (points.empty()) continue;
    const Date anchor = patient.episode_start.value_or(points.front().date);
    ScaleTrajectory trajectory = Trajectory(context, *scale, points, anchor, as_of, true);
    measurement.episode.push_back(std::move(trajectory));
    FindEvents(context, *scale, measurement.events);
  }
  std::stable_sort(measurement.events.begin(), measurement.events.end(), [](const EpisodeEvent& left, const EpisodeEvent& right) { return left.date < right.date; });
  if (context.rules.outcomes && context.rules.tachyphylaxis) {
    for (const TrialAssessment& trial : assessment.trials) {
      if (trial.drug->counts_as != CountsAs::Antidepressant) continue;
      const Course* course = CourseOf(patient, trial);
      if (course == nullptr) continue;
      for (const ScaleDefinition* scale : DepressionScales(context)) {
        if (auto found = FindTachyphylaxis(context, patient, criteria, trial, *course, *scale, as_of)) {
          measurement.tachyphylaxis.push_back(std::move(*found));
          break;
        }
      }
    }
  }
  if (!patient.daily_log.empty()) {
    if (context.rules.daily_log) {
      measurement.daily_log = SummariseDailyLog(*context.rules.daily_log, patient, as_of);
    } else {
      measurement.findings.push_back(Finding{"rule_missing", "the KB has no rule.mbc.daily_log: the daily log is not summarised", "", {}});
    }
  }
}

std::vector<Alert> MeasurementAlerts(const MbcContext& context, const Assessment& assessment, std::string_view locale,
                                     std::optional<Date> assessment_episode_start) {
  std::vector<Alert> critical;
  std::vector<Alert> others;
  const MbcRules::CrisisLines* lines = context.rules.crisis_lines ? &*context.rules.crisis_lines : nullptr;
  const std::string chosen = !locale.empty() ? std::string(locale) : context.default_locale;
  const MbcRules::CrisisLine* line = nullptr;
  if (lines != nullptr) {
    for (const MbcRules::CrisisLine& candidate : lines->lines) {
      if (candidate.locale == chosen) line = &candidate;
    }
  }
  // For each safety item, the latest administration that answered it decides: a later one that
  // left the item unanswered (a total only, a blank item) neither clears nor softens a positive
  // answer. An earlier positive answer that a later answer contradicts is still shown, as a warning.
  std::map<std::string, std::size_t> latest;
  std::map<std::pair<std::string, std::size_t>, std::size_t> latest_answered;
  for (std::size_t result_idx = 0; result_idx < context.results.size(); ++result_idx) {
    const ScaleResult& result = context.results[result_idx];
    latest[result.scale_id] = result_idx;
    const std::vector<SafetyItemResult>& safety = context.scores[result_idx].safety;
    for (std::size_t safety_idx = 0; safety_idx < safety.size(); ++safety_idx) {
      if (safety[safety_idx].state != Truth::Unknown) latest_answered[{result.scale_id, safety_idx}] = result_idx;
    }
  }
  for (std::size_t result_idx = 0; result_idx < context.results.size(); ++result_idx) {
    const ScaleResult& result = context.results[result_idx];
    const ScaleScore& score = context.scores[result_idx];
    const ScaleDefinition& scale = context.scales.find(result.scale_id)->second;
    const bool is_latest = latest[result.scale_id] == result_idx;
    const auto when_text = [&assessment](Date date) {
      const long days = DaysBetween(date, assessment.as_of);
      return days == 0 ? fmt::format("on {} (the assessment date)", FormatDate(date))
                       : fmt::format("on {} ({} day{} before the assessment date)", FormatDate(date), days, days == 1 ? "" : "s");
    };
    for (std::size_t safety_idx = 0; safety_idx < score.safety.size(); ++safety_idx) {
      const SafetyItemResult& safety = score.safety[safety_idx];
      const auto answered = latest_answered.find({result.scale_id, safety_idx});
      const std::size_t decisive = answered != latest_answered.end() ? answered->second : result_idx;
      if (is_latest && safety.state == Truth::Unknown && safety.rule->severity == "critical" &&
          (answered == latest_answered.end() || context.scores[decisive].safety[safety_idx].state != Truth::True)) {
        // Nothing positive stands for this item, and the latest administration did not ask it.
        others.push_back(Alert{AlertSeverity::Warning,
                               Finding{"suicide_item_not_recorded",
                                       fmt::format("{} was not recorded {}, the latest {}: ask the patient about it", safety.rule->what,
                                                   when_text(result.date), scale.short_name),
                                       scale.id, safety.rule->sources}});
      }
      if (safety.state != Truth::True) continue;
      const std::string when = when_text(result.date);
      if (decisive != result_idx) {
        const ScaleResult& newer = context.results[decisive];
        // A later positive answer raises its own alert.
        if (context.scores[decisive].safety[safety_idx].state == Truth::True) continue;
        // An answer from before the current episode is history, not a current signal: shown as
        // information, never dropped.
        if (assessment_episode_start && result.date < *assessment_episode_start) {
          others.push_back(Alert{AlertSeverity::Info,
                                 Finding{"suicide_item_positive_before_episode",
                                         fmt::format("{}: {} {}, before the current episode began on {}; the latest {} on {} does not repeat it",
                                                     safety.rule->what, safety.answer, when, FormatDate(*assessment_episode_start),
                                                     scale.short_name, FormatDate(newer.date)),
                                         scale.id, safety.rule->sources}});
          continue;
        }
        others.push_back(Alert{AlertSeverity::Warning,
                               Finding{"suicide_item_positive_earlier",
                                       fmt::format("{}: {} {}; the latest {} on {} does not repeat it: confirm with the patient that the risk has passed",
                                                   safety.rule->what, safety.answer, when, scale.short_name, FormatDate(newer.date)),
                                       scale.id, safety.rule->sources}});
        continue;
      }
      if (safety.rule->severity != "critical") {
        others.push_back(Alert{AlertSeverity::Warning,
                               Finding{"suicide_item_attention", fmt::format("{}: {} {}: {}", safety.rule->what, safety.answer, when, safety.rule->note), scale.id,
                                       safety.rule->sources}});
        continue;
      }
      std::string message = fmt::format("SUICIDE RISK: {}: {} {}, the latest {}", safety.rule->what, safety.answer, when, scale.short_name);
      if (!is_latest) {
        const ScaleResult& newer = context.results[latest[result.scale_id]];
        message = fmt::format("SUICIDE RISK: {}: {} {}, the latest {} that answered it (the {} on {} did not record it)", safety.rule->what,
                              safety.answer, when, scale.short_name, scale.short_name, FormatDate(newer.date));
      }
      if (!score.risk_tier.empty()) message += fmt::format(" (risk tier: {})", score.risk_tier);
      std::vector<std::string> sources = safety.rule->sources;
      std::string rule = scale.id;
      if (lines != nullptr) {
        std::string action = lines->action;
        if (!action.empty()) action[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(action[0])));
        message += fmt::format(". {}", action);
        rule = lines->id;
      }
      if (line != nullptr) {
        message += fmt::format(". Crisis line ({}): {}; {}", line->locale, line->text, line->emergency);
        sources = Merge(sources, line->sources);
      } else {
        message += fmt::format(". No crisis line is configured in the KB for locale \"{}\": give the local emergency number", chosen.empty() ? "(none)" : chosen);
      }
      critical.push_back(Alert{AlertSeverity::Critical, Finding{"suicide_risk", message, rule, sources}});
    }
    if (is_latest && score.screen == ScreenResult::Positive && scale.screen && !scale.screen->alert.empty()) {
      const std::string rule_text = score.screen_rule.empty() ? "" : fmt::format("; {}", score.screen_rule);
      others.push_back(Alert{scale.screen->alert == "warning" ? AlertSeverity::Warning : AlertSeverity::Info,
                             Finding{"screen_positive",
                                     fmt::format("{} positive on {} (total {}{}): {}; {}", scale.short_name, FormatDate(result.date),
                                                 result.total ? Total(*result.total) : "?", rule_text, scale.screen->name, scale.screen->advice),
                                     scale.id, scale.screen->sources}});
    }
  }
  for (const TachyphylaxisResult& found : assessment.measurement.tachyphylaxis) {
    others.push_back(Alert{AlertSeverity::Warning, found.finding});
  }
  critical.insert(critical.end(), others.begin(), others.end());
  return critical;
}

}  // namespace refract
