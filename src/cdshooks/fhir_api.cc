// SPDX-License-Identifier: Apache-2.0
// FHIR import, assess and export as pure handlers (the clinic server has its own: src/server/api_fhir.cc).
#include "refract/cdshooks/fhir_api.h"

#include <optional>

#include <fmt/format.h>

#include "refract/core/report.h"
#include "refract/fhir/export.h"
#include "refract/fhir/import.h"

namespace refract::cdshooks {
namespace {

Response ErrorResponse(int status, const refract::Error& error) { return Response{status, ErrorToJson(error), {}}; }

int StatusFor(const refract::Error& error) {
  switch (error.code) {
    case ErrorCode::InvalidInput:
      return 400;
    case ErrorCode::NotFound:
      return 404;
    case ErrorCode::KbSchema:
    case ErrorCode::KbReference:
      return 422;
    default:
      return 500;
  }
}

struct Imported {
  nlohmann::json record;
  nlohmann::json report;
  std::optional<PatientRecord> patient;
};

Result<Imported> Import(const CdsHooksContext& context, std::string_view body, std::string_view patient_id) {
  const nlohmann::json bundle = nlohmann::json::parse(body, nullptr, false);
  if (bundle.is_discarded()) return Fail(ErrorCode::InvalidInput, "the request body is not JSON", "body");
  Imported out;
  fhir::ImportOptions options;
  options.label = "body";
  options.patient_id = std::string(patient_id);
  options.check = [&](const nlohmann::json& record) -> std::optional<refract::Error> {
    auto parsed = context.parser->Parse(*context.kb, record, "record");
    if (!parsed) return parsed.error();
    out.patient = std::move(*parsed);
    return std::nullopt;
  };
  auto imported = fhir::ImportBundle(*context.fhir, bundle, options);
  if (!imported) return tl::unexpected(imported.error());
  out.record = std::move(imported->record);
  out.report = fhir::ImportReportToJson(imported->report);
  if (!out.patient) {
    auto parsed = context.parser->Parse(*context.kb, out.record, "record");
    if (!parsed) return tl::unexpected(parsed.error());
    out.patient = std::move(*parsed);
  }
  return out;
}

Result<Date> AsOf(const CdsHooksContext& context, std::string_view text) {
  if (text.empty()) return context.today ? context.today() : Date{};
  const auto date = ParseDate(text);
  if (!date) return Fail(ErrorCode::InvalidInput, fmt::format("\"{}\" is not a valid date (expected YYYY-MM-DD)", text), "as_of");
  return *date;
}

}  // namespace

Response FhirImport(const CdsHooksContext& context, std::string_view body, std::string_view patient_id) {
  auto imported = Import(context, body, patient_id);
  if (!imported) return ErrorResponse(StatusFor(imported.error()), imported.error());
  return Response{200, {{"record", std::move(imported->record)}, {"report", std::move(imported->report)}}, {}};
}

Response FhirAssess(const CdsHooksContext& context, std::string_view body, std::string_view patient_id, std::string_view as_of,
                    std::string_view criteria) {
  auto date = AsOf(context, as_of);
  if (!date) return ErrorResponse(400, date.error());
  auto imported = Import(context, body, patient_id);
  if (!imported) return ErrorResponse(StatusFor(imported.error()), imported.error());
  EvaluateOptions options;
  options.as_of = *date;
  options.criteria_id = std::string(criteria);
  auto assessment = Evaluate(*context.kb, *imported->patient, options);
  if (!assessment) return ErrorResponse(StatusFor(assessment.error()), assessment.error());
  return Response{200,
                  {{"record", std::move(imported->record)}, {"report", std::move(imported->report)}, {"assessment", AssessmentToJson(*assessment, context.engine)}},
                  {}};
}

Response FhirExport(const CdsHooksContext& context, std::string_view body, std::string_view as_of, std::string_view generated_at) {
  auto date = AsOf(context, as_of);
  if (!date) return ErrorResponse(400, date.error());
  const nlohmann::json record = nlohmann::json::parse(body, nullptr, false);
  if (record.is_discarded()) return ErrorResponse(400, refract::Error{ErrorCode::InvalidInput, "the request body is not JSON", "body"});
  auto patient = context.parser->Parse(*context.kb, record, "body");
  if (!patient) return ErrorResponse(StatusFor(patient.error()), patient.error());
  EvaluateOptions options;
  options.as_of = *date;
  auto assessment = Evaluate(*context.kb, *patient, options);
  if (!assessment) return ErrorResponse(StatusFor(assessment.error()), assessment.error());
  std::optional<InteractionReport> interactions;
  if (context.interactions != nullptr) interactions = CheckRegimen(*context.interactions, RegimenFromPatient(*context.kb, *patient, *date), *date);
  fhir::ExportOptions export_options;
  export_options.engine = context.engine;
  export_options.generated_at = std::string(generated_at);
  return Response{200, fhir::ExportBundle(*context.fhir, *patient, &*assessment, interactions ? &*interactions : nullptr, export_options), {}};
}

}  // namespace refract::cdshooks
