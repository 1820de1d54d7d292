// SPDX-License-Identifier: Apache-2.0
// `refract score SCALE ITEMS...`: a quick score of one rating-scale administration.
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "refract/app/app.h"
#include "refract/core/mbc.h"
#include "refract/core/scales.h"
#include "refract/core/text.h"

namespace refract::cli {
namespace {

struct ScoreArgs {
  std::string scale;
  std::vector<std::string> items;
  std::string format;
  std::string sex;
  std::string date;
  std::string locale;
  std::string kb_dir;
};

int RunScore(const ScoreArgs& args) {
  auto kb = app::LoadKb(KbDir(args.kb_dir));
  if (!kb) return Report(kb.error());
  auto scale = FindScale(*kb, args.scale);
  if (!scale) return Report(Error{scale.error().code, scale.error().message, "SCALE"});
  std::vector<std::optional<int>> items;
  for (std::size_t item_idx = 0; item_idx < args.items.size(); ++item_idx) {
    const std::string& text = args.items[item_idx];
    if (text == "-" || text == "null") {
      items.emplace_back(std::nullopt);
      continue;
    }
    std::size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size()) {
      return Report(Error{ErrorCode::InvalidInput,
                          fmt::format("item {} is \"{}\": expected a whole number, or - for an unanswered item", item_idx + 1, text), "ITEMS"});
    }
    items.emplace_back(value);
  }
  if (const auto problem = CheckScaleInput(*scale, items, std::nullopt)) return Report(Error{ErrorCode::InvalidInput, problem->message, "ITEMS"});
  Date date = app::Today();
  if (!args.date.empty()) {
    const auto parsed = ParseDate(args.date);
    if (!parsed) return Report(Error{ErrorCode::InvalidInput, fmt::format("\"{}\" is not a valid date (expected YYYY-MM-DD)", args.date), "--date"});
    date = *parsed;
  }

  // Score through the same path as `assess`, so the alerts read exactly as in a report.
  PatientRecord patient;
  patient.id = "score";
  patient.sex = args.sex;
  patient.scales.push_back(ScaleAdministration{0, scale->id, date, items, std::nullopt, ""});
  const MbcContext context = PrepareMeasurement(*kb, patient, date);
  Assessment assessment;
  assessment.as_of = date;
  const std::vector<Alert> alerts = MeasurementAlerts(context, assessment, args.locale, std::nullopt);
  const ScaleResult& result = context.results.front();
  const ScaleScore& score = context.scores.front();

  if (args.format == "json") {
    nlohmann::json alert_json = nlohmann::json::array();
    for (const Alert& alert : alerts) {
      alert_json.push_back({{"severity", AlertSeverityName(alert.severity)}, {"code", alert.finding.code}, {"message", alert.finding.message},
                            {"rule", alert.finding.rule}, {"sources", alert.finding.sources}});
    }
    nlohmann::json notes = nlohmann::json::array();
    for (const ScaleNote& note : score.notes) notes.push_back({{"code", note.code}, {"message", note.message}});
    nlohmann::json domains = nlohmann::json::array();
    for (const DomainScore& domain : score.domains) domains.push_back({{"domain", domain.name}, {"score", domain.score ? nlohmann::json(*domain.score) : nlohmann::json(nullptr)}});
    const nlohmann::json out{
        {"scale", scale->id},
        {"short_name", scale->short_name},
        {"date", FormatDate(date)},
        {"items", args.items.size()},
        {"complete", score.complete},
        {"total", score.total ? nlohmann::json(static_cast<long long>(*score.total)) : nlohmann::json(nullptr)},
        {"band", result.band.empty() ? nlohmann::json(nullptr) : nlohmann::json(result.band)},
        {"screen", {{"result", result.screen}, {"name", result.screen_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(result.screen_name)},
                    {"rule", score.screen_rule.empty() ? nlohmann::json(nullptr) : nlohmann::json(score.screen_rule)}}},
        {"risk_tier", score.risk_tier.empty() ? nlohmann::json(nullptr) : nlohmann::json(score.risk_tier)},
        {"domains", domains},
        {"loinc", {{"panel", scale->loinc_panel.empty() ? nlohmann::json(nullptr) : nlohmann::json(scale->loinc_panel)},
                   {"total", scale->loinc_total.empty() ? nlohmann::json(nullptr) : nlohmann::json(scale->loinc_total)}}},
        {"alerts", alert_json},
        {"notes", notes},
        {"kb_version", kb->version()}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  // Alerts first, as in every refract output.
  for (const Alert& alert : alerts) std::cout << fmt::format("[{}] {}\n", AlertSeverityName(alert.severity), alert.finding.message);
  std::cout << fmt::format("{} ({}) on {}: ", scale->short_name, scale->id, FormatDate(date));
  if (score.total) {
    std::cout << fmt::format("total {}", FormatNumber(*score.total));
    if (!result.band.empty()) std::cout << fmt::format(" ({})", result.band);
  } else if (scale->method == ScoringMethod::None) {
    std::cout << "no total (this scale has none)";
  } else {
    std::cout << "no total";
  }
  std::cout << "\n";
  if (score.screen != ScreenResult::NotApplicable) {
    std::cout << fmt::format("screen: {} for {}{}\n", result.screen, result.screen_name, score.screen_rule.empty() ? "" : " (" + score.screen_rule + ")");
  }
  if (!score.risk_tier.empty()) std::cout << fmt::format("risk tier: {}\n", score.risk_tier);
  for (const DomainScore& domain : score.domains) {
    std::cout << fmt::format("  {}: {}\n", domain.name, domain.score ? std::to_string(*domain.score) : "?");
  }
  for (const ScaleNote& note : score.notes) std::cout << fmt::format("note: {}\n", note.message);
  return 0;
}

void AddScore(CLI::App& app, std::vector<Handler>& handlers) {
  static ScoreArgs args;
  auto* score = app.add_subcommand("score", "score one rating-scale administration (PHQ-9, GAD-7, QIDS-SR16, HAM-D17, MADRS, C-SSRS, ...)");
  score->add_option("scale", args.scale, "scale id or name: phq9, gad7, qids_sr16, hamd17, madrs, cssrs_screener, mdq, pc_ptsd5, asrs_a, audit_c, stop_bang")
      ->required();
  score->add_option("items", args.items, "item values in scale order; - marks an unanswered item")->required();
  score->add_option("--format", args.format, "text (default) or json")->check(CLI::IsMember({"text", "json"}))->default_val("text");
  score->add_option("--sex", args.sex, "female or male, for sex-specific cut-offs (AUDIT-C)")->check(CLI::IsMember({"female", "male"}));
  score->add_option("--date", args.date, "date of the answers YYYY-MM-DD (default: today)");
  score->add_option("--locale", args.locale, "country code for the crisis line (default: the KB's, US)");
  score->add_option("--kb", args.kb_dir, "load the knowledge base from this directory instead of the built-in one");
  handlers.push_back(Handler{score, [] { return RunScore(args); }});
}

const RegisterCommands kRegister{&AddScore};

}  // namespace
}  // namespace refract::cli
