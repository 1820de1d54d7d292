// SPDX-License-Identifier: Apache-2.0
// `refract import-fhir` and `refract export-fhir`: FHIR R4 Bundles in and out; and the import step
// behind `refract assess --fhir`.
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "refract/app/app.h"
#include "refract/core/interactions.h"
#include "refract/fhir/export.h"
#include "refract/fhir/import.h"

namespace refract::cli {

namespace {

struct ImportArgs {
  std::string bundle;
  std::string out;
  std::string report;
  std::string report_format;
  std::string patient;
  std::string kb_dir;
};

struct ExportArgs {
  std::string patient;
  std::string as_of;
  std::string criteria;
  std::string kb_dir;
  std::string out;
  std::string generated_at;
  std::string bundle_type = "collection";
  bool record_only = false;
  bool assessment_only = false;
};

// The record check used while importing: the patient parser (schema and record rules) of the app.
fhir::ImportOptions ImportOptionsFor(const KnowledgeBase& kb, const std::string& label, const std::string& patient_id) {
  fhir::ImportOptions options;
  options.label = label;
  options.patient_id = patient_id;
  options.check = [&kb, label](const nlohmann::json& record) -> std::optional<Error> {
    auto parsed = app::Parser().Parse(kb, record, label);
    if (parsed) return std::nullopt;
    return parsed.error();
  };
  return options;
}

Result<fhir::ImportResult> ImportFile(const KnowledgeBase& kb, const fhir::FhirKnowledge& knowledge, const std::string& path, const std::string& patient_id) {
  auto text = app::ReadFile(path);
  if (!text) return tl::unexpected(text.error());
  auto json = app::ParseJsonText(*text, path);
  if (!json) return tl::unexpected(json.error());
  return fhir::ImportBundle(knowledge, *json, ImportOptionsFor(kb, path, patient_id));
}

std::string NowInstant() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

int RunImport(const ImportArgs& args) {
  auto kb = app::LoadKb(KbDir(args.kb_dir));
  if (!kb) return Report(kb.error());
  auto knowledge = fhir::LoadFhirKnowledge(*kb);
  if (!knowledge) return Report(knowledge.error());
  auto imported = ImportFile(*kb, *knowledge, args.bundle, args.patient);
  if (!imported) return Report(imported.error());
  const std::string record = imported->record.dump(2) + "\n";
  const bool json_report = args.report_format == "json" || (args.report_format.empty() && std::filesystem::path(args.report).extension() == ".json");
  const std::string report = json_report ? fhir::ImportReportToJson(imported->report).dump(2) + "\n" : fhir::ImportReportToText(imported->report);
  if (!args.report.empty()) {
    auto written = app::WriteFileAtomically(args.report, report);
    if (!written) return Report(written.error());
  }
  if (!args.out.empty()) {
    auto written = app::WriteFileAtomically(args.out, record);
    if (!written) return Report(written.error());
  } else {
    std::cout << record;
  }
  if (args.report.empty()) std::cerr << report;
  return 0;
}

int RunExport(const ExportArgs& args) {
  if (args.record_only && args.assessment_only) {
    return Report(Error{ErrorCode::InvalidInput, "give --record-only or --assessment-only, not both", "--record-only"});
  }
  EvaluateOptions options;
  options.as_of = app::Today();
  if (!args.as_of.empty()) {
    const auto parsed = ParseDate(args.as_of);
    if (!parsed) return Report(Error{ErrorCode::InvalidInput, fmt::format("\"{}\" is not a valid date (expected YYYY-MM-DD)", args.as_of), "--as-of"});
    options.as_of = *parsed;
  }
  options.criteria_id = args.criteria;
  auto kb = app::LoadKb(KbDir(args.kb_dir));
  if (!kb) return Report(kb.error());
  auto knowledge = fhir::LoadFhirKnowledge(*kb);
  if (!knowledge) return Report(knowledge.error());
  auto text = app::ReadFile(args.patient);
  if (!text) return Report(text.error());
  auto json = app::ParseJsonText(*text, args.patient);
  if (!json) return Report(json.error());
  auto patient = app::Parser().Parse(*kb, *json, args.patient);
  if (!patient) return Report(patient.error());
  std::optional<Assessment> assessment;
  std::optional<InteractionReport> interactions;
  if (!args.record_only) {
    auto evaluated = Evaluate(*kb, *patient, options);
    if (!evaluated) return Report(evaluated.error());
    assessment = std::move(*evaluated);
    if (auto interaction_knowledge = LoadInteractionKnowledge(*kb)) {
      interactions = CheckRegimen(*interaction_knowledge, RegimenFromPatient(*kb, *patient, options.as_of), options.as_of);
    }
  }
  fhir::ExportOptions export_options;
  export_options.engine = app::Engine();
  export_options.generated_at = args.generated_at.empty() ? NowInstant() : args.generated_at;
  export_options.bundle_type = args.bundle_type;
  export_options.include_record = !args.assessment_only;
  export_options.include_assessment = !args.record_only;
  const nlohmann::json bundle = fhir::ExportBundle(*knowledge, *patient, assessment ? &*assessment : nullptr, interactions ? &*interactions : nullptr, export_options);
  const std::string out = bundle.dump(2) + "\n";
  if (!args.out.empty()) {
    auto written = app::WriteFileAtomically(args.out, out);
    if (!written) return Report(written.error());
    return 0;
  }
  std::cout << out;
  return 0;
}

void AddFhirCommands(CLI::App& app, std::vector<Handler>& handlers) {
  static ImportArgs import_args;
  static ExportArgs export_args;
  auto* import_cmd = app.add_subcommand("import-fhir", "import a FHIR R4 Bundle (JSON) as a refract.patient/v1 record, with an import report");
  import_cmd->add_option("bundle", import_args.bundle, "FHIR R4 Bundle (JSON)")->required();
  import_cmd->add_option("--out", import_args.out, "write the record to this file (default: standard output)");
  import_cmd->add_option("--report", import_args.report, "write the import report to this file (default: standard error, as text)");
  import_cmd->add_option("--report-format", import_args.report_format, "text or json (default: json when --report ends in .json)")
      ->check(CLI::IsMember({"text", "json"}));
  import_cmd->add_option("--patient", import_args.patient, "the Patient id to import when the bundle holds several or none");
  import_cmd->add_option("--kb", import_args.kb_dir, "load the knowledge base from this directory instead of the built-in one");
  handlers.push_back(Handler{import_cmd, [] { return RunImport(import_args); }});

  auto* export_cmd = app.add_subcommand("export-fhir", "export a patient record and its assessment as a FHIR R4 Bundle");
  export_cmd->add_option("patient", export_args.patient, "patient record (refract.patient/v1 JSON)")->required();
  export_cmd->add_option("--as-of", export_args.as_of, "assessment date YYYY-MM-DD (default: today)");
  export_cmd->add_option("--criteria", export_args.criteria, "criteria set: atrq (default), atrq_8w, atrq_strict25");
  export_cmd->add_option("--kb", export_args.kb_dir, "load the knowledge base from this directory instead of the built-in one");
  export_cmd->add_option("--out", export_args.out, "write the bundle to this file (default: standard output)");
  export_cmd->add_option("--generated-at", export_args.generated_at, "Provenance.recorded as a FHIR instant (default: now, UTC)");
  export_cmd->add_option("--bundle-type", export_args.bundle_type, "collection (default) or transaction")->check(CLI::IsMember({"collection", "transaction"}));
  export_cmd->add_flag("--record-only", export_args.record_only, "only the record's resources, no assessment");
  export_cmd->add_flag("--assessment-only", export_args.assessment_only, "only the assessment's resources (and the Patient)");
  handlers.push_back(Handler{export_cmd, [] { return RunExport(export_args); }});
}

const RegisterCommands kRegister{&AddFhirCommands};

}  // namespace

/// `refract assess --fhir`: imports a Bundle (the record check removes what the parser rejects), prints
/// a one-line summary of the import report to standard error when something was not imported, and
/// assesses the record like any other.
Result<Assessment> AssessFhirBundleFile(const KnowledgeBase& kb, const std::filesystem::path& path, const EvaluateOptions& options) {
  auto knowledge = fhir::LoadFhirKnowledge(kb);
  if (!knowledge) return tl::unexpected(knowledge.error());
  auto imported = ImportFile(kb, *knowledge, path.string(), "");
  if (!imported) return tl::unexpected(imported.error());
  const fhir::ImportReport& report = imported->report;
  if (report.Count(fhir::IssueLevel::Error) > 0 || report.Count(fhir::ResourceOutcome::NotImported) > 0) {
    std::cerr << fmt::format("refract: {}: {} resource(s) not imported, {} partly; see `refract import-fhir {}` for the report\n", path.string(),
                             report.Count(fhir::ResourceOutcome::NotImported), report.Count(fhir::ResourceOutcome::Partial), path.string());
  }
  auto patient = app::Parser().Parse(kb, imported->record, path.string());
  if (!patient) return tl::unexpected(patient.error());
  return Evaluate(kb, *patient, options);
}

}  // namespace refract::cli
