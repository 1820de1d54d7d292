// SPDX-License-Identifier: Apache-2.0
// `refract check`: interactions of a regimen (what if I add a drug?); `refract naranjo`: ADR causality.
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "refract/app/app.h"
#include "refract/core/interactions.h"
#include "refract/core/mbc.h"
#include "refract/core/naranjo.h"

namespace refract::cli {
namespace {

struct CheckArgs {
  std::vector<std::string> drugs;
  std::string with;
  std::string adding;
  double dose = 0;
  std::string as_of;
  std::string format;
  std::string kb_dir;
};

struct NaranjoArgs {
  std::vector<std::string> answers;
  std::string with;
  std::string format;
  std::string kb_dir;
};

Result<Date> AsOf(const std::string& text) {
  if (text.empty()) return app::Today();
  const auto parsed = ParseDate(text);
  if (!parsed) return Fail(ErrorCode::InvalidInput, fmt::format("\"{}\" is not a valid date (expected YYYY-MM-DD)", text), "--as-of");
  return *parsed;
}

Result<PatientRecord> ReadPatient(const KnowledgeBase& kb, const std::string& path) {
  auto text = app::ReadFile(path);
  if (!text) return tl::unexpected(text.error());
  auto json = app::ParseJsonText(*text, path);
  if (!json) return tl::unexpected(json.error());
  return app::Parser().Parse(kb, *json, path);
}

nlohmann::json EngineJson(const KnowledgeBase& kb) {
  return nlohmann::json{{"name", app::Engine().name}, {"version", app::Engine().version}, {"kb_version", kb.version()},
                        {"kb_digest", kb.digest()}, {"kb_source", kb.origin()}};
}

bool WantsJson(const std::string& format) { return format == "json" || (format.empty() && !StdoutIsTerminal()); }

// What leads the output, as in `assess`: the record's suicide-risk signals first, then the regimen's
// contraindicated and major findings.
std::vector<Alert> CheckAlerts(const KnowledgeBase& kb, const PatientRecord* patient, const InteractionReport& report, Date as_of) {
  std::vector<Alert> alerts;
  if (patient != nullptr) {
    const MbcContext context = PrepareMeasurement(kb, *patient, as_of);
    Assessment assessment;
    assessment.as_of = as_of;
    for (Alert& alert : MeasurementAlerts(context, assessment, "", patient->episode_start)) {
      if (alert.finding.code.rfind("suicide", 0) == 0) alerts.push_back(std::move(alert));
    }
  }
  for (Alert& alert : InteractionAlerts(report)) alerts.push_back(std::move(alert));
  std::stable_sort(alerts.begin(), alerts.end(), [](const Alert& left, const Alert& right) { return left.severity < right.severity; });
  return alerts;
}

nlohmann::json AlertsJson(const std::vector<Alert>& alerts) {
  nlohmann::json out = nlohmann::json::array();
  for (const Alert& alert : alerts) {
    out.push_back(nlohmann::json{{"severity", AlertSeverityName(alert.severity)}, {"code", alert.finding.code}, {"message", alert.finding.message},
                                 {"rule", alert.finding.rule}, {"sources", alert.finding.sources}});
  }
  return out;
}

std::string AlertsText(const std::vector<Alert>& alerts) {
  if (alerts.empty()) return {};
  std::string out = "ALERTS\n";
  for (const Alert& alert : alerts) {
    out += fmt::format("  [{}] {}\n      rule {}; sources {}\n", AlertSeverityName(alert.severity), alert.finding.message,
                       alert.finding.rule.empty() ? std::string("-") : alert.finding.rule, fmt::join(alert.finding.sources, ", "));
  }
  return out + "\n";
}

int RunCheck(const CheckArgs& args, bool dose_given) {
  if (args.drugs.empty() && args.with.empty() && args.adding.empty()) {
    std::cerr << "refract: error: give drugs, --with PATIENT.json or --adding DRUG\n";
    return kExitUsage;
  }
  const auto as_of = AsOf(args.as_of);
  if (!as_of) return Report(as_of.error());
  auto kb = app::LoadKb(KbDir(args.kb_dir));
  if (!kb) return Report(kb.error());
  auto knowledge = LoadInteractionKnowledge(*kb);
  if (!knowledge) return Report(knowledge.error());
  Regimen regimen;
  std::optional<PatientRecord> patient;
  if (!args.with.empty()) {
    auto read = ReadPatient(*kb, args.with);
    if (!read) return Report(read.error());
    patient = std::move(*read);
    regimen = RegimenFromPatient(*kb, *patient, *as_of);
  }
  Regimen listed = RegimenFromNames(*kb, args.drugs);
  regimen.entries.insert(regimen.entries.end(), listed.entries.begin(), listed.entries.end());
  if (!args.adding.empty()) {
    auto drug = kb->ResolveDrug(args.adding);
    if (!drug) return Report(Error{drug.error().code, drug.error().message, "--adding"});
    AddProposed(regimen, **drug, args.adding, dose_given ? std::optional<double>(args.dose) : std::nullopt);
  } else if (dose_given) {
    return Report(Error{ErrorCode::InvalidInput, "--dose needs --adding (the dose of the proposed drug)", "--dose"});
  }
  const InteractionReport report = CheckRegimen(*knowledge, regimen, *as_of);
  const std::vector<Alert> alerts = CheckAlerts(*kb, patient ? &*patient : nullptr, report, *as_of);
  if (WantsJson(args.format)) {
    nlohmann::json out = InteractionsToJson(*knowledge, report);
    out["alerts"] = AlertsJson(alerts);
    out["engine"] = EngineJson(*kb);
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << AlertsText(alerts) << RenderInteractionsText(report);
  std::cout << fmt::format("\n{} {}; kb_version {} {} ({})\n", app::Engine().name, app::Engine().version, kb->version(), kb->digest(), kb->origin());
  return 0;
}

int RunNaranjo(const NaranjoArgs& args) {
  if (args.answers.empty() && args.with.empty()) {
    std::cerr << "refract: error: give answers as KEY=yes|no|unknown, or --with PATIENT.json\n";
    return kExitUsage;
  }
  auto kb = app::LoadKb(KbDir(args.kb_dir));
  if (!kb) return Report(kb.error());
  auto scale = LoadNaranjoScale(*kb);
  if (!scale) return Report(scale.error());
  const bool json = WantsJson(args.format);
  nlohmann::json out{{"engine", EngineJson(*kb)}};
  std::string text;
  if (!args.answers.empty()) {
    std::vector<std::pair<std::string, std::string>> answers;
    for (const std::string& token : args.answers) {
      const std::size_t equals = token.find('=');
      if (equals == std::string::npos) {
        return Report(Error{ErrorCode::InvalidInput, fmt::format("\"{}\" is not KEY=ANSWER (e.g. after_drug=yes)", token), "ANSWERS"});
      }
      answers.emplace_back(token.substr(0, equals), token.substr(equals + 1));
    }
    auto result = ScoreNaranjo(*scale, answers);
    if (!result) return Report(result.error());
    out["naranjo"] = NaranjoToJson(*result);
    text += RenderNaranjoText(*result);
  }
  if (!args.with.empty()) {
    auto patient = ReadPatient(*kb, args.with);
    if (!patient) return Report(patient.error());
    auto causality = AssessAdverseReactions(*scale, *patient);
    if (!causality) return Report(Error{causality.error().code, causality.error().message, args.with + "#" + causality.error().location});
    out["adverse_reactions"] = AdrCausalityToJson(*causality);
    if (causality->empty()) text += "No adverse reaction in the record has Naranjo answers.\n";
    for (const AdrCausality& entry : *causality) {
      text += fmt::format("\nadverse_reactions[{}]: {} with {}{}\n", entry.input_index, entry.reaction, entry.drug_name,
                          entry.date ? fmt::format(" on {}", FormatDate(*entry.date)) : std::string());
      text += RenderNaranjoText(entry.naranjo);
      for (const std::string& note : entry.notes) text += fmt::format("  note: {}\n", note);
    }
  }
  std::cout << (json ? out.dump(2) + "\n" : text);
  return 0;
}

void AddCheckCommands(CLI::App& app, std::vector<Handler>& handlers) {
  static CheckArgs check_args;
  static NaranjoArgs naranjo_args;
  auto* check = app.add_subcommand("check", "check a regimen for interactions, washouts and dose caps (what if I add a drug?)");
  check->add_option("drugs", check_args.drugs, "drugs taken now (any name, brand or common misspelling)");
  check->add_option("--with", check_args.with, "a patient record: every dated medication, other medication and procedure is checked");
  check->add_option("--adding", check_args.adding, "a drug to add, starting on the as-of date");
  auto* dose = check->add_option("--dose", check_args.dose, "daily dose of the added drug in mg")->check(CLI::PositiveNumber);
  check->add_option("--as-of", check_args.as_of, "date YYYY-MM-DD (default: today)");
  check->add_option("--format", check_args.format, "text or json (default: text on a terminal, json otherwise)")->check(CLI::IsMember({"text", "json"}));
  check->add_option("--kb", check_args.kb_dir, "load the knowledge base from this directory instead of the built-in one");
  handlers.push_back(Handler{check, [dose] { return RunCheck(check_args, dose->count() > 0); }});

  auto* naranjo = app.add_subcommand("naranjo", "Naranjo adverse drug reaction probability (calculator, or the reactions in a record)");
  naranjo->add_option("answers", naranjo_args.answers,
                      "answers KEY=yes|no|unknown; keys: previous_reports after_drug improved_on_stop reappeared_on_rechallenge alternative_causes "
                      "placebo_reaction toxic_level dose_related similar_before objective_evidence");
  naranjo->add_option("--with", naranjo_args.with, "score the adverse_reactions of this patient record");
  naranjo->add_option("--format", naranjo_args.format, "text or json (default: text on a terminal, json otherwise)")->check(CLI::IsMember({"text", "json"}));
  naranjo->add_option("--kb", naranjo_args.kb_dir, "load the knowledge base from this directory instead of the built-in one");
  handlers.push_back(Handler{naranjo, [] { return RunNaranjo(naranjo_args); }});
}

const RegisterCommands kRegister{&AddCheckCommands};

}  // namespace
}  // namespace refract::cli
