// SPDX-License-Identifier: Apache-2.0
/// The knowledge base: drugs, classes, criteria, outcome bands, the TRD definition and
/// staging models, loaded from versioned JSON files with sources.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <typeindex>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/result.h"

namespace refract {

/// One file of a knowledge base, with its path relative to the KB root ("drugs/sertraline.json").
struct KbFile {
  std::string path;
  std::string content;
};

/// How a course of a drug counts in the assessment.
/// `Other` is a non-psychiatric drug or supplement, catalogued for interaction rules.
enum class CountsAs { Antidepressant, Augmentation, Interventional, Other };

/// Antidepressant groups as Thase & Rush staging distinguishes them.
enum class StagingGroup { Ssri, Snri, Tca, Maoi, Other, NotAntidepressant };

/// Stable lower-case names used in JSON ("antidepressant", "ssri", ...).
[[nodiscard]] std::string_view CountsAsName(CountsAs value);
[[nodiscard]] std::string_view StagingGroupName(StagingGroup value);

/// A bibliographic source a KB value is traced to.
struct Source {
  std::string id;
  std::string citation;
  int year = 0;
  std::string url;
  std::string doi;
};

/// A serum level that decides adequacy instead of the dose when one is recorded.
struct SerumLevelRule {
  std::string lab;
  double min = 0;
  std::vector<std::string> units;
  std::vector<std::string> sources;
};

/// The minimum dose that makes a course adequate.
struct DrugAdequacy {
  double min_dose_mg_per_day = 0;
  std::optional<int> min_duration_days;
  std::optional<SerumLevelRule> serum_level;
  std::string basis;
  std::vector<std::string> sources;
};

/// One drug of the catalogue.
struct Drug {
  std::string id;
  std::string inn;
  std::vector<std::string> brands;
  std::vector<std::string> synonyms;
  std::vector<std::string> misspellings;
  std::optional<std::string> rxnorm;
  std::optional<std::string> atc;
  std::string class_id;
  std::string mechanism;
  CountsAs counts_as = CountsAs::Antidepressant;
  std::vector<std::string> markets;
  std::optional<DrugAdequacy> adequacy;
  std::optional<double> max_dose_mg_per_day;
  std::vector<std::string> max_dose_sources;
  std::vector<std::string> components;
  std::string dose_expressed_as;  ///< Empty when a dose is plain mg/day of the drug.
  std::string notes;
};

/// A drug class and its staging group.
struct DrugClass {
  std::string id;
  std::string name;
  StagingGroup staging_group = StagingGroup::Other;
  std::vector<std::string> sources;
};

/// Outcome categories a failure test may name.
enum class Outcome { Nonresponse, Partial, Response, Remission, Intolerance, Unknown };
[[nodiscard]] std::string_view OutcomeName(Outcome value);

/// A named set of adequacy and failure criteria (criteria.atrq and its variants).
struct Criteria {
  std::string id;
  std::string name;
  std::string description;
  int min_duration_days = 0;
  double adherence_min_percent = 0;
  std::vector<std::string> adherence_accepted;
  bool adherence_unknown_is_indeterminate = true;
  double failure_percent = 0;
  bool failure_at_or_below = false;
  std::vector<Outcome> failure_outcomes;
  std::vector<std::string> sources;
};

/// Bands that turn a percent improvement into an outcome.
struct OutcomeBands {
  std::string id;
  double partial_from_percent = 0;
  double response_from_percent = 0;
  std::vector<std::string> sources;
};

/// The definition of treatment-resistant depression.
struct TrdDefinition {
  std::string id;
  std::string name;
  int min_failed_trials = 0;
  bool distinct_drugs = true;
  std::vector<std::string> excluding_diagnoses;
  std::vector<std::string> excluding_history;
  std::vector<std::string> sources;
};

/// Parameters of Thase & Rush staging.
struct ThaseRushModel {
  std::string id;
  std::string name;
  int stage2_min_distinct_groups = 2;
  StagingGroup stage3_group = StagingGroup::Tca;
  StagingGroup stage4_group = StagingGroup::Maoi;
  std::vector<std::string> stage5_ect_placements;
  std::vector<std::string> sources;
};

/// One level of the European Staging Method.
struct EuropeanLevel {
  std::string category;
  int failed_trials = 0;
  double weeks_from = 0;
  double weeks_to = 0;
};

/// Parameters of the European Staging Method.
struct EuropeanModel {
  std::string id;
  std::string name;
  std::vector<EuropeanLevel> levels;
  int crd_min_months = 12;
  bool crd_requires_augmentation = true;
  std::vector<std::string> sources;
};

/// One banded scoring row: values up to `max` (inclusive) score `points`; the last row has no max.
struct BandRow {
  std::string label;
  std::optional<int> max;
  int points = 0;
};

/// Parameters of the Maudsley Staging Method.
struct MaudsleyModel {
  std::string id;
  std::string name;
  std::vector<BandRow> duration_months;
  struct SeverityRow {
    std::string severity;
    bool psychotic = false;
    int points = 0;
  };
  std::vector<SeverityRow> severity;
  std::vector<BandRow> failures;
  int augmentation_points = 1;
  int ect_points = 1;
  struct Band {
    std::string band;
    int min_total = 0;
    int max_total = 0;
  };
  std::vector<Band> bands;
  std::vector<std::string> sources;
};

/// Parameters of the MGH staging model.
struct MghModel {
  std::string id;
  std::string name;
  double per_failed_trial = 1;
  double dose_optimized = 0.5;
  double duration_optimized = 0.5;
  double augmented_or_combined = 0.5;
  double failed_ect = 3;
  std::vector<std::string> sources;
};

/// A loaded, validated knowledge base. Immutable after loading.
class KnowledgeBase {
 public:
  /// Finds a drug by KB id, generic name, brand, synonym or listed misspelling (case-insensitive).
  /// An unknown name gives InvalidInput with a "did you mean" suggestion when one is close.
  [[nodiscard]] Result<const Drug*> ResolveDrug(std::string_view name) const;
  /// The drug named `name` (INN, synonym or brand, as ResolveDrug reads it), or null; no suggestion
  /// is worked out for an unknown name.
  [[nodiscard]] const Drug* FindDrugByName(std::string_view name) const;
  [[nodiscard]] const Drug* FindDrug(std::string_view id) const;
  [[nodiscard]] const DrugClass* FindClass(std::string_view id) const;
  [[nodiscard]] const Criteria* FindCriteria(std::string_view id) const;
  [[nodiscard]] const Source* FindSource(std::string_view id) const;

  [[nodiscard]] const std::vector<Drug>& drugs() const { return drugs_; }
  [[nodiscard]] const std::vector<Criteria>& criteria() const { return criteria_; }
  [[nodiscard]] const std::vector<Source>& sources() const { return sources_; }
  [[nodiscard]] const OutcomeBands& outcome_bands() const { return outcome_bands_; }
  [[nodiscard]] const TrdDefinition& trd_definition() const { return trd_definition_; }
  [[nodiscard]] const ThaseRushModel& thase_rush() const { return thase_rush_; }
  [[nodiscard]] const EuropeanModel& european() const { return european_; }
  [[nodiscard]] const MaudsleyModel& maudsley() const { return maudsley_; }
  [[nodiscard]] const MghModel& mgh() const { return mgh_; }
  [[nodiscard]] const std::string& version() const { return version_; }
  [[nodiscard]] const std::string& digest() const { return digest_; }
  [[nodiscard]] const std::string& default_criteria() const { return default_criteria_; }
  /// Where the KB came from: "built-in" or the directory given with --kb.
  [[nodiscard]] const std::string& origin() const { return origin_; }
  /// Every schema-valid file of a kind ("scale", "pgx_allele", ...), as (KB path, JSON), sorted by
  /// path. Modules build their own indexes from these; the loader has already checked schema and ids.
  [[nodiscard]] std::vector<std::pair<std::string, const nlohmann::json*>> FilesOfKind(std::string_view kind) const;
  /// The raw JSON of a file by KB path, for adapters that show KB entries; null when absent.
  [[nodiscard]] const nlohmann::json* RawFile(std::string_view path) const;

  /// Module knowledge derived from this KB (scale definitions, interaction tables, PGx tables), built
  /// by `build(*this)` on first use and kept for the life of the KB, so that evaluating many patients
  /// parses each module's files once. Thread-safe; a copy of the KB starts with an empty memo (the
  /// derived objects point into the KB they were built from). Deterministic: `build` must be pure.
  template <class T, class Build>
  [[nodiscard]] const T& Derived(Build&& build) const {
    DerivedMemo& memo = *derived_.memo;
    {
      const std::lock_guard lock(memo.mutex);
      if (const auto found = memo.entries.find(std::type_index(typeid(T))); found != memo.entries.end()) {
        return *static_cast<const T*>(found->second.get());
      }
    }
    // Built outside the lock: a module may itself use other derived knowledge. Two threads racing on
    // the first use both build; the first stored wins and the result is identical.
    auto built = std::make_shared<T>(build(*this));
    const std::lock_guard lock(memo.mutex);
    const auto slot = memo.entries.emplace(std::type_index(typeid(T)), std::move(built)).first;
    return *static_cast<const T*>(slot->second.get());
  }

 private:
  friend class KbBuilder;
  struct DerivedMemo {
    std::mutex mutex;
    std::map<std::type_index, std::shared_ptr<const void>> entries;
  };
  /// Owns the memo; copying gives a fresh one, moving keeps it (drug addresses survive a move).
  struct DerivedHolder {
    std::unique_ptr<DerivedMemo> memo = std::make_unique<DerivedMemo>();
    DerivedHolder() = default;
    DerivedHolder(const DerivedHolder& /*other*/) : memo(std::make_unique<DerivedMemo>()) {}
    DerivedHolder(DerivedHolder&& other) noexcept : memo(std::exchange(other.memo, std::make_unique<DerivedMemo>())) {}
    DerivedHolder& operator=(const DerivedHolder& other) {
      if (this != &other) memo = std::make_unique<DerivedMemo>();
      return *this;
    }
    DerivedHolder& operator=(DerivedHolder&& other) noexcept {
      if (this != &other) memo = std::exchange(other.memo, std::make_unique<DerivedMemo>());
      return *this;
    }
    ~DerivedHolder() = default;
  };
  DerivedHolder derived_;
  std::vector<Drug> drugs_;
  std::vector<DrugClass> classes_;
  std::vector<Criteria> criteria_;
  std::vector<Source> sources_;
  OutcomeBands outcome_bands_;
  TrdDefinition trd_definition_;
  ThaseRushModel thase_rush_;
  EuropeanModel european_;
  MaudsleyModel maudsley_;
  MghModel mgh_;
  std::string version_;
  std::string digest_;
  std::string default_criteria_;
  std::string origin_;
  std::map<std::string, std::size_t, std::less<>> drug_by_name_;
  std::vector<std::string> drug_names_;
  std::map<std::string, nlohmann::json, std::less<>> raw_files_;
  std::map<std::string, std::vector<std::string>, std::less<>> files_by_kind_;
};

/// How LoadKnowledgeBase treats its input.
struct KbLoadOptions {
  /// Check every file against its schema. Only a KB validated at build time (the built-in one)
  /// may skip this; references and ranges are still checked.
  bool validate_schemas = true;
  /// A digest computed at build time; empty computes it from the files.
  std::string digest;
};

/// Validates and loads a knowledge base from its files.
///
/// Fails with KbSchema (a file breaks its schema or is not JSON) or KbReference (an id does
/// not resolve, a name belongs to two drugs, a range is inverted); the error names the first
/// problem and how many there are in all. `origin` is reported in every output.
[[nodiscard]] Result<KnowledgeBase> LoadKnowledgeBase(std::span<const KbFile> files, std::string origin,
                                                      const KbLoadOptions& options = {});

/// Lists every problem LoadKnowledgeBase would find, for `refract kb check`.
[[nodiscard]] std::vector<Error> CheckKnowledgeBase(std::span<const KbFile> files);

/// Content digest of a KB: SHA-256 over the JSON files sorted by path ("sha256:<hex>").
[[nodiscard]] std::string KbDigest(std::span<const KbFile> files);

}  // namespace refract
