// SPDX-License-Identifier: Apache-2.0
/// FHIR import, assess and export as pure request -> response handlers over a CDS Hooks context: the
/// same library calls as `refract import-fhir`, `assess --fhir` and `export-fhir`. The clinic server
/// serves FHIR itself, behind its session, role, CSRF and audit checks (src/server/api_fhir.cc).
#pragma once

#include <string>
#include <string_view>

#include "refract/cdshooks/service.h"

namespace refract::cdshooks {

/// POST body: a FHIR Bundle. Answers 200 {"record", "report"} (report: refract.fhir-import-report/v1),
/// 400 {"error": {code, message, location}} for a body that is not a bundle or has no single patient.
/// `patient_id` chooses the patient of a bundle with several (may be empty).
[[nodiscard]] Response FhirImport(const CdsHooksContext& context, std::string_view body, std::string_view patient_id);

/// As FhirImport, then assessed on `as_of` (YYYY-MM-DD, empty for today) with `criteria` (empty for the
/// default): 200 {"record", "report", "assessment"} (assessment: refract.assessment/v1).
[[nodiscard]] Response FhirAssess(const CdsHooksContext& context, std::string_view body, std::string_view patient_id, std::string_view as_of,
                                  std::string_view criteria);

/// POST body: a refract.patient/v1 record. Answers 200 with the FHIR Bundle of the record and its
/// assessment (with interactions when the context has them), or 400 with the record's first problem.
/// `generated_at` is the Provenance instant the server's clock gives.
[[nodiscard]] Response FhirExport(const CdsHooksContext& context, std::string_view body, std::string_view as_of, std::string_view generated_at);

}  // namespace refract::cdshooks
