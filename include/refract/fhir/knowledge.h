// SPDX-License-Identifier: Apache-2.0
/// What the FHIR adapter reads from the KB (kb/fhir): RxNorm products to KB drugs, value sets that
/// map Condition, Procedure and Observation codes to the patient record, answer lists and conventions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "refract/core/kb.h"
#include "refract/core/result.h"
#include "refract/core/scales.h"

namespace refract::fhir {

/// Code system URIs refract reads and writes.
inline constexpr std::string_view kRxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm";
inline constexpr std::string_view kLoinc = "http://loinc.org";
inline constexpr std::string_view kSnomed = "http://snomed.info/sct";
inline constexpr std::string_view kIcd10Cm = "http://hl7.org/fhir/sid/icd-10-cm";
inline constexpr std::string_view kIcd10 = "http://hl7.org/fhir/sid/icd-10";
inline constexpr std::string_view kCpt = "http://www.ama-assn.org/go/cpt";
inline constexpr std::string_view kAtc = "http://www.whocc.no/atc";
inline constexpr std::string_view kUcum = "http://unitsofmeasure.org";
inline constexpr std::string_view kHgnc = "http://www.genenames.org/geneId";
/// Base of refract's own canonical URLs (code systems, extensions, questionnaires).
inline constexpr std::string_view kRefractBase = "https://refract.example/fhir";

/// The record's names for code systems ("SNOMED") and their FHIR URIs; empty when unknown.
[[nodiscard]] std::string SystemUri(std::string_view record_system);
[[nodiscard]] std::string RecordSystem(std::string_view uri);

/// One RxNorm clinical drug that resolves to a KB drug.
struct RxNormProduct {
  std::string rxcui;
  std::string tty;
  std::string name;
  const Drug* drug = nullptr;
  std::optional<double> strength_mg;  ///< Per unit, in the unit the KB doses the drug in.
  std::string unit;                   ///< tablet, capsule, patch, device, ml.
  std::string kb_path;
};

/// Where a coded resource goes in the patient record.
struct RecordTarget {
  std::string value_set;  ///< "fhir.valueset.condition.mdd"
  std::string name;       ///< Display name of the value set.
  std::string resource;   ///< Condition, Procedure, Observation.
  std::string list;       ///< diagnoses, conditions, history, procedures, labs, vitals.
  std::string value;      ///< "mdd", "epilepsy", "bipolar", "ect", "sodium", "blood_pressure".
  std::string component;  ///< "systolic" or "diastolic" for one blood-pressure component.
  std::string unit;       ///< Unit written when the resource gives none.
};

/// A code of a value set, for export (the first code of each set is the one refract writes).
struct TargetCode {
  std::string system;
  std::string code;
  std::string display;
};

/// A UCUM or common unit of a dose and what it counts.
struct DoseUnit {
  std::optional<double> mg;  ///< Mass units: factor to mg.
  std::string counts;        ///< Presentation units: tablet, capsule, patch, device, ml or any.
};

/// The conventions of kb/fhir/conventions.json.
struct FhirConventions {
  std::map<std::string, DoseUnit, std::less<>> dose_units;
  std::map<std::string, double, std::less<>> period_unit_hours;
  std::map<std::string, double, std::less<>> timing_codes;  ///< "system|code" -> times per day.
  std::vector<std::string> dose_in_mass_not_convertible;    ///< Drug ids.
  double unitless_dose_max_units = 0;                       ///< A unitless doseQuantity up to this is a count of product units.
  int course_gap_days = 0;
  std::vector<std::string> course_gap_sources;
  int procedure_course_gap_days = 0;
  std::string completed_request_end;  ///< "supply_duration" or "none".
  std::vector<std::string> genotype_codes;
  std::string gene_studied_code;
  std::vector<std::string> phenotype_codes;
  std::map<std::string, std::string, std::less<>> gene_by_hgnc;  ///< "HGNC:2621" -> "CYP2C19".
  std::map<std::string, std::string, std::less<>> hgnc_by_gene;
};

/// A scale as FHIR sees it: the KB definition and its LOINC codes.
struct FhirScale {
  ScaleDefinition definition;
  std::map<std::string, std::size_t, std::less<>> item_by_loinc;
};

/// Everything kb/fhir holds, indexed. Immutable after loading; points into the KB it was read from.
class FhirKnowledge {
 public:
  /// The product with this RxCUI, or null.
  [[nodiscard]] const RxNormProduct* FindProduct(std::string_view rxcui) const;
  /// The KB drug whose ingredient RxCUI (codes.rxnorm) this is, or null.
  [[nodiscard]] const Drug* FindIngredient(std::string_view rxcui) const;
  /// The target of a code for a resource type: an exact code first, then the longest matching prefix
  /// (ICD-10 codes are compared with and without their dot). Null when no value set has the code.
  [[nodiscard]] const RecordTarget* FindCode(std::string_view resource, std::string_view system, std::string_view code) const;
  /// The code refract writes for a record value ("diagnoses", "mdd"); null when no value set maps it.
  [[nodiscard]] const TargetCode* CodeFor(std::string_view list, std::string_view value) const;
  /// The code of one component of a record value ("vitals", "blood_pressure", "systolic"), or null.
  [[nodiscard]] const TargetCode* ComponentCode(std::string_view list, std::string_view value, std::string_view component) const;
  /// Every code of the value set that maps a record value, in KB order (empty when none).
  [[nodiscard]] std::vector<TargetCode> CodesFor(std::string_view list, std::string_view value) const;
  /// The score of a coded answer to an item of a scale, from the KB answer lists.
  [[nodiscard]] std::optional<int> AnswerScore(std::string_view scale_id, std::string_view item_label, std::string_view system,
                                               std::string_view code) const;
  /// A LOINC answer code for a score of an item, for export; empty when the KB has none.
  [[nodiscard]] const std::pair<std::string, std::string>* AnswerCode(std::string_view scale_id, std::string_view item_label, int score) const;

  [[nodiscard]] const FhirConventions& conventions() const { return conventions_; }
  /// Scales by id ("scale.phq9").
  [[nodiscard]] const std::map<std::string, FhirScale, std::less<>>& scales() const { return scales_; }
  [[nodiscard]] const FhirScale* FindScale(std::string_view scale_id) const;
  /// The scale whose total, panel or item LOINC this is: (scale, item index or nothing for total/panel).
  [[nodiscard]] const FhirScale* ScaleByTotal(std::string_view loinc) const;
  [[nodiscard]] const FhirScale* ScaleByPanel(std::string_view loinc) const;
  [[nodiscard]] std::optional<std::pair<const FhirScale*, std::size_t>> ScaleItemByLoinc(std::string_view loinc) const;
  [[nodiscard]] const KnowledgeBase& kb() const { return *kb_; }

 private:
  friend class FhirKnowledgeBuilder;
  struct Prefix {
    std::string code;
    std::vector<std::string> except;
    std::size_t target = 0;
  };
  struct AnswerKey {
    std::string scale;
    std::string item;
  };
  const KnowledgeBase* kb_ = nullptr;
  std::map<std::string, RxNormProduct, std::less<>> products_;
  std::map<std::string, const Drug*, std::less<>> ingredients_;
  std::vector<RecordTarget> targets_;
  std::map<std::string, std::size_t, std::less<>> exact_codes_;  ///< "resource|system|code".
  std::map<std::string, std::vector<Prefix>, std::less<>> prefixes_;  ///< "resource|system".
  std::map<std::string, std::vector<TargetCode>, std::less<>> codes_by_value_;  ///< "list|value" (no component).
  std::map<std::string, int, std::less<>> answers_;  ///< "scale|item|system|code".
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> answer_codes_;  ///< "scale|item|score" -> code, display.
  FhirConventions conventions_;
  std::map<std::string, FhirScale, std::less<>> scales_;
  std::map<std::string, std::string, std::less<>> scale_by_total_;
  std::map<std::string, std::string, std::less<>> scale_by_panel_;
  std::map<std::string, std::pair<std::string, std::size_t>, std::less<>> scale_item_by_loinc_;
};

/// Lists every problem of the KB's FHIR files: an RxCUI listed twice, a product whose drug counts its
/// dose in another unit without saying so, an answer list naming an unknown scale or item, a code in
/// two value sets of one resource type, a missing conventions file. Empty when consistent.
[[nodiscard]] std::vector<Error> CheckFhirKnowledge(const KnowledgeBase& kb);

/// Builds the FHIR knowledge from a loaded KB. Fails with KbReference naming the first problem that
/// CheckFhirKnowledge finds (and how many there are). The result points into `kb`, which must outlive it.
[[nodiscard]] Result<FhirKnowledge> LoadFhirKnowledge(const KnowledgeBase& kb);

}  // namespace refract::fhir
