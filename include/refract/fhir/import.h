// SPDX-License-Identifier: Apache-2.0
/// FHIR R4 Bundle (JSON) -> refract.patient/v1 record, with an import report that lists every
/// resource, where it went, and what could not be mapped and why.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/date.h"
#include "refract/core/kb.h"
#include "refract/core/result.h"
#include "refract/fhir/knowledge.h"

namespace refract::fhir {

/// How bad an import issue is: Error = the resource, or a part of it, was not imported; Warning =
/// imported with a loss or an assumption; Info = a remark (e.g. a resource type refract does not read).
enum class IssueLevel { Error, Warning, Info };
[[nodiscard]] std::string_view IssueLevelName(IssueLevel level);

/// One problem or remark about one resource.
struct ImportIssue {
  IssueLevel level = IssueLevel::Info;
  std::string code;      ///< Stable: unknown_code, no_code, invalid, unsupported, not_computable, ...
  std::string message;   ///< Lower-case, names the offending value.
  std::string location;  ///< JSON pointer into the bundle ("/entry/3/resource/dosageInstruction/0").
};

/// What became of one resource.
enum class ResourceOutcome { Imported, Partial, NotImported, Ignored };
[[nodiscard]] std::string_view ResourceOutcomeName(ResourceOutcome outcome);

struct ResourceResult {
  int entry = -1;            ///< Index in Bundle.entry (-1 for a contained or referenced-only resource).
  std::string type;          ///< "MedicationRequest"
  std::string id;            ///< Resource.id (may be empty)
  ResourceOutcome outcome = ResourceOutcome::Imported;
  std::vector<std::string> into;  ///< Record parts it went into: "medications[0]", "scales[2]".
  std::vector<ImportIssue> issues;
};

/// The machine-readable account of one import. Every entry of the bundle has one ResourceResult.
struct ImportReport {
  std::string label;        ///< The bundle's file name or "prefetch".
  std::string bundle_type;  ///< Bundle.type
  std::string patient_id;   ///< The record id written.
  std::vector<ResourceResult> resources;
  std::vector<ImportIssue> record_issues;  ///< About the record as a whole (no current episode, ...).

  [[nodiscard]] int Count(ResourceOutcome outcome) const;
  [[nodiscard]] int Count(IssueLevel level) const;
};

/// Options of one import.
struct ImportOptions {
  std::string label = "bundle";
  /// The patient to import when the bundle holds several, or has none (CDS Hooks prefetch).
  std::string patient_id;
  /// Optional: the full record check (schema and parser). An error located in a list element
  /// ("...#/medications/2/doses") removes that element, reports it on the resources it came from,
  /// and the record is checked again; an error elsewhere removes the member it names.
  std::function<std::optional<Error>(const nlohmann::json& record)> check;
};

/// A record and the report of how it was made.
struct ImportResult {
  nlohmann::json record;
  ImportReport report;
};

/// Reads a Bundle (collection, transaction, batch, searchset, document, or a Synthea-style bundle) into
/// one patient record.
///
/// Every resource is accounted for in the report. A resource that cannot be mapped (an unknown code, a
/// missing date, a malformed element) is reported with its location and the reason; the rest of the
/// bundle is still imported. The record validates against schema/patient.schema.json by construction.
/// Fails with InvalidInput only when the input is not a Bundle, when it has no Patient and no patient
/// id was given, or when it holds several patients and none was chosen.
[[nodiscard]] Result<ImportResult> ImportBundle(const FhirKnowledge& knowledge, const nlohmann::json& bundle, const ImportOptions& options);

/// The report as JSON ("refract.fhir-import-report/v1"), with a summary of counts first.
[[nodiscard]] nlohmann::json ImportReportToJson(const ImportReport& report);

/// The report as text: a summary line, then each resource that was not fully imported and why.
[[nodiscard]] std::string ImportReportToText(const ImportReport& report);

/// Finds a resource by reference ("Medication/m1", "#contained", "urn:uuid:..."); null when unknown.
using ReferenceLookup = std::function<const nlohmann::json*(std::string_view reference)>;

/// One medication resource (MedicationRequest, MedicationStatement, MedicationDispense) as the engine
/// needs it for a proposed order: the KB drug and the daily dose when computable.
struct MedicationOrder {
  const Drug* drug = nullptr;      ///< Null when the code is unknown.
  std::string input_name;          ///< The KB drug's name, else the resource's text or display.
  std::string rxcui;               ///< The RxNorm code that resolved (SCD or ingredient).
  const RxNormProduct* product = nullptr;
  std::optional<double> mg_per_day;
  std::optional<Date> start;
  std::vector<ImportIssue> issues;
};

/// Reads one medication resource; `location` prefixes issue locations, `lookup` resolves
/// medicationReference (may be empty). Never fails: problems are issues.
[[nodiscard]] MedicationOrder ReadMedicationOrder(const FhirKnowledge& knowledge, const nlohmann::json& resource,
                                                  const ReferenceLookup& lookup, std::string_view location);

}  // namespace refract::fhir
