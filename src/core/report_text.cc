// SPDX-License-Identifier: Apache-2.0
// The text rendering of an assessment, alerts first.
#include "refract/core/report.h"

#include "refract/core/text.h"
#include "report_common.h"

#include <set>

#include <fmt/format.h>

namespace refract {
using namespace report_detail;


std::string RenderText(const Assessment& assessment, const EngineInfo& engine, bool color) {
  const auto bold = [&](const std::string& text) { return color ? "\033[1m" + text + "\033[0m" : text; };
  const auto red = [&](const std::string& text) { return color ? "\033[1;31m" + text + "\033[0m" : text; };
  std::string out;
  out += bold(fmt::format("refract assessment: patient {}, as of {}", assessment.patient_id, FormatDate(assessment.as_of))) + "\n";
  out += fmt::format("engine {} {} | KB {} ({}, {}) | criteria {}\n", engine.name, engine.version, assessment.kb_version,
                     assessment.kb_digest.substr(0, 19), assessment.kb_origin, assessment.criteria->id);
  out += "\n" + bold("ALERTS") + "\n";
  if (assessment.alerts.empty()) out += "  none\n";
  for (const Alert& alert : assessment.alerts) {
    const std::string tag = fmt::format("[{}]", AlertSeverityName(alert.severity));
    out += fmt::format("  {} {}\n      rule {}; sources {}\n", alert.severity == AlertSeverity::Info ? tag : red(tag),
                       alert.finding.message, alert.finding.rule, fmt::join(alert.finding.sources, ", "));
  }
  const TrdAssessment& trd = assessment.trd;
  out += "\n" + bold(fmt::format("TRD: {}", TrdHeadline(trd))) +
         fmt::format("  ({} failed adequate antidepressant trial{} counted, {} required; rule {})\n", trd.failed_adequate_trials,
                     trd.failed_adequate_trials == 1 ? "" : "s", trd.required, trd.rule);
  for (const Finding& finding : trd.findings) out += fmt::format("  - {}\n", finding.message);
  for (const Finding& finding : assessment.findings) out += fmt::format("  - {}\n", finding.message);

  out += "\n" + bold("TRIALS") + fmt::format(" (criteria {}: {})\n", assessment.criteria->id, assessment.criteria->name);
  if (assessment.trials.empty()) out += "  no medication courses recorded\n";
  for (const TrialAssessment& trial : assessment.trials) {
    const std::string name = trial.input_name == trial.drug->inn ? trial.drug->inn : fmt::format("{} (\"{}\")", trial.drug->inn, trial.input_name);
    out += fmt::format("  {}. {} | {} | {} episode | {}\n", trial.index, bold(name), RoleText(trial), EpisodePlacementName(trial.episode),
                       Dates(trial));
    if (!trial.drug->dose_expressed_as.empty()) out += fmt::format("     doses are {}\n", trial.drug->dose_expressed_as);
    out += fmt::format("     highest dose {} mg/day (minimum adequate {} mg/day) | {} weeks at or above it (need {}) | adherence {}\n",
                       trial.max_dose_mg_per_day ? FormatNumber(*trial.max_dose_mg_per_day) : "?",
                       trial.min_adequate_dose_mg_per_day ? FormatNumber(*trial.min_adequate_dose_mg_per_day) : "?", Weeks(trial),
                       FormatNumber(trial.required_days / 7.0), AdherenceName(trial.adherence));
    out += fmt::format("     adequacy: {} | outcome: {}{} | counts as failed: {}\n", bold(std::string(AdequacyName(trial.adequacy))),
                       OutcomeName(trial.outcome),
                       trial.improvement_percent ? fmt::format(" ({}% improvement)", FormatNumber(*trial.improvement_percent)) : "",
                       Failed(trial.failed));
    for (const Finding& finding : trial.adequacy_reasons) out += fmt::format("       - {} [{}]\n", finding.message, finding.rule);
    for (const Finding& finding : trial.findings) out += fmt::format("       - {} [{}]\n", finding.message, finding.rule);
  }
  if (!assessment.procedures.empty()) {
    out += "\n" + bold("PROCEDURES") + "\n";
    for (const ProcedureAssessment& procedure : assessment.procedures) {
      out += fmt::format("  {}. {}{} | {} episode | from {}{} | outcome {} | failed: {}\n", procedure.index, procedure.kind,
                         procedure.laterality.empty() ? "" : " (" + procedure.laterality + ")", EpisodePlacementName(procedure.episode),
                         FormatDate(procedure.start), procedure.sessions ? fmt::format(", {} sessions", *procedure.sessions) : "",
                         OutcomeName(procedure.outcome), Failed(procedure.failed));
      for (const Finding& finding : procedure.findings) out += fmt::format("       - {}\n", finding.message);
    }
  }
  for (const auto& [heading, section] : {std::pair{"REGIMEN SAFETY", RegimenGroups(assessment)}, std::pair{"PHARMACOGENOMICS", PgxGroups(assessment)}}) {
    if (section.empty()) continue;
    out += "\n" + bold(heading) + "\n";
    for (const MeasurementGroup& group : section) {
      out += fmt::format("  {}\n", group.title);
      for (const std::string& line : group.lines) out += fmt::format("     - {}\n", line);
    }
  }
  const auto groups = MeasurementGroups(assessment);
  if (!groups.empty()) {
    out += "\n" + bold("MEASUREMENT-BASED CARE") + "\n";
    for (const MeasurementGroup& group : groups) {
      out += fmt::format("  {}\n", group.title);
      for (const std::string& line : group.lines) out += fmt::format("     - {}\n", line);
    }
  }
  out += "\n" + bold("STAGING") + "\n";
  const auto block = [&](const std::string& title, const std::string& result, const StagingExplanation& explanation) {
    out += fmt::format("  {}: {}  [{}]\n", title, bold(result), explanation.rule);
    for (const std::string& line : explanation.computation) out += fmt::format("     - {}\n", line);
    for (const std::string& line : explanation.ambiguities) out += fmt::format("     ~ reading: {}\n", line);
  };
  block("Thase & Rush", assessment.thase_rush.label, assessment.thase_rush.explanation);
  block("European (Souery)", EuropeanLine(assessment.european), assessment.european.explanation);
  block("Maudsley", MaudsleyLine(assessment.maudsley), assessment.maudsley.explanation);
  block("MGH", FormatNumber(assessment.mgh.score), assessment.mgh.explanation);
  if (const auto next = WhatNextGroups(assessment); !next.empty()) {
    out += "\n" + bold("WHAT NEXT") + "\n";
    for (const MeasurementGroup& group : next) {
      out += fmt::format("  {}\n", group.title);
      for (const std::string& line : group.lines) out += fmt::format("     - {}\n", line);
    }
  }
  out += "\n" + bold("SOURCES") + "\n";
  for (const Source& source : assessment.cited_sources) {
    out += fmt::format("  {}: {}{}\n", source.id, source.citation, source.doi.empty() ? (source.url.empty() ? "" : " " + source.url) : " doi:" + source.doi);
  }
  out += "\nDecision support only: every verdict above names its rule; check it against the record before acting.\n";
  return out;
}

std::string RenderPatientText(const Assessment& assessment, const EngineInfo& engine) {
  if (!assessment.next_steps) return {};
  std::string out = fmt::format("Your depression care summary, {}\n\n", FormatDate(assessment.as_of));
  out += RenderNextStepsText(*assessment.next_steps, Audience::Patient);
  out += fmt::format("\n(Prepared by {} {} with knowledge base {}.)\n", engine.name, engine.version, assessment.kb_version);
  return out;
}

}  // namespace refract
