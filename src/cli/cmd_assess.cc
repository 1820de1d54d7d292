// SPDX-License-Identifier: Apache-2.0
// `refract assess`: assess patient records and write text, JSON or HTML reports.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "refract/core/mbc.h"
#include "refract/app/app.h"
#include "refract/app/web_assets.h"
#include "refract/core/report.h"

namespace refract::cli {
// `--fhir`: imports a FHIR R4 Bundle, then assesses it (defined in cmd_fhir.cc).
Result<Assessment> AssessFhirBundleFile(const KnowledgeBase& kb, const std::filesystem::path& path, const EvaluateOptions& options);
namespace {

struct AssessArgs {
  std::vector<std::string> patients;
  std::string as_of;
  std::string format;
  std::string criteria;
  std::string kb_dir;
  std::string out;
  std::string out_dir;
  std::string locale;
  std::string audience = "clinician";
  bool without_next_steps = false;
  bool fhir = false;
};

std::string Extension(const std::string& format) { return format == "text" ? "txt" : format; }

std::string Render(const refract::Assessment& assessment, const std::string& format, bool color) {
  const auto& engine = refract::app::Engine();
  if (format == "json") return refract::AssessmentToJson(assessment, engine).dump(2) + "\n";
  if (format == "html") return refract::RenderHtml(assessment, engine, refract::embedded::ChartScripts());
  return refract::RenderText(assessment, engine, color);
}

int RunAssess(const AssessArgs& args) {
  refract::EvaluateOptions options;
  options.as_of = refract::app::Today();
  if (!args.as_of.empty()) {
    const auto parsed = refract::ParseDate(args.as_of);
    if (!parsed) return Report(Error{ErrorCode::InvalidInput, fmt::format("\"{}\" is not a valid date (expected YYYY-MM-DD)", args.as_of), "--as-of"});
    options.as_of = *parsed;
  }
  options.criteria_id = args.criteria;
  options.next_steps = !args.without_next_steps;
  if (args.without_next_steps && args.audience == "patient") {
    return Report(Error{ErrorCode::InvalidInput, "--audience patient needs the next steps: drop --without-next-steps", "--without-next-steps"});
  }
  if (args.patients.size() > 1 && args.out_dir.empty()) {
    return Report(Error{ErrorCode::InvalidInput, "several patient files need --out-dir (one report per patient)", "--out-dir"});
  }
  if (!args.out.empty() && !args.out_dir.empty()) return Report(Error{ErrorCode::InvalidInput, "give --out or --out-dir, not both", "--out"});
  auto kb = refract::app::LoadKb(KbDir(args.kb_dir));
  if (!kb) return Report(kb.error());
  if (!args.locale.empty()) {
    // The crisis line shown with a suicide-risk alert comes from the KB: only a locale it lists is accepted.
    const refract::MbcRules rules = refract::ReadMbcRules(*kb);
    std::vector<std::string> known;
    if (rules.crisis_lines) {
      for (const auto& line : rules.crisis_lines->lines) known.push_back(line.locale);
    }
    if (std::find(known.begin(), known.end(), args.locale) == known.end()) {
      return Report(Error{ErrorCode::InvalidInput,
                          fmt::format("no crisis line for locale \"{}\" in the KB (known: {})", args.locale, fmt::join(known, ", ")), "--locale"});
    }
    options.locale = args.locale;
  }
  const bool to_terminal = args.out.empty() && args.out_dir.empty() && StdoutIsTerminal();
  const std::string format = !args.format.empty() ? args.format : args.audience == "patient" ? "text" : to_terminal ? "text" : "json";
  if (args.audience == "patient" && format == "json") {
    return Report(Error{ErrorCode::InvalidInput, "--audience patient writes text or html; the JSON always carries patient_summary", "--audience"});
  }

  // Assess everything first: a bad input anywhere stops the run before any file is written.
  std::vector<std::pair<std::string, std::string>> outputs;
  for (const std::string& patient : args.patients) {
    auto assessment = args.fhir ? AssessFhirBundleFile(*kb, patient, options) : refract::app::AssessFile(*kb, patient, options);
    if (!assessment) return Report(assessment.error());
    const std::string stem = std::filesystem::path(patient).stem().string();
    if (args.audience == "patient") {
      std::string summary = format == "html" ? refract::RenderPatientHtml(*assessment, refract::app::Engine())
                                             : refract::RenderPatientText(*assessment, refract::app::Engine());
      if (summary.empty()) {
        return Report(Error{ErrorCode::InvalidInput, "the patient summary needs a knowledge base with next-steps tables (kb/next_steps)", "--audience"});
      }
      outputs.emplace_back(stem, std::move(summary));
      continue;
    }
    outputs.emplace_back(stem, Render(*assessment, format, to_terminal));
  }
  if (!args.out_dir.empty()) {
    // Two inputs with the same file name would overwrite each other's report: refuse first.
    std::map<std::string, std::string> seen;
    for (std::size_t input_idx = 0; input_idx < outputs.size(); ++input_idx) {
      const auto [it, inserted] = seen.emplace(outputs[input_idx].first, args.patients[input_idx]);
      if (!inserted) {
        return Report(Error{ErrorCode::InvalidInput,
                            fmt::format("{} and {} would both be written as {}.{}: rename one input or assess them separately",
                                        it->second, args.patients[input_idx], it->first, Extension(format)),
                            "--out-dir"});
      }
    }
    std::error_code error;
    std::filesystem::create_directories(args.out_dir, error);
    if (error) return Report(Error{ErrorCode::Io, fmt::format("cannot create {}: {}", args.out_dir, error.message()), args.out_dir});
    for (const auto& [stem, content] : outputs) {
      const auto path = std::filesystem::path(args.out_dir) / (stem + "." + Extension(format));
      auto written = refract::app::WriteFileAtomically(path, content);
      if (!written) return Report(written.error());
      std::cout << "wrote " << path.string() << "\n";
    }
    return 0;
  }
  if (!args.out.empty()) {
    auto written = refract::app::WriteFileAtomically(args.out, outputs.front().second);
    if (!written) return Report(written.error());
    return 0;
  }
  std::cout << outputs.front().second;
  return 0;
}

void AddAssess(CLI::App& app, std::vector<Handler>& handlers) {
  static AssessArgs args;
  auto* assess = app.add_subcommand("assess", "assess patient records (refract.patient/v1 JSON)");
  assess->add_option("patients", args.patients, "patient record file(s)")->required();
  assess->add_option("--as-of", args.as_of, "assessment date YYYY-MM-DD (default: today)");
  assess->add_option("--format", args.format, "text, json or html (default: text on a terminal, json otherwise)")
      ->check(CLI::IsMember({"text", "json", "html"}));
  assess->add_option("--criteria", args.criteria, "criteria set: atrq (default), atrq_8w, atrq_strict25");
  assess->add_option("--audience", args.audience, "clinician (default: the full assessment) or patient (the plain-language summary; text or html)")
      ->check(CLI::IsMember({"clinician", "patient"}));
  assess->add_flag("--without-next-steps", args.without_next_steps,
                   "leave out drivers, options, monitoring and the patient summary (TRD core, measurement, regimen and PGx only)");
  assess->add_option("--locale", args.locale, "country whose crisis line goes with a suicide-risk alert (US default, CA; see kb/rules/mbc.crisis_lines.json)");
  assess->add_option("--kb", args.kb_dir, "load the knowledge base from this directory instead of the built-in one");
  assess->add_option("--out", args.out, "write the report to this file");
  assess->add_option("--out-dir", args.out_dir, "write one report per patient into this directory");
  assess->add_flag("--fhir", args.fhir, "the inputs are FHIR R4 Bundles: import each, then assess it");
  handlers.push_back(Handler{assess, [] { return RunAssess(args); }});
}

const RegisterCommands kRegister{&AddAssess};

}  // namespace
}  // namespace refract::cli
