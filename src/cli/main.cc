// SPDX-License-Identifier: Apache-2.0
// The refract command line: parses arguments, calls the app layer, prints.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "refract/app/app.h"
#include "refract/app/embedded.h"
#include "refract/core/report.h"
#include "refract/core/text.h"

namespace {

using refract::Error;
using refract::ErrorCode;

constexpr int kExitUsage = 2;
constexpr int kExitDataError = 65;
constexpr int kExitInternal = 70;
constexpr int kExitIoError = 74;

int ExitCodeFor(const Error& error) {
  switch (error.code) {
    case ErrorCode::InvalidInput:
    case ErrorCode::KbSchema:
    case ErrorCode::KbReference:
    case ErrorCode::NotFound: return kExitDataError;
    case ErrorCode::Io:
    case ErrorCode::Storage: return kExitIoError;
    case ErrorCode::Internal: return kExitInternal;
  }
  return kExitInternal;
}

int Report(const Error& error) {
  if (error.location.empty()) {
    std::cerr << "refract: error: " << error.message << "\n";
  } else {
    std::cerr << "refract: error: " << error.location << ": " << error.message << "\n";
  }
  return ExitCodeFor(error);
}

struct AssessArgs {
  std::vector<std::string> patients;
  std::string as_of;
  std::string format;
  std::string criteria;
  std::string kb_dir;
  std::string out;
  std::string out_dir;
};

std::string Extension(const std::string& format) { return format == "text" ? "txt" : format; }

std::string Render(const refract::Assessment& assessment, const std::string& format, bool color) {
  const auto& engine = refract::app::Engine();
  if (format == "json") return refract::AssessmentToJson(assessment, engine).dump(2) + "\n";
  if (format == "html") return refract::RenderHtml(assessment, engine);
  return refract::RenderText(assessment, engine, color);
}

std::optional<std::filesystem::path> KbDir(const std::string& kb_dir) {
  if (kb_dir.empty()) return std::nullopt;
  return std::filesystem::path(kb_dir);
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
  if (args.patients.size() > 1 && args.out_dir.empty()) {
    return Report(Error{ErrorCode::InvalidInput, "several patient files need --out-dir (one report per patient)", "--out-dir"});
  }
  if (!args.out.empty() && !args.out_dir.empty()) return Report(Error{ErrorCode::InvalidInput, "give --out or --out-dir, not both", "--out"});
  auto kb = refract::app::LoadKb(KbDir(args.kb_dir));
  if (!kb) return Report(kb.error());
  const bool to_terminal = args.out.empty() && args.out_dir.empty() && isatty(STDOUT_FILENO) == 1;
  const std::string format = !args.format.empty() ? args.format : to_terminal ? "text" : "json";

  // Assess everything first: a bad input anywhere stops the run before any file is written.
  std::vector<std::pair<std::string, std::string>> outputs;
  for (const std::string& patient : args.patients) {
    auto assessment = refract::app::AssessFile(*kb, patient, options);
    if (!assessment) return Report(assessment.error());
    const std::string stem = std::filesystem::path(patient).stem().string();
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

int RunKbCheck(const std::string& kb_dir) {
  std::vector<refract::KbFile> files;
  std::string origin = "built-in";
  if (kb_dir.empty()) {
    const auto embedded = refract::embedded::KbFiles();
    files.assign(embedded.begin(), embedded.end());
  } else {
    auto read = refract::app::ReadKbDirectory(kb_dir);
    if (!read) return Report(read.error());
    files = std::move(*read);
    origin = kb_dir;
  }
  const auto problems = refract::CheckKnowledgeBase(files);
  for (const Error& problem : problems) std::cerr << problem.location << ": " << problem.message << "\n";
  if (!problems.empty()) {
    std::cerr << fmt::format("refract: kb check: {} problem{} in {}\n", problems.size(), problems.size() == 1 ? "" : "s", origin);
    return kExitDataError;
  }
  auto kb = refract::LoadKnowledgeBase(files, origin);
  if (!kb) return Report(kb.error());
  std::cout << fmt::format("kb check: ok: {} files, {} drugs, {} criteria sets, {} sources; kb_version {} {} ({})\n", files.size(),
                           kb->drugs().size(), kb->criteria().size(), kb->sources().size(), kb->version(), kb->digest(), origin);
  return 0;
}

int RunKbInfo(const std::string& kb_dir) {
  auto kb = refract::app::LoadKb(KbDir(kb_dir));
  if (!kb) return Report(kb.error());
  nlohmann::json out{{"engine", refract::app::Engine().version},
                     {"kb_version", kb->version()},
                     {"kb_digest", kb->digest()},
                     {"kb_source", kb->origin()},
                     {"drugs", kb->drugs().size()},
                     {"sources", kb->sources().size()},
                     {"default_criteria", kb->default_criteria()}};
  std::vector<std::string> criteria;
  for (const auto& entry : kb->criteria()) criteria.push_back(entry.id);
  out["criteria"] = criteria;
  std::cout << out.dump(2) << "\n";
  return 0;
}

int RunDrug(const std::string& name, const std::string& kb_dir) {
  auto kb = refract::app::LoadKb(KbDir(kb_dir));
  if (!kb) return Report(kb.error());
  auto drug = kb->ResolveDrug(name);
  if (!drug) return Report(Error{drug.error().code, drug.error().message, "DRUG"});
  const auto* raw = kb->RawFile("drugs/" + (*drug)->id.substr(5) + ".json");
  std::cout << (raw != nullptr ? raw->dump(2) : std::string("{}")) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{"refract: decision support for treatment-resistant depression"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string(refract::app::Engine().version));

    AssessArgs assess_args;
    auto* assess = app.add_subcommand("assess", "assess patient records (refract.patient/v1 JSON)");
    assess->add_option("patients", assess_args.patients, "patient record file(s)")->required();
    assess->add_option("--as-of", assess_args.as_of, "assessment date YYYY-MM-DD (default: today)");
    assess->add_option("--format", assess_args.format, "text, json or html (default: text on a terminal, json otherwise)")
        ->check(CLI::IsMember({"text", "json", "html"}));
    assess->add_option("--criteria", assess_args.criteria, "criteria set: atrq (default), atrq_8w, atrq_strict25");
    assess->add_option("--kb", assess_args.kb_dir, "load the knowledge base from this directory instead of the built-in one");
    assess->add_option("--out", assess_args.out, "write the report to this file");
    assess->add_option("--out-dir", assess_args.out_dir, "write one report per patient into this directory");

    std::string kb_dir;
    auto* kb = app.add_subcommand("kb", "knowledge base tools");
    kb->require_subcommand(1);
    auto* kb_check = kb->add_subcommand("check", "validate schema, references, units and ranges");
    kb_check->add_option("--kb", kb_dir, "check this directory instead of the built-in KB");
    auto* kb_info = kb->add_subcommand("info", "print version, digest and contents");
    kb_info->add_option("--kb", kb_dir, "describe this directory instead of the built-in KB");

    std::string drug_name;
    auto* drug = app.add_subcommand("drug", "show the KB entry of a drug (any name, brand or misspelling)");
    drug->add_option("name", drug_name, "drug name")->required();
    drug->add_option("--kb", kb_dir, "use this KB directory");

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
      const int code = app.exit(error);
      return code == 0 ? 0 : kExitUsage;
    }
    if (assess->parsed()) return RunAssess(assess_args);
    if (kb_check->parsed()) return RunKbCheck(kb_dir);
    if (kb_info->parsed()) return RunKbInfo(kb_dir);
    if (drug->parsed()) return RunDrug(drug_name, kb_dir);
    return kExitUsage;
  } catch (const std::exception& error) {
    std::cerr << "refract: internal error: " << error.what() << "\n";
    return kExitInternal;
  }
}
