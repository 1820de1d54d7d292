// SPDX-License-Identifier: Apache-2.0
// Interaction findings as alerts, JSON and text.
#include <algorithm>

#include <fmt/format.h>

#include "refract/core/interactions.h"
#include "refract/core/text.h"

namespace refract {

namespace {

nlohmann::json OptDate(const std::optional<Date>& date) { return date ? nlohmann::json(FormatDate(*date)) : nlohmann::json(nullptr); }

nlohmann::json DrugJson(const InvolvedDrug& drug) {
  return nlohmann::json{{"drug", drug.drug_id},
                        {"drug_name", drug.inn},
                        {"input_name", drug.input_name},
                        {"origin", drug.origin},
                        {"start", OptDate(drug.start)},
                        {"end", OptDate(drug.end)},
                        {"ongoing", drug.ongoing},
                        {"proposed", drug.proposed},
                        {"mg_per_day", drug.mg_per_day ? nlohmann::json(*drug.mg_per_day) : nlohmann::json(nullptr)}};
}

std::string Upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char character) { return character >= 'a' && character <= 'z' ? static_cast<char>(character - 32) : character; });
  return out;
}

std::string DrugLine(const InvolvedDrug& drug) {
  std::string line = drug.inn;
  if (drug.input_name != drug.inn && !drug.input_name.empty()) line += fmt::format(" (\"{}\")", drug.input_name);
  if (drug.mg_per_day) line += fmt::format(" {} mg/day", FormatNumber(*drug.mg_per_day));
  if (drug.proposed) return line + ", proposed";
  if (drug.start) line += fmt::format(", from {}", FormatDate(*drug.start));
  if (drug.end) line += fmt::format(" to {}", FormatDate(*drug.end));
  if (drug.ongoing) line += ", ongoing";
  return line + fmt::format(" [{}]", drug.origin);
}

}  // namespace

std::vector<EnzymeInhibition> InhibitionsInRegimen(const InteractionKnowledge& knowledge, const Regimen& regimen, Date as_of) {
  std::vector<EnzymeInhibition> out;
  for (const RegimenEntry& entry : regimen.entries) {
    if (entry.drug == nullptr) continue;
    const bool active = entry.proposed || entry.ongoing || !entry.end || !(*entry.end < as_of);
    const std::vector<std::string> ids{entry.drug->id};
    for (EnzymeInhibition& inhibition : InhibitionsBy(knowledge, ids)) {
      const bool lasting = inhibition.persists_after_stop_days && entry.end && !(AddDays(*entry.end, *inhibition.persists_after_stop_days) < as_of);
      if (active || lasting) out.push_back(std::move(inhibition));
    }
  }
  std::sort(out.begin(), out.end(), [](const EnzymeInhibition& left, const EnzymeInhibition& right) {
    if (left.enzyme != right.enzyme) return left.enzyme < right.enzyme;
    if (left.strength != right.strength) return left.strength > right.strength;
    return left.drug_id < right.drug_id;
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const EnzymeInhibition& left, const EnzymeInhibition& right) {
                          return left.drug_id == right.drug_id && left.enzyme == right.enzyme;
                        }),
            out.end());
  return out;
}

std::vector<Alert> InteractionAlerts(const InteractionReport& report) {
  std::vector<Alert> out;
  for (const InteractionFinding& finding : report.findings) {
    if (finding.timing == InteractionTiming::Past) continue;
    AlertSeverity severity = AlertSeverity::Info;
    if (finding.severity == InteractionSeverity::Contraindicated) {
      severity = AlertSeverity::Critical;
    } else if (finding.severity == InteractionSeverity::Major) {
      severity = AlertSeverity::Warning;
    } else {
      continue;
    }
    out.push_back(Alert{severity, Finding{fmt::format("interaction_{}", InteractionSeverityName(finding.severity)),
                                          fmt::format("{}: {}. {}", InteractionSeverityName(finding.severity), finding.message, finding.action),
                                          finding.rule, finding.sources}});
  }
  for (const UnresolvedDrug& drug : report.unresolved) {
    out.push_back(Alert{AlertSeverity::Info, Finding{"interaction_unknown_drug", fmt::format("{} ({})", drug.message, drug.origin), "", {}}});
  }
  return out;
}

nlohmann::json InteractionsToJson(const InteractionKnowledge& knowledge, const InteractionReport& report) {
  nlohmann::json out = InteractionReportJson(report);
  nlohmann::json scale = nlohmann::json::array();
  for (const SeverityLevel& level : knowledge.severity_scale()) {
    nlohmann::json maps = nlohmann::json::object();
    for (const auto& [vendor, grade] : level.maps_to) maps[vendor] = grade;
    scale.push_back(nlohmann::json{{"level", InteractionSeverityName(level.severity)}, {"meaning", level.meaning}, {"alert", level.alert}, {"maps_to", std::move(maps)}});
  }
  out["severity_scale"] = nlohmann::json{{"rule", knowledge.severity_scale_id()}, {"levels", std::move(scale)}};
  return out;
}

nlohmann::json InteractionReportJson(const InteractionReport& report) {
  nlohmann::json findings = nlohmann::json::array();
  for (const InteractionFinding& finding : report.findings) {
    nlohmann::json drugs = nlohmann::json::array();
    for (const InvolvedDrug& drug : finding.drugs) drugs.push_back(DrugJson(drug));
    findings.push_back(nlohmann::json{{"rule", finding.rule},
                                      {"category", finding.category},
                                      {"code", finding.code},
                                      {"severity", InteractionSeverityName(finding.severity)},
                                      {"timing", InteractionTimingName(finding.timing)},
                                      {"message", finding.message},
                                      {"mechanism", finding.mechanism},
                                      {"action", finding.action},
                                      {"evidence", finding.evidence},
                                      {"drugs", std::move(drugs)},
                                      {"overlap", nlohmann::json{{"from", OptDate(finding.overlap_from)}, {"until", OptDate(finding.overlap_until)}}},
                                      {"earliest_start", OptDate(finding.earliest_start)},
                                      {"factors", finding.factors},
                                      {"notes", finding.notes},
                                      {"sources", finding.sources}});
  }
  nlohmann::json checked = nlohmann::json::array();
  for (const InvolvedDrug& drug : report.checked) checked.push_back(DrugJson(drug));
  nlohmann::json unresolved = nlohmann::json::array();
  for (const UnresolvedDrug& drug : report.unresolved) {
    unresolved.push_back(nlohmann::json{{"input_name", drug.input_name}, {"origin", drug.origin}, {"message", drug.message}});
  }
  return nlohmann::json{{"as_of", FormatDate(report.as_of)},
                        {"checked", std::move(checked)},
                        {"interactions", std::move(findings)},
                        {"unresolved", std::move(unresolved)},
                        {"notes", report.notes}};
}

std::string RenderInteractionsText(const InteractionReport& report) {
  std::string out = fmt::format("Interactions on {}: {} drug{} checked, {} finding{}\n", FormatDate(report.as_of), report.checked.size(),
                                report.checked.size() == 1 ? "" : "s", report.findings.size(), report.findings.size() == 1 ? "" : "s");
  for (const UnresolvedDrug& drug : report.unresolved) out += fmt::format("NOT CHECKED  {} [{}]\n", drug.message, drug.origin);
  for (const InteractionFinding& finding : report.findings) {
    out += fmt::format("\n{}{}  {}\n", Upper(InteractionSeverityName(finding.severity)),
                       finding.timing == InteractionTiming::Current ? std::string() : fmt::format(" ({})", InteractionTimingName(finding.timing)),
                       finding.message);
    out += fmt::format("  why:     {}\n", finding.mechanism);
    out += fmt::format("  do:      {}\n", finding.action);
    for (const InvolvedDrug& drug : finding.drugs) out += fmt::format("  drug:    {}\n", DrugLine(drug));
    if (finding.overlap_from || finding.overlap_until) {
      out += fmt::format("  overlap: {} to {}\n", finding.overlap_from ? FormatDate(*finding.overlap_from) : std::string("(no start recorded)"),
                         finding.overlap_until ? FormatDate(*finding.overlap_until) : std::string("ongoing"));
    }
    if (finding.earliest_start) out += fmt::format("  earliest start: {}\n", FormatDate(*finding.earliest_start));
    for (const std::string& factor : finding.factors) out += fmt::format("  factor:  {}\n", factor);
    for (const std::string& note : finding.notes) out += fmt::format("  note:    {}\n", note);
    out += fmt::format("  rule:    {} ({}; evidence: {})\n", finding.rule, finding.category, finding.evidence);
    out += fmt::format("  sources: {}\n", fmt::join(finding.sources, ", "));
  }
  for (const std::string& note : report.notes) out += fmt::format("\nnote: {}\n", note);
  if (report.findings.empty() && report.unresolved.empty()) out += "No interaction found by the KB rules for these drugs.\n";
  return out;
}

}  // namespace refract
