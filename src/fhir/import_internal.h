// SPDX-License-Identifier: Apache-2.0
/// Internal state of one FHIR import: the bundle index, the report being written, and the parts of
/// the record (medication segments, scale drafts, procedures) before they are assembled.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/date.h"
#include "refract/fhir/import.h"
#include "refract/fhir/knowledge.h"

namespace refract::fhir {

/// Extension names refract writes and reads (ExtensionUrl(name)).
inline constexpr std::string_view kExtRecord = "refract-record";
inline constexpr std::string_view kExtPerson = "refract-person";
inline constexpr std::string_view kExtHistory = "refract-history";
inline constexpr std::string_view kExtDailyLog = "refract-daily-log";
inline constexpr std::string_view kExtEpisode = "refract-current-episode";
inline constexpr std::string_view kExtCourse = "refract-course";
inline constexpr std::string_view kExtOtherMedication = "refract-other-medication";
inline constexpr std::string_view kExtProcedure = "refract-procedure";
inline constexpr std::string_view kExtReaction = "refract-adverse-reaction";
inline constexpr std::string_view kExtGenotypeSource = "refract-genotype-source";
inline constexpr std::string_view kExtScaleName = "refract-scale-name";
/// Code systems refract writes and reads (CodeSystemUrl(name)).
inline constexpr std::string_view kCsDiagnosis = "diagnosis-kind";
inline constexpr std::string_view kCsProcedure = "procedure-kind";
inline constexpr std::string_view kCsScale = "scale";
inline constexpr std::string_view kCsLab = "lab";
inline constexpr std::string_view kCsVital = "vital";
inline constexpr std::string_view kCsPhenotype = "metabolizer-phenotype";
inline constexpr std::string_view kCsGenotype = "genotype";
inline constexpr std::string_view kCsTags = "tags";
inline constexpr std::string_view kCsDrug = "drug";
inline constexpr std::string_view kCsDoseUnit = "dose-unit";
inline constexpr std::string_view kCsEpisode = "episode";
inline constexpr std::string_view kCsCondition = "condition";
inline constexpr std::string_view kCsAssessment = "assessment";
inline constexpr std::string_view kPatientIdSystem = "https://refract.example/fhir/patient-id";
/// Array members of refract extensions (read back as arrays even with one value).
const std::vector<std::string>& ExtensionArrays();

/// One element of a record list and the resources it came from.
struct RecordElement {
  nlohmann::json value;
  std::set<std::size_t> resources;
};

/// One medication resource reduced to a drug, a period and dose steps.
struct MedicationSegment {
  std::size_t resource = 0;
  const Drug* drug = nullptr;  ///< Null: unknown code, kept in other_medications by name.
  std::string name;
  std::string rxcui;  ///< Kept as the record's code for unknown drugs.
  Date start;
  std::optional<Date> end;
  bool ongoing = false;
  std::vector<std::pair<Date, double>> doses;
  bool as_needed = false;
  std::string kind;  ///< other_medications kind when known.
  bool undated = false;  ///< An other medication with no date at all (start not written).
  bool from_refract = false;  ///< Written by refract's export (codes are the record's own only when userSelected).
  nlohmann::json record_code;  ///< The record's code of an other medication, when the sender marked one.
  bool other = false;  ///< Written as an other medication by refract (refract-other-medication extension).
  nlohmann::json extension;  ///< refract-course or refract-other-medication content, or null.
};

/// All values found for one administration of a scale on one date.
struct ScaleDraft {
  std::string scale_id;
  Date date;
  std::map<std::size_t, int> items;
  std::optional<double> total;
  std::string rater;
  std::string name;  ///< The record's own name of the scale ("phq9"), when refract's export kept it.
  std::set<std::size_t> resources;
  std::vector<std::pair<std::size_t, double>> totals_seen;  ///< (resource, total) to report disagreements.
};

/// One Procedure resource reduced to a kind and a period.
struct ProcedureSegment {
  std::size_t resource = 0;
  std::string kind;
  Date start;
  std::optional<Date> end;
  bool ongoing = false;
  nlohmann::json extension;
};

class Importer {
 public:
  Importer(const FhirKnowledge& knowledge, const nlohmann::json& bundle, const ImportOptions& options);
  [[nodiscard]] Result<ImportResult> Run();

  // --- used by the per-resource readers (import_*.cc) ---
  void Issue(std::size_t resource, IssueLevel level, std::string code, std::string message, std::string location);
  void Ignore(std::size_t resource, std::string message);
  [[nodiscard]] const nlohmann::json* Lookup(std::string_view reference, std::size_t from_resource) const;
  /// The resourceType a Reference points to (looked up in the bundle, else read from "Type/id").
  [[nodiscard]] std::string ReferencedType(std::size_t from_resource, const nlohmann::json& reference) const;
  [[nodiscard]] std::string Where(std::size_t resource, std::string_view path = {}) const;
  [[nodiscard]] std::optional<FhirDate> ReadDate(std::size_t resource, const nlohmann::json& text, std::string_view path, bool end = false);
  void Add(std::string_view list, nlohmann::json value, std::size_t resource);

  const FhirKnowledge& knowledge;

 private:
  struct Indexed {
    const nlohmann::json* resource = nullptr;
    std::string full_url;
    std::string pointer;  ///< "/entry/3/resource"
  };

  [[nodiscard]] Result<bool> ChoosePatient();
  [[nodiscard]] bool BelongsToPatient(std::size_t resource);
  void ReadResource(std::size_t resource);
  void ReadPatient(std::size_t resource);
  void ReadCondition(std::size_t resource);
  void ReadMedication(std::size_t resource);
  void ReadObservation(std::size_t resource);
  void ReadQuestionnaireResponse(std::size_t resource);
  void ReadProcedure(std::size_t resource);
  void ReadAllergy(std::size_t resource);
  void ReadScaleObservation(std::size_t resource, const nlohmann::json& observation, const FhirScale& scale, std::optional<std::size_t> item);
  void ReadLab(std::size_t resource, const nlohmann::json& observation, const RecordTarget* target);
  void ReadVital(std::size_t resource, const nlohmann::json& observation, const RecordTarget& target);
  void ReadGenotype(std::size_t resource, const nlohmann::json& observation);
  [[nodiscard]] std::optional<int> ItemValue(std::size_t resource, const FhirScale& scale, std::size_t item_idx, const nlohmann::json& holder,
                                             std::string_view path);
  ScaleDraft& Draft(const std::string& scale_id, Date date);

  void BuildCourses();
  void BuildScales();
  void BuildProcedures();
  [[nodiscard]] nlohmann::json Assemble();
  void Finish();

  const nlohmann::json& bundle_;
  ImportOptions options_;
  ImportReport report_;
  std::vector<Indexed> resources_;
  std::map<std::string, std::size_t, std::less<>> by_reference_;
  std::optional<std::size_t> patient_;
  std::set<std::string, std::less<>> patient_references_;
  std::string record_id_;
  nlohmann::json person_ = nlohmann::json::object();
  nlohmann::json history_ = nlohmann::json::object();
  std::optional<RecordElement> episode_;
  nlohmann::json record_extras_ = nlohmann::json::object();
  std::set<std::size_t> patient_part_resources_;
  std::map<std::string, std::vector<RecordElement>, std::less<>> lists_;
  std::vector<MedicationSegment> segments_;
  std::map<std::pair<std::string, long>, ScaleDraft> drafts_;
  std::vector<ProcedureSegment> procedure_segments_;
};

}  // namespace refract::fhir
