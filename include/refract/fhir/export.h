// SPDX-License-Identifier: Apache-2.0
/// Patient record and assessment -> FHIR R4 Bundle: the record as the resources an EHR stores
/// (Patient, Condition, MedicationStatement, QuestionnaireResponse, Observation, Procedure,
/// AllergyIntolerance), scores as Observations, and the assessment as Observations (TRD status and
/// stages), DetectedIssues (alerts and interactions) and a CarePlan, with a Provenance naming the
/// engine and KB version.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "refract/core/assessment.h"
#include "refract/core/interactions.h"
#include "refract/core/patient.h"
#include "refract/core/report.h"
#include "refract/fhir/knowledge.h"

namespace refract::fhir {

/// What to export and how.
struct ExportOptions {
  EngineInfo engine;
  /// When the export was made (FHIR instant, e.g. "2026-11-23T10:00:00Z"): the adapter reads the clock,
  /// the library never does. Empty uses the assessment date at midnight UTC.
  std::string generated_at;
  std::string bundle_type = "collection";  ///< "collection" or "transaction" (entries get POST requests).
  bool include_record = true;
  bool include_assessment = true;
};

/// Builds one Bundle. `assessment` and `interactions` may be null (then only the record is written).
///
/// Deterministic: resource ids are name-based UUIDs of the record id and each resource's place in the
/// record, so the same record and assessment give the same bundle. Everything the record holds that
/// FHIR has no element for (course role, improvement, adherence, the current episode, history, daily
/// log) travels in refract extensions, so that importing the bundle gives the record back. Assessment
/// outputs are tagged "derived" (scores "score") and are not read back as patient data.
[[nodiscard]] nlohmann::json ExportBundle(const FhirKnowledge& knowledge, const PatientRecord& record, const Assessment* assessment,
                                          const InteractionReport* interactions, const ExportOptions& options);

}  // namespace refract::fhir
