// SPDX-License-Identifier: Apache-2.0
/// Wording shared by the text and HTML renderings (private to the core library).
#pragma once

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "refract/core/assessment.h"
#include "refract/core/interactions.h"
#include "refract/core/next_steps.h"
#include "refract/core/pgx.h"
#include "refract/core/text.h"

namespace refract::report_detail {

inline std::string Dates(const TrialAssessment& trial) {
  const std::string end = trial.end ? FormatDate(*trial.end) : trial.ongoing ? "ongoing" : "end?";
  return FormatDate(trial.start) + " to " + end;
}

inline std::string Weeks(const TrialAssessment& trial) {
  if (!trial.days_at_adequate_dose) return "?";
  return fmt::format("{}{}", trial.days_at_adequate_dose_is_lower_bound ? ">=" : "",
                     FormatNumber(static_cast<double>(*trial.days_at_adequate_dose * 10 / 7) / 10.0));
}

inline std::string RoleText(const TrialAssessment& trial) {
  if (trial.drug->counts_as == CountsAs::Augmentation) return "augmenting agent";
  return fmt::format("antidepressant, {}", CourseRoleName(trial.role));
}

inline std::string Failed(const std::optional<bool>& failed) {
  if (!failed) return "unknown";
  return *failed ? "yes" : "no";
}

inline std::string TrdHeadline(const TrdAssessment& trd) {
  switch (trd.status) {
    case TrdStatus::Meets: return "MEETS TRD CRITERIA";
    case TrdStatus::DoesNotMeet: return "DOES NOT MEET TRD CRITERIA";
    case TrdStatus::Indeterminate: return "TRD STATUS INDETERMINATE";
    case TrdStatus::NotApplicable: return "TRD CRITERIA NOT APPLICABLE";
  }
  return "";
}

inline std::string MaudsleyLine(const MaudsleyResult& maudsley) {
  if (!maudsley.applicable) return "not applicable (no failed adequate trial)";
  if (!maudsley.total) return fmt::format("incomplete (between {} and {})", *maudsley.possible_min, *maudsley.possible_max);
  return fmt::format("{} of 15 ({})", *maudsley.total, maudsley.band);
}

inline std::string EuropeanLine(const EuropeanResult& european) {
  if (european.category == "none") return "not staged (no failed adequate trial)";
  std::string category = european.category;
  for (char& character : category) character = static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
  return fmt::format("{} ({} failed trial{}, {} weeks)", european.category == "nonresponder" ? "nonresponder" : category,
                     european.failed_trials, european.failed_trials == 1 ? "" : "s", FormatNumber(european.total_weeks));
}

/// One titled group of lines of the measurement-based-care section (text and HTML).
struct MeasurementGroup {
  std::string title;
  std::vector<std::string> lines;
};

inline std::string ScoreText(const std::optional<double>& total) { return total ? FormatNumber(*total) : "?"; }

/// The measurement-based-care section as plain lines: scales, trial trajectories, events,
/// tachyphylaxis and the daily log. Empty when the record has no scales and no daily log.
inline std::vector<MeasurementGroup> MeasurementGroups(const Assessment& assessment) {
  const MeasurementAssessment& measurement = assessment.measurement;
  std::vector<MeasurementGroup> groups;
  if (!measurement.administrations.empty()) {
    MeasurementGroup group{"Scale administrations", {}};
    for (const ScaleResult& result : measurement.administrations) {
      std::string line = fmt::format("{} {}", FormatDate(result.date), result.short_name);
      if (result.total) line += ": " + ScoreText(result.total);
      if (!result.total && !result.complete) line += ": incomplete";
      if (!result.band.empty()) line += " (" + result.band + ")";
      if (result.screen != "not_applicable" && result.measures != "depression") line += ", screen " + result.screen;
      if (!result.risk_tier.empty()) line += ", risk tier " + result.risk_tier;
      if (result.total_source == "recorded") line += ", total as recorded";
      for (const Finding& finding : result.findings) {
        if (finding.code == "items_unanswered" || finding.code == "total_only" || finding.code == "sex_unknown_cutoff") line += "; " + finding.message;
      }
      group.lines.push_back(line);
    }
    groups.push_back(std::move(group));
  }
  for (const TrialMeasurement& trial : measurement.trials) {
    if (trial.trajectories.empty()) continue;
    MeasurementGroup group{fmt::format("Trial {} trajectory{}", trial.trial, trial.decided_by.empty() ? " (no scale decided the outcome)" : ""), {}};
    for (const ScaleTrajectory& trajectory : trial.trajectories) {
      std::string prefix = trajectory.scale_id == trial.decided_by ? "[decides] " : "";
      for (const Finding& finding : trajectory.findings) group.lines.push_back(prefix + finding.message);
    }
    groups.push_back(std::move(group));
  }
  if (!measurement.episode.empty() || !measurement.events.empty()) {
    MeasurementGroup group{"Current episode", {}};
    for (const ScaleTrajectory& trajectory : measurement.episode) {
      for (const Finding& finding : trajectory.findings) group.lines.push_back(finding.message);
    }
    for (const EpisodeEvent& event : measurement.events) group.lines.push_back(event.finding.message);
    groups.push_back(std::move(group));
  }
  if (!measurement.tachyphylaxis.empty()) {
    MeasurementGroup group{"Loss of response on the same drug", {}};
    for (const TachyphylaxisResult& found : measurement.tachyphylaxis) {
      group.lines.push_back(found.finding.message);
      for (const AlternativeExplanation& entry : found.alternatives) {
        group.lines.push_back(fmt::format("  {}: {}{}", entry.name, entry.status == "present" ? "PRESENT" : entry.status == "not_found" ? "not found" : "to be ruled out",
                                          entry.detail.empty() ? "" : " (" + entry.detail + ")"));
      }
    }
    groups.push_back(std::move(group));
  }
  if (measurement.daily_log) {
    const DailyLogSummary& log = *measurement.daily_log;
    MeasurementGroup group{fmt::format("Daily log, {} days to {}", log.window_days, FormatDate(log.to)), {}};
    for (const Finding& finding : log.findings) group.lines.push_back(finding.message);
    for (const DailyFieldSummary& field : log.fields) {
      if (field.entries == 0) continue;
      group.lines.push_back(fmt::format("  {}: mean {}, range {} to {}, {}", field.label, FormatNumber(*field.mean), FormatNumber(*field.min),
                                        FormatNumber(*field.max), field.trend == "too_few_entries" ? "trend not assessed" : field.trend));
    }
    for (const std::string& note : log.notes) group.lines.push_back("  note " + note);
    groups.push_back(std::move(group));
  }
  if (!measurement.findings.empty()) {
    MeasurementGroup group{"Other", {}};
    for (const Finding& finding : measurement.findings) group.lines.push_back(finding.message);
    groups.push_back(std::move(group));
  }
  return groups;
}

inline std::string PhenotypeText(const std::optional<Phenotype>& phenotype) {
  if (!phenotype) return "not tested";
  std::string text(PhenotypeKey(*phenotype));
  std::replace(text.begin(), text.end(), '_', ' ');
  return text == "indeterminate" ? text : text + " metabolizer";
}

/// The regimen-safety section (interactions, washouts, dose caps) as plain lines. Empty without a check.
inline std::vector<MeasurementGroup> RegimenGroups(const Assessment& assessment) {
  std::vector<MeasurementGroup> groups;
  if (!assessment.interactions) return groups;
  const InteractionReport& report = *assessment.interactions;
  MeasurementGroup summary{fmt::format("Regimen on {}: {} drug{} checked, {} finding{}", FormatDate(report.as_of), report.checked.size(),
                                       report.checked.size() == 1 ? "" : "s", report.findings.size(), report.findings.size() == 1 ? "" : "s"),
                           {}};
  for (const UnresolvedDrug& drug : report.unresolved) summary.lines.push_back(fmt::format("NOT CHECKED: {} ({})", drug.message, drug.origin));
  for (const std::string& note : report.notes) summary.lines.push_back(note);
  groups.push_back(std::move(summary));
  for (const InteractionFinding& finding : report.findings) {
    std::string title = fmt::format("{}{}: {}", InteractionSeverityName(finding.severity),
                                    finding.timing == InteractionTiming::Current ? std::string() : fmt::format(" ({})", InteractionTimingName(finding.timing)),
                                    finding.message);
    MeasurementGroup group{std::move(title), {}};
    if (!finding.mechanism.empty()) group.lines.push_back("why: " + finding.mechanism);
    if (!finding.action.empty()) group.lines.push_back("what to do: " + finding.action);
    if (finding.earliest_start) group.lines.push_back("earliest start: " + FormatDate(*finding.earliest_start));
    if (finding.overlap_from) {
      group.lines.push_back(fmt::format("overlap from {}{}", FormatDate(*finding.overlap_from),
                                        finding.overlap_until ? " to " + FormatDate(*finding.overlap_until) : std::string(" (continuing)")));
    }
    for (const std::string& factor : finding.factors) group.lines.push_back("factor: " + factor);
    for (const std::string& note : finding.notes) group.lines.push_back("note: " + note);
    group.lines.push_back(fmt::format("rule {}; sources {}", finding.rule, fmt::join(finding.sources, ", ")));
    groups.push_back(std::move(group));
  }
  return groups;
}

/// The pharmacogenomics section as plain lines: genes, effective phenotypes, guidance for the drugs in
/// the current regimen, ties to the trial history and any testing suggestion. Empty without a report.
inline std::vector<MeasurementGroup> PgxGroups(const Assessment& assessment) {
  std::vector<MeasurementGroup> groups;
  if (!assessment.pgx) return groups;
  const PgxReport& report = *assessment.pgx;
  MeasurementGroup genes{"Genotypes", {}};
  for (const GeneResult& gene : report.genes) {
    if (!gene.phenotype && !gene.phenoconverted) continue;
    std::string line = fmt::format("{}: {}{}", gene.gene, gene.diplotype.empty() ? std::string() : gene.diplotype + ", ", PhenotypeText(gene.phenotype));
    if (gene.phenoconverted) {
      std::vector<std::string> causes;
      for (const PhenoconversionCause& cause : gene.inhibitors) {
        if (cause.deciding) causes.push_back(fmt::format("{} ({} inhibitor)", cause.drug_name, InhibitorStrengthName(cause.strength)));
      }
      line += fmt::format("; effective phenotype {} because of {}", PhenotypeText(gene.effective_phenotype), fmt::join(causes, ", "));
    }
    genes.lines.push_back(line + fmt::format(" [{}]", gene.rule));
  }
  if (genes.lines.empty()) genes.lines.push_back("no genotype recorded");
  groups.push_back(std::move(genes));
  std::set<std::string> current;
  if (assessment.interactions) {
    for (const InvolvedDrug& drug : assessment.interactions->checked) current.insert(drug.drug_id);
  }
  MeasurementGroup guidance{"Guidance for the current regimen", {}};
  for (const DrugGuidance& drug : report.drugs) {
    if (current.count(drug.drug_id) == 0) continue;
    for (const GuidanceMatch& match : drug.cpic) {
      guidance.lines.push_back(fmt::format("{}: {} ({}, {}) [{}]", drug.drug_name, match.recommendation, GuidanceActionName(match.action),
                                           RecommendationStrengthName(match.strength), match.rule));
    }
    for (const LabelMatch& label : drug.label) guidance.lines.push_back(fmt::format("{} label: {} [{}]", drug.drug_name, label.text, label.statement));
  }
  if (!guidance.lines.empty()) groups.push_back(std::move(guidance));
  MeasurementGroup history{"Genotype and the trial history", {}};
  for (const Finding& finding : report.history) history.lines.push_back(fmt::format("{} [{}]", finding.message, finding.rule));
  if (report.testing) history.lines.push_back(fmt::format("{} [{}]", report.testing->message, report.testing->rule));
  if (!history.lines.empty()) groups.push_back(std::move(history));
  return groups;
}

/// "not_eligible" as "NOT ELIGIBLE".
inline std::string StatusWords(std::string_view key) {
  std::string out(key);
  for (char& character : out) character = character == '_' ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
  return out;
}

/// The clinician's "what next" as titled groups: drivers found or unknown, ranked options with their
/// reasons, and the monitoring checklists. Empty without next steps.
inline std::vector<MeasurementGroup> WhatNextGroups(const Assessment& assessment) {
  std::vector<MeasurementGroup> groups;
  if (!assessment.next_steps) return groups;
  const NextSteps& next = *assessment.next_steps;
  MeasurementGroup drivers{"Drivers of non-response (rule out before calling it resistance)", {}};
  MeasurementGroup ruled_out{"Drivers looked for and not found", {}};
  for (const DriverResult& driver : next.drivers) {
    if (driver.status == DriverStatus::NotFound) {
      ruled_out.lines.push_back(fmt::format("{} [{}]", driver.name, driver.rule));
      continue;
    }
    std::string line = fmt::format("{}: {}", StatusWords(DriverStatusName(driver.status)), driver.name);
    std::vector<std::string> evidence;
    for (const DatedFinding& item : driver.evidence) {
      evidence.push_back(item.finding.message + (item.date ? " (" + FormatDate(*item.date) + ")" : std::string()));
    }
    if (!evidence.empty()) line += fmt::format(": {}", fmt::join(evidence, "; "));
    if (driver.status == DriverStatus::Unknown) line += fmt::format(". To settle: {} {}", driver.question, driver.test);
    if (driver.status != DriverStatus::Unknown && !driver.often_next.empty()) line += fmt::format(". Often next: {}", fmt::join(driver.often_next, "; "));
    drivers.lines.push_back(line + fmt::format(" [{}]", driver.rule));
  }
  if (drivers.lines.empty()) drivers.lines.push_back("none found and none left unknown");
  groups.push_back(std::move(drivers));
  if (!ruled_out.lines.empty()) groups.push_back(std::move(ruled_out));
  groups.push_back(MeasurementGroup{"How the options are ordered", {next.ranking_rule.text}});
  for (const OptionResult& option : next.options) {
    MeasurementGroup group{fmt::format("{}. {}: {}", option.rank, option.name, StatusWords(OptionStatusName(option.status))), {}};
    if (!option.ranking.empty()) group.lines.push_back(option.ranking);
    for (const Finding& reason : option.reasons) group.lines.push_back(fmt::format("{} [{}]", reason.message, reason.rule));
    for (const CandidateResult& candidate : option.candidates) {
      std::vector<std::string> reasons;
      for (const Finding& reason : candidate.reasons) reasons.push_back(reason.message);
      group.lines.push_back(fmt::format("{}: {}{}", candidate.drug_name, OptionStatusName(candidate.status),
                                        reasons.empty() ? std::string() : fmt::format(" ({})", fmt::join(reasons, "; "))));
    }
    for (const Finding& position : option.guideline) group.lines.push_back("guideline: " + position.message);
    for (const Finding& remission : option.expected_remission) group.lines.push_back("expected remission: " + remission.message);
    groups.push_back(std::move(group));
  }
  for (const MonitoringResult& plan : next.monitoring) {
    MeasurementGroup group{fmt::format("Monitoring: {} ({} {}, from {})", plan.name, plan.basis == "current" ? "current" : "if started:",
                                       plan.treatment, FormatDate(plan.start)),
                           {}};
    for (const SessionStep& step : plan.session) group.lines.push_back(fmt::format("each session, minute {}: {}", step.minute, step.what));
    for (const MonitoringEntry& entry : plan.checklist) {
      group.lines.push_back(fmt::format("{} [{}] {}{}", FormatDate(entry.date), entry.timing, entry.what,
                                        entry.recorded_on ? " (recorded " + FormatDate(*entry.recorded_on) + ")" : std::string()));
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

inline std::string Escape(std::string_view text) {
  std::string out;
  for (const char character : text) {
    switch (character) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(character);
    }
  }
  return out;
}

}  // namespace refract::report_detail
