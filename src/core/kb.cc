// SPDX-License-Identifier: Apache-2.0
// Loading and checking the knowledge base.
#include "refract/core/kb.h"

#include "refract/core/json_schema.h"
#include "refract/core/sha256.h"
#include "refract/core/text.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace refract {

std::string_view CountsAsName(CountsAs value) {
  switch (value) {
    case CountsAs::Antidepressant: return "antidepressant";
    case CountsAs::Augmentation: return "augmentation";
    case CountsAs::Interventional: return "interventional";
    case CountsAs::Other: return "other";
  }
  return "antidepressant";
}

std::string_view StagingGroupName(StagingGroup value) {
  switch (value) {
    case StagingGroup::Ssri: return "ssri";
    case StagingGroup::Snri: return "snri";
    case StagingGroup::Tca: return "tca";
    case StagingGroup::Maoi: return "maoi";
    case StagingGroup::Other: return "other";
    case StagingGroup::NotAntidepressant: return "not_antidepressant";
  }
  return "other";
}

std::string_view OutcomeName(Outcome value) {
  switch (value) {
    case Outcome::Nonresponse: return "nonresponse";
    case Outcome::Partial: return "partial";
    case Outcome::Response: return "response";
    case Outcome::Remission: return "remission";
    case Outcome::Intolerance: return "intolerance";
    case Outcome::Unknown: return "unknown";
  }
  return "unknown";
}

namespace {

StagingGroup ParseStagingGroup(const std::string& text) {
  if (text == "ssri") return StagingGroup::Ssri;
  if (text == "snri") return StagingGroup::Snri;
  if (text == "tca") return StagingGroup::Tca;
  if (text == "maoi") return StagingGroup::Maoi;
  if (text == "not_antidepressant") return StagingGroup::NotAntidepressant;
  return StagingGroup::Other;
}

Outcome ParseOutcomeName(const std::string& text) {
  if (text == "nonresponse") return Outcome::Nonresponse;
  if (text == "partial") return Outcome::Partial;
  if (text == "response") return Outcome::Response;
  if (text == "remission") return Outcome::Remission;
  if (text == "intolerance") return Outcome::Intolerance;
  return Outcome::Unknown;
}

// Checked accessors: every file passed its schema before these run, so a missing or mistyped
// value here means a schema that is too loose; fall back to the empty value rather than throw.
std::string Str(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_string() ? found->get<std::string>() : std::string();
}

double Num(const nlohmann::json& node, const char* key, double fallback = 0) {
  const auto found = node.find(key);
  return found != node.end() && found->is_number() ? found->get<double>() : fallback;
}

int Int(const nlohmann::json& node, const char* key, int fallback = 0) {
  const auto found = node.find(key);
  return found != node.end() && found->is_number_integer() ? found->get<int>() : fallback;
}

bool Bool(const nlohmann::json& node, const char* key, bool fallback = false) {
  const auto found = node.find(key);
  return found != node.end() && found->is_boolean() ? found->get<bool>() : fallback;
}

std::vector<std::string> Strings(const nlohmann::json& node, const char* key) {
  std::vector<std::string> out;
  const auto found = node.find(key);
  if (found == node.end() || !found->is_array()) return out;
  for (const auto& entry : *found) {
    if (entry.is_string()) out.push_back(entry.get<std::string>());
  }
  return out;
}

std::optional<std::string> OptStr(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  if (found == node.end() || !found->is_string()) return std::nullopt;
  return found->get<std::string>();
}

std::vector<BandRow> BandRows(const nlohmann::json& rows, const char* max_key) {
  std::vector<BandRow> out;
  for (const auto& row : rows) {
    BandRow band{Str(row, "label"), std::nullopt, Int(row, "points")};
    if (row.contains(max_key)) band.max = Int(row, max_key);
    out.push_back(band);
  }
  return out;
}

bool IsJsonFile(const std::string& path) { return path.size() > 5 && path.substr(path.size() - 5) == ".json"; }

std::string Stem(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return name.substr(0, name.size() - 5);
}

std::string Directory(const std::string& path) {
  const std::size_t slash = path.find('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

}  // namespace

class KbBuilder {
 public:
  explicit KbBuilder(std::span<const KbFile> files, KbLoadOptions options = {}) : files_(files), options_(std::move(options)) {}

  KnowledgeBase Build(std::string origin) {
    kb_.origin_ = std::move(origin);
    kb_.digest_ = options_.digest.empty() ? KbDigest(files_) : options_.digest;
    ParseFiles();
    if (!errors_.empty()) return std::move(kb_);
    LoadSchemas();
    if (!errors_.empty()) return std::move(kb_);
    for (const auto& [path, json] : parsed_) LoadEntity(path, json);
    CheckSingletons();
    CheckReferences();
    return std::move(kb_);
  }

  std::vector<Error>& errors() { return errors_; }

 private:
  void AddError(ErrorCode code, std::string message, std::string location) {
    errors_.push_back(Error{code, std::move(message), std::move(location)});
  }

  void ParseFiles() {
    for (const KbFile& file : files_) {
      if (file.path.rfind("DEVIATIONS", 0) == 0) deviations_text_ += file.content;
      if (!IsJsonFile(file.path)) continue;
      auto json = nlohmann::json::parse(file.content, nullptr, false);
      if (json.is_discarded()) {
        AddError(ErrorCode::KbSchema, "file is not valid JSON", "kb/" + file.path);
        continue;
      }
      parsed_.emplace(file.path, std::move(json));
    }
    if (parsed_.count("manifest.json") == 0) AddError(ErrorCode::KbSchema, "manifest.json is missing", "kb/");
    if (parsed_.count("sources.json") == 0) AddError(ErrorCode::KbSchema, "sources.json is missing", "kb/");
  }

  void LoadSchemas() {
    if (!options_.validate_schemas) return;
    for (const auto& [path, json] : parsed_) {
      if (Directory(path) != "schema") continue;
      const std::string name = Stem(path);  // "drug.schema"
      const std::string kind = name.substr(0, name.find('.'));
      SchemaValidator validator(json);
      for (const std::string& keyword : validator.CheckSchemaKeywords()) {
        AddError(ErrorCode::KbSchema, fmt::format("schema uses an unsupported keyword ({})", keyword), "kb/" + path);
      }
      validators_.emplace(kind, std::move(validator));
    }
  }

  const SchemaValidator* SchemaFor(const std::string& path, const nlohmann::json& json) {
    if (!options_.validate_schemas) return nullptr;
    std::string kind;
    if (path == "manifest.json") kind = "manifest";
    if (path == "sources.json") kind = "sources";
    if (Directory(path) == "drugs") kind = "drug";
    if (Directory(path) == "classes") kind = "class";
    // Any other directory holds entities that name their kind; modules read them by kind.
    if (kind.empty() && !Directory(path).empty()) kind = Str(json, "kind");
    if (kind.empty()) {
      AddError(ErrorCode::KbSchema, "file has no \"kind\" (every KB file outside drugs/ and classes/ names its kind)",
               "kb/" + path);
      return nullptr;
    }
    const auto found = validators_.find(kind);
    if (found == validators_.end()) {
      AddError(ErrorCode::KbSchema, fmt::format("no schema for kind \"{}\" (expected kb/schema/{}.schema.json)", kind, kind),
               "kb/" + path + "#/kind");
      return nullptr;
    }
    return &found->second;
  }

  void LoadEntity(const std::string& path, const nlohmann::json& json) {
    if (Directory(path) == "schema") return;
    if (options_.validate_schemas) {
      const SchemaValidator* validator = SchemaFor(path, json);
      if (validator == nullptr) return;
      const auto violations = validator->Validate(json);
      for (const SchemaViolation& violation : violations) {
        AddError(ErrorCode::KbSchema, violation.message, "kb/" + path + "#" + violation.pointer);
      }
      if (!violations.empty()) {
        // Keep the id known so that one broken file is reported once, not again by every
        // reference to it.
        if (const std::string id = Str(json, "id"); !id.empty()) seen_ids_.insert(id);
        return;
      }
    }
    const std::string location = "kb/" + path;
    if (path == "manifest.json") {
      kb_.version_ = Str(json, "kb_version");
      kb_.default_criteria_ = Str(json, "default_criteria");
      return;
    }
    kb_.raw_files_.emplace(path, json);
    if (const std::string file_kind = Str(json, "kind"); !file_kind.empty()) kb_.files_by_kind_[file_kind].push_back(path);
    if (path == "sources.json") {
      for (const auto& entry : json["sources"]) {
        Source source{Str(entry, "id"), Str(entry, "citation"), Int(entry, "year"), Str(entry, "url"), Str(entry, "doi")};
        if (!seen_sources_.insert(source.id).second) {
          AddError(ErrorCode::KbReference, fmt::format("source id \"{}\" is defined twice", source.id), location);
        }
        kb_.sources_.push_back(std::move(source));
      }
      return;
    }
    const std::string id = Str(json, "id");
    const bool named_by_id = Directory(path) == "drugs" || Directory(path) == "classes";
    if (named_by_id && Stem(path) != id.substr(id.find('.') + 1)) {
      AddError(ErrorCode::KbReference, fmt::format("id \"{}\" does not match the file name", id), location + "#/id");
    }
    if (!seen_ids_.insert(id).second) AddError(ErrorCode::KbReference, fmt::format("id \"{}\" is defined twice", id), location);
    std::vector<PointerToken> pointer_tokens;
    CollectReferences(json, location, pointer_tokens);
    if (json.contains("retired")) return;
    const std::string kind = Str(json, "kind");
    if (kind == "drug") LoadDrug(json, location);
    if (kind == "class") {
      kb_.classes_.push_back(DrugClass{id, Str(json, "name"), ParseStagingGroup(Str(json, "staging_group")), Strings(json, "sources")});
    }
    if (kind == "criteria") LoadCriteria(json);
    if (kind == "outcome_bands") {
      kb_.outcome_bands_ = OutcomeBands{id, Num(json, "partial_from_percent"), Num(json, "response_from_percent"), Strings(json, "sources")};
      if (kb_.outcome_bands_.partial_from_percent >= kb_.outcome_bands_.response_from_percent) {
        AddError(ErrorCode::KbReference, "partial_from_percent must be below response_from_percent", location);
      }
      singletons_.insert("outcome_bands");
    }
    if (kind == "trd_definition") {
      kb_.trd_definition_ = TrdDefinition{id,
                                          Str(json, "name"),
                                          Int(json, "min_failed_trials"),
                                          Bool(json, "distinct_drugs", true),
                                          Strings(json, "excluding_diagnoses"),
                                          Strings(json, "excluding_history"),
                                          Strings(json, "sources")};
      singletons_.insert("trd_definition");
    }
    if (kind == "staging_thase_rush") {
      kb_.thase_rush_ = ThaseRushModel{id,
                                       Str(json, "name"),
                                       Int(json, "stage2_min_distinct_groups", 2),
                                       ParseStagingGroup(Str(json, "stage3_group")),
                                       ParseStagingGroup(Str(json, "stage4_group")),
                                       Strings(json, "stage5_ect_placements"),
                                       Strings(json, "sources")};
      singletons_.insert("staging_thase_rush");
    }
    if (kind == "staging_european") LoadEuropean(json, location);
    if (kind == "staging_maudsley") LoadMaudsley(json, location);
    if (kind == "staging_mgh") {
      kb_.mgh_ = MghModel{id,
                          Str(json, "name"),
                          Num(json, "per_failed_trial"),
                          Num(json, "dose_optimized"),
                          Num(json, "duration_optimized"),
                          Num(json, "augmented_or_combined"),
                          Num(json, "failed_ect"),
                          Strings(json, "sources")};
      singletons_.insert("staging_mgh");
    }
  }

  void LoadDrug(const nlohmann::json& json, const std::string& location) {
    Drug drug;
    drug.id = Str(json, "id");
    const auto& names = json["names"];
    drug.inn = Str(names, "inn");
    drug.brands = Strings(names, "brands");
    drug.synonyms = Strings(names, "synonyms");
    drug.misspellings = Strings(names, "misspellings");
    drug.rxnorm = OptStr(json["codes"], "rxnorm");
    drug.atc = OptStr(json["codes"], "atc");
    drug.class_id = Str(json, "class");
    drug.mechanism = Str(json, "mechanism");
    const std::string counts_as = Str(json, "counts_as");
    drug.counts_as = counts_as == "augmentation"     ? CountsAs::Augmentation
                     : counts_as == "interventional" ? CountsAs::Interventional
                     : counts_as == "other"          ? CountsAs::Other
                                                     : CountsAs::Antidepressant;
    drug.markets = Strings(json, "markets");
    if (const auto adequacy = json.find("adequacy"); adequacy != json.end()) {
      DrugAdequacy block{Num(*adequacy, "min_dose_mg_per_day"), std::nullopt, std::nullopt, Str(*adequacy, "basis"),
                         Strings(*adequacy, "sources")};
      if (adequacy->contains("min_duration_days")) block.min_duration_days = Int(*adequacy, "min_duration_days");
      if (const auto level = adequacy->find("serum_level"); level != adequacy->end()) {
        block.serum_level = SerumLevelRule{Str(*level, "lab"), Num(*level, "min"), Strings(*level, "units"), Strings(*level, "sources")};
      }
      drug.adequacy = block;
    }
    if (const auto max_dose = json.find("max_dose_mg_per_day"); max_dose != json.end()) {
      drug.max_dose_mg_per_day = Num(*max_dose, "value");
      drug.max_dose_sources = Strings(*max_dose, "sources");
    }
    if (drug.adequacy && drug.max_dose_mg_per_day && drug.adequacy->min_dose_mg_per_day > *drug.max_dose_mg_per_day) {
      AddError(ErrorCode::KbReference,
               fmt::format("minimum adequate dose {} mg/day is above the maximum {} mg/day",
                           FormatNumber(drug.adequacy->min_dose_mg_per_day), FormatNumber(*drug.max_dose_mg_per_day)),
               location + "#/adequacy/min_dose_mg_per_day");
    }
    if ((drug.counts_as == CountsAs::Antidepressant || drug.counts_as == CountsAs::Augmentation) && !drug.adequacy) {
      AddError(ErrorCode::KbReference, "an antidepressant or augmenting agent needs an adequacy block", location);
    }
    drug.components = Strings(json, "components");
    drug.dose_expressed_as = Str(json, "dose_expressed_as");
    drug.notes = Str(json, "notes");
    kb_.drugs_.push_back(std::move(drug));
  }

  void LoadCriteria(const nlohmann::json& json) {
    Criteria criteria;
    criteria.id = Str(json, "id");
    criteria.name = Str(json, "name");
    criteria.description = Str(json, "description");
    criteria.min_duration_days = Int(json, "min_duration_days");
    criteria.adherence_min_percent = Num(json["adherence"], "min_percent");
    criteria.adherence_accepted = Strings(json["adherence"], "accepted");
    criteria.adherence_unknown_is_indeterminate = Str(json["adherence"], "when_unknown") == "indeterminate";
    criteria.failure_percent = Num(json["failure"], "improvement_percent");
    criteria.failure_at_or_below = Str(json["failure"], "comparison") == "at_or_below";
    for (const std::string& outcome : Strings(json["failure"], "outcomes")) {
      criteria.failure_outcomes.push_back(ParseOutcomeName(outcome));
    }
    criteria.sources = Strings(json, "sources");
    kb_.criteria_.push_back(std::move(criteria));
  }

  void LoadEuropean(const nlohmann::json& json, const std::string& location) {
    EuropeanModel model{Str(json, "id"), Str(json, "name"), {}, Int(json, "crd_min_months", 12),
                        Bool(json, "crd_requires_augmentation", true), Strings(json, "sources")};
    int previous = 0;
    for (const auto& level : json["levels"]) {
      model.levels.push_back(
          EuropeanLevel{Str(level, "category"), Int(level, "failed_trials"), Num(level, "weeks_from"), Num(level, "weeks_to")});
      if (model.levels.back().failed_trials <= previous) {
        AddError(ErrorCode::KbReference, "levels must be in increasing order of failed_trials", location + "#/levels");
      }
      previous = model.levels.back().failed_trials;
    }
    kb_.european_ = std::move(model);
    singletons_.insert("staging_european");
  }

  void CheckBandRows(const std::vector<BandRow>& rows, const std::string& location) {
    for (std::size_t row_idx = 0; row_idx < rows.size(); ++row_idx) {
      const bool last = row_idx + 1 == rows.size();
      if (last == rows[row_idx].max.has_value()) {
        AddError(ErrorCode::KbReference, "every row but the last needs an upper bound, and the last none",
                 location + "/" + std::to_string(row_idx));
      }
      if (row_idx > 0 && rows[row_idx].max && rows[row_idx - 1].max && *rows[row_idx].max <= *rows[row_idx - 1].max) {
        AddError(ErrorCode::KbReference, "upper bounds must increase", location + "/" + std::to_string(row_idx));
      }
    }
  }

  void LoadMaudsley(const nlohmann::json& json, const std::string& location) {
    MaudsleyModel model;
    model.id = Str(json, "id");
    model.name = Str(json, "name");
    model.duration_months = BandRows(json["duration"], "max_months");
    model.failures = BandRows(json["failures"], "max_failed");
    CheckBandRows(model.duration_months, location + "#/duration");
    CheckBandRows(model.failures, location + "#/failures");
    for (const auto& row : json["severity"]) {
      model.severity.push_back({Str(row, "severity"), Bool(row, "psychotic"), Int(row, "points")});
    }
    model.augmentation_points = Int(json, "augmentation_points");
    model.ect_points = Int(json, "ect_points");
    int expected_min = -1;
    for (const auto& row : json["bands"]) {
      model.bands.push_back({Str(row, "band"), Int(row, "min_total"), Int(row, "max_total")});
      if (expected_min >= 0 && model.bands.back().min_total != expected_min) {
        AddError(ErrorCode::KbReference, "bands must be contiguous", location + "#/bands");
      }
      expected_min = model.bands.back().max_total + 1;
    }
    model.sources = Strings(json, "sources");
    kb_.maudsley_ = std::move(model);
    singletons_.insert("staging_maudsley");
  }

  // Remembers every reference to another id so they can be resolved once all files are read. The
  // JSON pointer of a node is spelled out only for the strings that are references.
  struct PointerToken {
    const std::string* key = nullptr;  // an object member, or
    std::size_t index = 0;             // an array item
  };
  void CollectReferences(const nlohmann::json& node, const std::string& location, std::vector<PointerToken>& path) {
    if (node.is_object()) {
      for (auto member = node.begin(); member != node.end(); ++member) {
        path.push_back(PointerToken{&member.key(), 0});
        CollectReferences(member.value(), location, path);
        path.pop_back();
      }
      return;
    }
    if (node.is_array()) {
      for (std::size_t item_idx = 0; item_idx < node.size(); ++item_idx) {
        path.push_back(PointerToken{nullptr, item_idx});
        CollectReferences(node[item_idx], location, path);
        path.pop_back();
      }
      return;
    }
    if (!node.is_string() || (path.size() == 1 && path[0].key != nullptr && *path[0].key == "id")) return;
    const auto& text = node.get_ref<const std::string&>();
    bool reference = false;
    for (const char* prefix : {"source.", "class.", "dev.", "drug."}) reference = reference || text.rfind(prefix, 0) == 0;
    if (!reference || text.find(' ') != std::string::npos) return;
    std::string pointer;
    for (const PointerToken& token : path) pointer += "/" + (token.key != nullptr ? EscapePointerToken(*token.key) : std::to_string(token.index));
    references_.push_back({text, location + "#" + pointer});
  }

  void CheckSingletons() {
    for (const char* kind : {"outcome_bands", "trd_definition", "staging_thase_rush", "staging_european", "staging_maudsley", "staging_mgh"}) {
      if (singletons_.count(kind) == 0) AddError(ErrorCode::KbReference, fmt::format("no rule of kind \"{}\"", kind), "kb/rules/");
    }
    if (kb_.criteria_.empty()) AddError(ErrorCode::KbReference, "no criteria set", "kb/rules/");
  }

  void CheckReferences() {
    for (const auto& [target, location] : references_) {
      bool found = seen_ids_.count(target) > 0 || seen_sources_.count(target) > 0;
      if (target.rfind("dev.", 0) == 0) found = deviations_text_.find(target) != std::string::npos;
      if (!found) {
        AddError(ErrorCode::KbReference,
                 target.rfind("dev.", 0) == 0 ? fmt::format("deviation \"{}\" is not described in DEVIATIONS.md", target)
                                              : fmt::format("reference \"{}\" does not resolve", target),
                 location);
      }
    }
    if (!kb_.default_criteria_.empty() && kb_.FindCriteria(kb_.default_criteria_) == nullptr) {
      AddError(ErrorCode::KbReference, fmt::format("default criteria \"{}\" does not exist", kb_.default_criteria_),
               "kb/manifest.json#/default_criteria");
    }
    std::sort(kb_.drugs_.begin(), kb_.drugs_.end(), [](const Drug& left, const Drug& right) { return left.id < right.id; });
    std::sort(kb_.classes_.begin(), kb_.classes_.end(), [](const DrugClass& left, const DrugClass& right) { return left.id < right.id; });
    std::sort(kb_.criteria_.begin(), kb_.criteria_.end(), [](const Criteria& left, const Criteria& right) { return left.id < right.id; });
    std::sort(kb_.sources_.begin(), kb_.sources_.end(), [](const Source& left, const Source& right) { return left.id < right.id; });
    for (std::size_t drug_idx = 0; drug_idx < kb_.drugs_.size(); ++drug_idx) {
      const Drug& drug = kb_.drugs_[drug_idx];
      std::vector<std::string> names = {drug.id, drug.inn};
      for (const auto* list : {&drug.brands, &drug.synonyms, &drug.misspellings}) names.insert(names.end(), list->begin(), list->end());
      for (const std::string& name : names) {
        const std::string key = NormalizeName(name);
        const auto [it, inserted] = kb_.drug_by_name_.emplace(key, drug_idx);
        if (!inserted && it->second != drug_idx) {
          AddError(ErrorCode::KbReference,
                   fmt::format("name \"{}\" belongs to both {} and {}", name, kb_.drugs_[it->second].id, drug.id),
                   "kb/drugs/" + drug.id.substr(5) + ".json#/names");
          continue;
        }
        if (inserted) kb_.drug_names_.push_back(name);
      }
    }
  }

  std::span<const KbFile> files_;
  KbLoadOptions options_;
  KnowledgeBase kb_;
  std::vector<Error> errors_;
  std::map<std::string, nlohmann::json> parsed_;
  std::map<std::string, SchemaValidator> validators_;
  std::set<std::string> seen_ids_;
  std::set<std::string> seen_sources_;
  std::set<std::string> singletons_;
  std::vector<std::pair<std::string, std::string>> references_;
  std::string deviations_text_;
};

const Drug* KnowledgeBase::FindDrugByName(std::string_view name) const {
  const auto found = drug_by_name_.find(NormalizeName(name));
  return found != drug_by_name_.end() ? &drugs_[found->second] : nullptr;
}

Result<const Drug*> KnowledgeBase::ResolveDrug(std::string_view name) const {
  const auto found = drug_by_name_.find(NormalizeName(name));
  if (found != drug_by_name_.end()) return &drugs_[found->second];
  std::string message = fmt::format("unknown drug \"{}\"", name);
  if (auto suggestion = Suggest(name, drug_names_)) {
    const Drug& drug = drugs_[drug_by_name_.find(NormalizeName(*suggestion))->second];
    message += NormalizeName(*suggestion) == drug.inn ? fmt::format(" (did you mean \"{}\"?)", drug.inn)
                                                       : fmt::format(" (did you mean \"{}\", that is {}?)", *suggestion, drug.inn);
  }
  return Fail(ErrorCode::InvalidInput, message);
}

const Drug* KnowledgeBase::FindDrug(std::string_view id) const {
  const auto found = std::lower_bound(drugs_.begin(), drugs_.end(), id, [](const Drug& drug, std::string_view key) { return drug.id < key; });
  return found != drugs_.end() && found->id == id ? &*found : nullptr;
}

const DrugClass* KnowledgeBase::FindClass(std::string_view id) const {
  for (const DrugClass& entry : classes_) {
    if (entry.id == id) return &entry;
  }
  return nullptr;
}

const Criteria* KnowledgeBase::FindCriteria(std::string_view id) const {
  for (const Criteria& entry : criteria_) {
    if (entry.id == id) return &entry;
  }
  return nullptr;
}

const Source* KnowledgeBase::FindSource(std::string_view id) const {
  const auto found = std::lower_bound(sources_.begin(), sources_.end(), id, [](const Source& source, std::string_view key) { return source.id < key; });
  return found != sources_.end() && found->id == id ? &*found : nullptr;
}

std::vector<std::pair<std::string, const nlohmann::json*>> KnowledgeBase::FilesOfKind(std::string_view kind) const {
  std::vector<std::pair<std::string, const nlohmann::json*>> out;
  const auto found = files_by_kind_.find(kind);
  if (found == files_by_kind_.end()) return out;
  for (const std::string& path : found->second) out.emplace_back(path, &raw_files_.find(path)->second);
  return out;
}

const nlohmann::json* KnowledgeBase::RawFile(std::string_view path) const {
  const auto found = raw_files_.find(path);
  return found == raw_files_.end() ? nullptr : &found->second;
}

std::string KbDigest(std::span<const KbFile> files) {
  std::vector<const KbFile*> sorted;
  for (const KbFile& file : files) {
    if (IsJsonFile(file.path)) sorted.push_back(&file);
  }
  std::sort(sorted.begin(), sorted.end(), [](const KbFile* left, const KbFile* right) { return left->path < right->path; });
  Sha256 hash;
  for (const KbFile* file : sorted) {
    hash.Update(file->path);
    hash.Update(std::string_view("\0", 1));
    hash.Update(file->content);
    hash.Update(std::string_view("\0", 1));
  }
  return "sha256:" + hash.HexDigest();
}

std::vector<Error> CheckKnowledgeBase(std::span<const KbFile> files) {
  KbBuilder builder(files);
  (void)builder.Build("check");
  return std::move(builder.errors());
}

Result<KnowledgeBase> LoadKnowledgeBase(std::span<const KbFile> files, std::string origin, const KbLoadOptions& options) {
  KbBuilder builder(files, options);
  KnowledgeBase kb = builder.Build(std::move(origin));
  const auto& errors = builder.errors();
  if (!errors.empty()) {
    Error first = errors.front();
    if (errors.size() > 1) first.message += fmt::format(" (and {} more problems; run refract kb check)", errors.size() - 1);
    return tl::unexpected<Error>(first);
  }
  return kb;
}

}  // namespace refract
