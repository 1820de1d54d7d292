// SPDX-License-Identifier: Apache-2.0
// The HTML rendering of an assessment: one self-contained, print-friendly page, alerts first.
#include "refract/core/report.h"

#include "refract/core/chart.h"
#include "refract/core/text.h"
#include "report_common.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace refract {

using namespace report_detail;

namespace {

// JSON inside a <script> element must never look like markup: every "<" is written as the JSON
// escape \u003c (the same JSON value), so patient text cannot close the element or open another.
std::string ScriptSafe(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char character : text) {
    if (character == '<') {
      out += "\\u003c";
    } else {
      out.push_back(character);
    }
  }
  return out;
}

}  // namespace

std::string RenderHtml(const Assessment& assessment, const EngineInfo& engine) { return RenderHtml(assessment, engine, HtmlChartScripts{}); }

std::string RenderHtml(const Assessment& assessment, const EngineInfo& engine, const HtmlChartScripts& scripts) {
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
.alert.critical{font-size:1.05rem}.chart{overflow-x:auto;margin:.4rem 0}.chart svg{max-width:100%;height:auto}
h3{font-size:1rem;margin:.9rem 0 .2rem}.present{color:#8a0015;font-weight:600}
@media print{body{margin:0;max-width:none}.alert,.status,.chart{-webkit-print-color-adjust:exact;print-color-adjust:exact}h2,h3{break-after:avoid}tr,.alert,.chart{break-inside:avoid}.chart{overflow:visible}}
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
  out += "</tbody></table></section>\n";
  // Timeline chart: the core's Vega-Lite spec drawn by the inlined libraries (no network needed).
  out += "<section aria-labelledby=\"timeline\"><h2 id=\"timeline\">Timeline</h2>\n";
  if (scripts.libraries.empty()) {
    out += "<p class=\"small\">The timeline chart is not included in this rendering (no chart libraries were built in).</p>\n";
  } else {
    out += "<p class=\"small\">Scale totals over time with severity bands, the remission threshold (green dashes) and each trial's response threshold "
           "(blue dots), above the treatments: dose steps, augmentation and procedures.</p>\n<div id=\"timeline-chart\" class=\"chart\"></div>\n";
  }
  out += "</section>\n";
  for (const auto& [heading, section] : {std::pair{"Regimen safety", RegimenGroups(assessment)}, std::pair{"Pharmacogenomics", PgxGroups(assessment)}}) {
    if (section.empty()) continue;
    out += fmt::format("<section><h2>{}</h2>\n", heading);
    for (const MeasurementGroup& group : section) {
      const bool severe = group.title.rfind("contraindicated", 0) == 0 || group.title.rfind("major", 0) == 0;
      out += fmt::format("<h3{}>{}</h3><ul>", severe ? " class=\"present\"" : "", Escape(group.title));
      for (const std::string& line : group.lines) out += fmt::format("<li>{}</li>", Escape(line));
      out += "</ul>\n";
    }
    out += "</section>\n";
  }
  const auto groups = MeasurementGroups(assessment);
  if (!groups.empty()) {
    out += "<section><h2>Measurement-based care</h2>\n";
    for (const MeasurementGroup& group : groups) {
      out += fmt::format("<h3>{}</h3><ul>", Escape(group.title));
      for (const std::string& line : group.lines) {
        const bool present = line.find(": PRESENT") != std::string::npos;
        out += fmt::format("<li{}>{}</li>", present ? " class=\"present\"" : "", Escape(line));
      }
      out += "</ul>\n";
    }
    out += "</section>\n";
  }
  if (const auto next = WhatNextGroups(assessment); !next.empty()) {
    out += "<section><h2>What next</h2>\n";
    for (const MeasurementGroup& group : next) {
      const bool flagged = group.title.find("NOT ELIGIBLE") != std::string::npos || group.title.rfind("Drivers of", 0) == 0;
      out += fmt::format("<h3{}>{}</h3><ul>", flagged ? " class=\"present\"" : "", Escape(group.title));
      for (const std::string& line : group.lines) out += fmt::format("<li>{}</li>", Escape(line));
      out += "</ul>\n";
    }
    out += "</section>\n";
  }
  out += "<section><h2>Sources</h2><ul class=\"small\">";
  for (const Source& source : assessment.cited_sources) {
    out += fmt::format("<li><span class=\"rule\">{}</span>: {}{}</li>", Escape(source.id), Escape(source.citation),
                       source.doi.empty() ? (source.url.empty() ? "" : " " + Escape(source.url)) : " doi:" + Escape(source.doi));
  }
  out += "</ul><p class=\"small\">Decision support only: every verdict names its rule; check it against the record before acting.</p></section>\n";
  if (!scripts.libraries.empty()) {
    for (const std::string_view library : scripts.libraries) {
      out += "<script>";
      out += library;
      out += "</script>\n";
    }
    out += "<script type=\"application/json\" id=\"timeline-spec\">" + ScriptSafe(TimelineChartSpec(assessment).dump()) + "</script>\n";
    out += R"(<script>
(function () {
  var target = document.getElementById('timeline-chart');
  try {
    var spec = JSON.parse(document.getElementById('timeline-spec').textContent);
    vegaEmbed(target, spec, {renderer: 'svg', actions: false}).catch(function (error) {
      target.textContent = 'The timeline chart could not be drawn: ' + error.message;
    });
  } catch (error) {
    target.textContent = 'The timeline chart could not be drawn: ' + error.message;
  }
})();
</script>
)";
  }
  out += "</body></html>\n";
  return out;
}

std::string RenderPatientHtml(const Assessment& assessment, const EngineInfo& engine) {
  if (!assessment.next_steps) return {};
  const PatientSummary& summary = assessment.next_steps->patient;
  std::string emergency = summary.emergency;
  if (!emergency.empty()) emergency[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(emergency[0])));
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Your depression care summary</title>\n";
  out += R"(<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem auto;max-width:40rem;color:#1b1b1b;line-height:1.55;padding:0 1rem;font-size:1.05rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:1.5rem}li{margin:.3rem 0}
.crisis{border-left:6px solid #b00020;background:#fde8eb;padding:.7rem 1rem;border-radius:4px;font-weight:600}
.note{color:#444;font-size:.9rem}
@media print{.crisis{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
</style></head><body>
)";
  out += fmt::format("<h1>Your depression care summary</h1><p class=\"note\">{}</p>\n", FormatDate(assessment.as_of));
  if (summary.suicide_alert) {
    out += fmt::format("<p class=\"crisis\" role=\"alert\">{} {} {}. {}.</p>\n", Escape(summary.suicide_message), Escape(summary.crisis_intro),
                       Escape(summary.crisis_line), Escape(emergency));
  }
  const bool other_critical = std::any_of(assessment.next_steps->alerts.begin(), assessment.next_steps->alerts.end(),
                                          [](const Alert& alert) { return alert.finding.code != "suicide_risk"; });
  if (other_critical) {
    out += "<p class=\"crisis\">Important: your care team's assessment found something in your medicines that needs their attention soon. "
           "Please contact them; do not stop any medicine on your own.</p>\n";
  }
  out += fmt::format("<p>{}</p><p>{}</p>\n", Escape(summary.intro), Escape(summary.status));
  const auto list = [&out](const std::string& heading, const std::string& lead, const std::vector<std::string>& items) {
    out += fmt::format("<h2>{}</h2>", Escape(heading));
    if (!lead.empty()) out += fmt::format("<p>{}</p>", Escape(lead));
    if (!items.empty()) {
      out += "<ul>";
      for (const std::string& item : items) out += fmt::format("<li>{}</li>", Escape(item));
      out += "</ul>";
    }
    out += "\n";
  };
  list(summary.why_heading, summary.why_general, summary.why);
  list(summary.options_heading, "", summary.options);
  list(summary.questions_heading, "", summary.questions);
  out += fmt::format("<p>{}</p>\n", Escape(summary.safety));
  out += fmt::format("<h2>{}</h2><p class=\"crisis\">{} {}. {}.</p>\n", Escape(summary.crisis_heading), Escape(summary.crisis_intro),
                     Escape(summary.crisis_line), Escape(emergency));
  out += fmt::format("<p class=\"note\">Prepared by {} {} with knowledge base {}.</p>\n</body></html>\n",
                     Escape(engine.name), Escape(engine.version), Escape(assessment.kb_version));
  return out;
}

}  // namespace refract
