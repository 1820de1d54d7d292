// SPDX-License-Identifier: Apache-2.0
// Text and HTML renderings of an assessment. Both lead with the alerts.
#include "refract/core/report.h"

#include "refract/core/text.h"

#include <set>

#include <fmt/format.h>

namespace refract {
namespace {

std::string Dates(const TrialAssessment& trial) {
  const std::string end = trial.end ? FormatDate(*trial.end) : trial.ongoing ? "ongoing" : "end?";
  return FormatDate(trial.start) + " to " + end;
}

std::string Weeks(const TrialAssessment& trial) {
  if (!trial.days_at_adequate_dose) return "?";
  return fmt::format("{}{}", trial.days_at_adequate_dose_is_lower_bound ? ">=" : "",
                     FormatNumber(static_cast<double>(*trial.days_at_adequate_dose * 10 / 7) / 10.0));
}

std::string RoleText(const TrialAssessment& trial) {
  if (trial.drug->counts_as == CountsAs::Augmentation) return "augmenting agent";
  return fmt::format("antidepressant, {}", CourseRoleName(trial.role));
}

std::string Failed(const std::optional<bool>& failed) {
  if (!failed) return "unknown";
  return *failed ? "yes" : "no";
}

std::string TrdHeadline(const TrdAssessment& trd) {
  switch (trd.status) {
    case TrdStatus::Meets: return "MEETS TRD CRITERIA";
    case TrdStatus::DoesNotMeet: return "DOES NOT MEET TRD CRITERIA";
    case TrdStatus::Indeterminate: return "TRD STATUS INDETERMINATE";
    case TrdStatus::NotApplicable: return "TRD CRITERIA NOT APPLICABLE";
  }
  return "";
}

std::string MaudsleyLine(const MaudsleyResult& maudsley) {
  if (!maudsley.applicable) return "not applicable (no failed adequate trial)";
  if (!maudsley.total) return fmt::format("incomplete (between {} and {})", *maudsley.possible_min, *maudsley.possible_max);
  return fmt::format("{} of 15 ({})", *maudsley.total, maudsley.band);
}

std::string EuropeanLine(const EuropeanResult& european) {
  if (european.category == "none") return "not staged (no failed adequate trial)";
  std::string category = european.category;
  for (char& character : category) character = static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
  return fmt::format("{} ({} failed trial{}, {} weeks)", european.category == "nonresponder" ? "nonresponder" : category,
                     european.failed_trials, european.failed_trials == 1 ? "" : "s", FormatNumber(european.total_weeks));
}

std::string Escape(std::string_view text) {
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

}  // namespace

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
  out += "\n" + bold("SOURCES") + "\n";
  for (const Source& source : assessment.cited_sources) {
    out += fmt::format("  {}: {}{}\n", source.id, source.citation, source.doi.empty() ? (source.url.empty() ? "" : " " + source.url) : " doi:" + source.doi);
  }
  out += "\nDecision support only: every verdict above names its rule; check it against the record before acting.\n";
  return out;
}

std::string RenderHtml(const Assessment& assessment, const EngineInfo& engine) {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  out += fmt::format("<title>refract assessment {}</title>\n", Escape(assessment.patient_id));
  out += R"(<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;color:#1b1b1b;line-height:1.4;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;border-bottom:2px solid #ccc;padding-bottom:.2rem;margin-top:1.6rem}
.meta{color:#555;font-size:.85rem}
.alert{border-left:6px solid;padding:.5rem .8rem;margin:.4rem 0;border-radius:3px}
.alert.critical{border-color:#b00020;background:#fde8eb}.alert.warning{border-color:#b36b00;background:#fff4e0}.alert.info{border-color:#1565c0;background:#e8f1fc}
.status{font-size:1.2rem;font-weight:700;padding:.6rem .8rem;border-radius:4px;display:inline-block}
.meets{background:#fde8eb;color:#8a0015}.does_not_meet{background:#e7f5ea;color:#1b5e20}.indeterminate{background:#fff4e0;color:#7a4a00}.not_applicable{background:#eceff1;color:#37474f}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.4rem 0}th,td{border:1px solid #ccc;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.adequate{color:#1b5e20;font-weight:600}.inadequate{color:#8a0015;font-weight:600}
ul{margin:.2rem 0 .2rem 1.1rem;padding:0}.small{font-size:.8rem;color:#555}.rule{font-family:ui-monospace,monospace;font-size:.78rem;color:#555}
@media print{body{margin:0;max-width:none}.alert,.status{-webkit-print-color-adjust:exact;print-color-adjust:exact}h2{break-after:avoid}tr{break-inside:avoid}}
</style></head><body>
)";
  out += fmt::format("<h1>TRD assessment: patient {}</h1>\n", Escape(assessment.patient_id));
  out += fmt::format("<p class=\"meta\">As of {} &middot; engine {} {} &middot; KB {} <span class=\"rule\">{}</span> ({}) &middot; criteria {}</p>\n",
                     FormatDate(assessment.as_of), Escape(engine.name), Escape(engine.version), Escape(assessment.kb_version),
                     Escape(assessment.kb_digest), Escape(assessment.kb_origin), Escape(assessment.criteria->id));
  out += "<section aria-labelledby=\"alerts\"><h2 id=\"alerts\">Alerts</h2>\n";
  if (assessment.alerts.empty()) out += "<p>No alerts.</p>\n";
  for (const Alert& alert : assessment.alerts) {
    out += fmt::format("<div class=\"alert {}\" role=\"alert\"><strong>{}</strong>: {} <span class=\"rule\">[{}]</span></div>\n",
                       AlertSeverityName(alert.severity), AlertSeverityName(alert.severity), Escape(alert.finding.message),
                       Escape(alert.finding.rule));
  }
  out += "</section>\n";
  const TrdAssessment& trd = assessment.trd;
  out += "<section><h2>Treatment-resistant depression</h2>\n";
  out += fmt::format("<p><span class=\"status {}\">{}</span> <span class=\"small\">{} failed adequate antidepressant trial(s) counted, "
                     "{} required &middot; <span class=\"rule\">{}</span></span></p>\n<ul>",
                     TrdStatusName(trd.status), TrdHeadline(trd), trd.failed_adequate_trials, trd.required, Escape(trd.rule));
  for (const Finding& finding : trd.findings) out += fmt::format("<li>{}</li>", Escape(finding.message));
  for (const Finding& finding : assessment.findings) out += fmt::format("<li>{}</li>", Escape(finding.message));
  out += "</ul></section>\n";
  out += fmt::format("<section><h2>Trials</h2><p class=\"small\">Criteria {}: {}</p>\n", Escape(assessment.criteria->id),
                     Escape(assessment.criteria->description));
  out += "<table><thead><tr><th>#</th><th>Drug</th><th>Role</th><th>Episode</th><th>Dates</th><th>Highest dose (min adequate)</th>"
         "<th>Weeks at adequate dose (need)</th><th>Adherence</th><th>Adequacy</th><th>Outcome</th><th>Failed</th></tr></thead><tbody>\n";
  for (const TrialAssessment& trial : assessment.trials) {
    out += fmt::format(
        "<tr><td>{}</td><td><strong>{}</strong>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({}) mg/day</td><td>{} ({})</td><td>{}</td>"
        "<td class=\"{}\">{}</td><td>{}{}</td><td>{}</td></tr>\n",
        trial.index, Escape(trial.drug->inn), trial.input_name == trial.drug->inn ? "" : "<br><span class=\"small\">entered as " + Escape(trial.input_name) + "</span>",
        RoleText(trial), EpisodePlacementName(trial.episode), Escape(Dates(trial)),
        trial.max_dose_mg_per_day ? FormatNumber(*trial.max_dose_mg_per_day) : "?",
        trial.min_adequate_dose_mg_per_day ? FormatNumber(*trial.min_adequate_dose_mg_per_day) : "?", Escape(Weeks(trial)),
        FormatNumber(trial.required_days / 7.0), AdherenceName(trial.adherence), AdequacyName(trial.adequacy), AdequacyName(trial.adequacy),
        OutcomeName(trial.outcome), trial.improvement_percent ? fmt::format(" ({}%)", FormatNumber(*trial.improvement_percent)) : "",
        Failed(trial.failed));
    std::string reasons;
    if (!trial.drug->dose_expressed_as.empty()) reasons += "<li>doses are " + Escape(trial.drug->dose_expressed_as) + "</li>";
    for (const Finding& finding : trial.adequacy_reasons) reasons += fmt::format("<li>{} <span class=\"rule\">[{}]</span></li>", Escape(finding.message), Escape(finding.rule));
    for (const Finding& finding : trial.findings) reasons += fmt::format("<li>{} <span class=\"rule\">[{}]</span></li>", Escape(finding.message), Escape(finding.rule));
    if (!reasons.empty()) out += fmt::format("<tr><td></td><td colspan=\"10\"><ul>{}</ul></td></tr>\n", reasons);
  }
  out += "</tbody></table></section>\n";
  if (!assessment.procedures.empty()) {
    out += "<section><h2>Procedures</h2><table><thead><tr><th>#</th><th>Kind</th><th>Episode</th><th>Start</th><th>Sessions</th><th>Outcome</th><th>Failed</th></tr></thead><tbody>\n";
    for (const ProcedureAssessment& procedure : assessment.procedures) {
      out += fmt::format("<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", procedure.index,
                         Escape(procedure.kind), procedure.laterality.empty() ? "" : " (" + Escape(procedure.laterality) + ")",
                         EpisodePlacementName(procedure.episode), FormatDate(procedure.start),
                         procedure.sessions ? std::to_string(*procedure.sessions) : "?", OutcomeName(procedure.outcome), Failed(procedure.failed));
    }
    out += "</tbody></table></section>\n";
  }
  out += "<section><h2>Staging</h2><table><thead><tr><th>Model</th><th>Result</th><th>How it was computed</th><th>Reading where the model is ambiguous</th></tr></thead><tbody>\n";
  const auto row = [&](const std::string& title, const std::string& result, const StagingExplanation& explanation) {
    std::string computation;
    for (const std::string& line : explanation.computation) computation += "<li>" + Escape(line) + "</li>";
    std::string ambiguities;
    for (const std::string& line : explanation.ambiguities) ambiguities += "<li>" + Escape(line) + "</li>";
    out += fmt::format("<tr><td>{}<br><span class=\"rule\">{}</span></td><td><strong>{}</strong></td><td><ul>{}</ul></td><td class=\"small\"><ul>{}</ul></td></tr>\n",
                       Escape(title), Escape(explanation.rule), Escape(result), computation, ambiguities);
  };
  row("Thase & Rush", assessment.thase_rush.label, assessment.thase_rush.explanation);
  row("European (Souery)", EuropeanLine(assessment.european), assessment.european.explanation);
  row("Maudsley", MaudsleyLine(assessment.maudsley), assessment.maudsley.explanation);
  row("MGH", FormatNumber(assessment.mgh.score), assessment.mgh.explanation);
  out += "</tbody></table></section>\n<section><h2>Sources</h2><ul class=\"small\">";
  for (const Source& source : assessment.cited_sources) {
    out += fmt::format("<li><span class=\"rule\">{}</span>: {}{}</li>", Escape(source.id), Escape(source.citation),
                       source.doi.empty() ? (source.url.empty() ? "" : " " + Escape(source.url)) : " doi:" + Escape(source.doi));
  }
  out += "</ul><p class=\"small\">Decision support only: every verdict names its rule; check it against the record before acting.</p></section>\n</body></html>\n";
  return out;
}

}  // namespace refract
