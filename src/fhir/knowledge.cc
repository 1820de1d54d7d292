// SPDX-License-Identifier: Apache-2.0
// kb/fhir read into indexes: RxNorm products, value sets, answer lists, conventions and scale codes.
#include "refract/fhir/knowledge.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "fhir_json.h"

namespace refract::fhir {

std::string SystemUri(std::string_view record_system) {
  if (record_system == "SNOMED") return std::string(kSnomed);
  if (record_system == "ICD-10-CM") return std::string(kIcd10Cm);
  if (record_system == "ICD-10") return std::string(kIcd10);
  if (record_system == "RxNorm") return std::string(kRxNorm);
  if (record_system == "ATC") return std::string(kAtc);
  if (record_system == "LOINC") return std::string(kLoinc);
  if (record_system == "CPT") return std::string(kCpt);
  if (record_system == "local") return std::string(kRefractBase) + "/CodeSystem/local";
  return {};
}

std::string RecordSystem(std::string_view uri) {
  for (const char* name : {"SNOMED", "ICD-10-CM", "ICD-10", "RxNorm", "ATC", "LOINC", "CPT", "local"}) {
    if (SystemUri(name) == uri) return name;
  }
  return {};
}

namespace {

// ICD-10 codes arrive with and without their dot ("F33.1", "F331"); compare them dotted.
std::string CanonicalCode(std::string_view system, std::string_view code) {
  std::string out(code);
  if ((system == kIcd10Cm || system == kIcd10) && out.size() > 3 && out.find('.') == std::string::npos) out.insert(3, ".");
  return out;
}

bool UnderPrefix(std::string_view code, std::string_view prefix) {
  if (code.size() < prefix.size() || code.substr(0, prefix.size()) != prefix) return false;
  if (code.size() == prefix.size()) return true;
  // "F32" covers "F32.1" but not "F320" (a different code system's convention); "F31.1" covers "F31.13".
  return prefix.find('.') != std::string_view::npos || code[prefix.size()] == '.';
}

std::string Key(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) {
    if (!out.empty()) out += '|';
    out += part;
  }
  return out;
}

}  // namespace

class FhirKnowledgeBuilder {
 public:
  explicit FhirKnowledgeBuilder(const KnowledgeBase& kb) { knowledge_.kb_ = &kb; }

  std::vector<Error> Build() {
    const KnowledgeBase& kb = *knowledge_.kb_;
    for (const Drug& drug : kb.drugs()) {
      if (drug.rxnorm) knowledge_.ingredients_.emplace(*drug.rxnorm, &drug);
    }
    for (const auto& [path, json] : kb.FilesOfKind("fhir_rxnorm_products")) ReadProducts(path, *json);
    for (const auto& [path, json] : kb.FilesOfKind("fhir_value_set")) ReadValueSet(path, *json);
    ReadScales();
    for (const auto& [path, json] : kb.FilesOfKind("fhir_answer_list")) ReadAnswers(path, *json);
    const auto conventions = kb.FilesOfKind("fhir_conventions");
    if (conventions.size() != 1) {
      Problem(fmt::format("expected exactly one fhir_conventions file, found {}", conventions.size()), "kb/fhir/");
    } else {
      ReadConventions(conventions.front().first, *conventions.front().second);
    }
    return std::move(problems_);
  }

  FhirKnowledge Take() { return std::move(knowledge_); }

 private:
  void Problem(std::string message, std::string location) {
    problems_.push_back(Error{ErrorCode::KbReference, std::move(message), std::move(location)});
  }

  void ReadProducts(const std::string& path, const nlohmann::json& json) {
    const Drug* drug = knowledge_.kb_->FindDrug(Str(json, "drug"));
    if (drug == nullptr) return;  // The KB loader already reported the unresolved drug id.
    const auto& products = json["products"];
    for (std::size_t product_idx = 0; product_idx < products.size(); ++product_idx) {
      const auto& entry = products[product_idx];
      RxNormProduct product{Str(entry, "rxcui"), Str(entry, "tty"), Str(entry, "name"), drug, OptNumber(entry, "strength_mg"),
                            Str(entry, "unit"), path};
      const std::string location = fmt::format("kb/{}#/products/{}", path, product_idx);
      if (knowledge_.ingredients_.count(product.rxcui) > 0) {
        Problem(fmt::format("RxCUI {} is also the ingredient code of {}", product.rxcui, knowledge_.ingredients_[product.rxcui]->id),
                location + "/rxcui");
      }
      const auto [it, inserted] = knowledge_.products_.emplace(product.rxcui, product);
      if (!inserted) {
        Problem(fmt::format("RxCUI {} is listed twice (also in kb/{})", product.rxcui, it->second.kb_path), location + "/rxcui");
      }
    }
  }

  void ReadValueSet(const std::string& path, const nlohmann::json& json) {
    const auto& maps_to = json["maps_to"];
    RecordTarget target{Str(json, "id"), Str(json, "name"), Str(json, "resource"), Str(maps_to, "list"), Str(maps_to, "value"),
                        Str(maps_to, "component"), Str(maps_to, "unit")};
    const std::size_t target_idx = knowledge_.targets_.size();
    knowledge_.targets_.push_back(target);
    const auto& codes = json["codes"];
    std::vector<TargetCode> exported;
    for (std::size_t code_idx = 0; code_idx < codes.size(); ++code_idx) {
      const auto& entry = codes[code_idx];
      const std::string system = Str(entry, "system");
      const std::string code = CanonicalCode(system, Str(entry, "code"));
      const std::string location = fmt::format("kb/{}#/codes/{}", path, code_idx);
      exported.push_back(TargetCode{system, code, Str(entry, "display")});
      if (entry.value("prefix", false)) {
        std::vector<std::string> except;
        for (const auto& item : entry.value("except", nlohmann::json::array())) except.push_back(CanonicalCode(system, item.get<std::string>()));
        auto& list = knowledge_.prefixes_[Key({target.resource, system})];
        for (const auto& other : list) {
          if (other.code == code) Problem(fmt::format("{} prefix {} is in two value sets", target.resource, code), location);
        }
        list.push_back(FhirKnowledge::Prefix{code, std::move(except), target_idx});
        continue;
      }
      const auto [it, inserted] = knowledge_.exact_codes_.emplace(Key({target.resource, system, code}), target_idx);
      if (!inserted) {
        Problem(fmt::format("{} code {} {} is in two value sets ({} and {})", target.resource, system, code,
                            knowledge_.targets_[it->second].value_set, target.value_set),
                location);
      }
    }
    auto& slot = knowledge_.codes_by_value_[target.component.empty() ? Key({target.list, target.value}) : Key({target.list, target.value, target.component})];
    if (slot.empty()) slot = std::move(exported);
  }

  void ReadScales() {
    for (const auto& [path, json] : knowledge_.kb_->FilesOfKind("scale")) {
      auto definition = ReadScaleDefinition(*json, "kb/" + path);
      if (!definition) continue;  // The scale module reports its own problems.
      FhirScale scale{std::move(*definition), {}};
      const std::string id = scale.definition.id;
      for (std::size_t item_idx = 0; item_idx < scale.definition.items.size(); ++item_idx) {
        const std::string& loinc = scale.definition.items[item_idx].loinc;
        if (loinc.empty()) continue;
        scale.item_by_loinc.emplace(loinc, item_idx);
        knowledge_.scale_item_by_loinc_.emplace(loinc, std::make_pair(id, item_idx));
      }
      if (!scale.definition.loinc_total.empty()) knowledge_.scale_by_total_.emplace(scale.definition.loinc_total, id);
      if (!scale.definition.loinc_panel.empty()) knowledge_.scale_by_panel_.emplace(scale.definition.loinc_panel, id);
      knowledge_.scales_.emplace(id, std::move(scale));
    }
  }

  void ReadAnswers(const std::string& path, const nlohmann::json& json) {
    const auto& applies = json["applies_to"];
    for (std::size_t applies_idx = 0; applies_idx < applies.size(); ++applies_idx) {
      const std::string scale_id = Str(applies[applies_idx], "scale");
      const auto scale = knowledge_.scales_.find(scale_id);
      const std::string location = fmt::format("kb/{}#/applies_to/{}", path, applies_idx);
      if (scale == knowledge_.scales_.end()) {
        Problem(fmt::format("answer list names unknown scale \"{}\"", scale_id), location + "/scale");
        continue;
      }
      for (const auto& item : applies[applies_idx]["items"]) {
        const std::string label = item.get<std::string>();
        const auto item_idx = scale->second.definition.ItemIndex(label);
        if (!item_idx) {
          Problem(fmt::format("{} has no item \"{}\"", scale_id, label), location + "/items");
          continue;
        }
        const ScaleItem& scale_item = scale->second.definition.items[*item_idx];
        for (const auto& answer : json["answers"]) {
          const int score = answer["score"].get<int>();
          if (score < scale_item.min || score > scale_item.max) {
            Problem(fmt::format("answer {} scores {}, outside item {} of {} ({}-{})", Str(answer, "code"), score, label, scale_id,
                                scale_item.min, scale_item.max),
                    location);
            continue;
          }
          knowledge_.answers_[Key({scale_id, label, Str(answer, "system"), Str(answer, "code")})] = score;
          knowledge_.answer_codes_.emplace(Key({scale_id, label, std::to_string(score)}),
                                           std::make_pair(Str(answer, "code"), Str(answer, "display")));
        }
      }
    }
  }

  void ReadConventions(const std::string& path, const nlohmann::json& json) {
    FhirConventions& conventions = knowledge_.conventions_;
    for (const auto& unit : json["mass_units"]) conventions.dose_units[Str(unit, "code")] = DoseUnit{unit["mg"].get<double>(), {}};
    for (const auto& unit : json["presentation_units"]) conventions.dose_units[Str(unit, "code")] = DoseUnit{std::nullopt, Str(unit, "unit")};
    for (const auto& [unit, hours] : json["period_unit_hours"].items()) conventions.period_unit_hours[unit] = hours.get<double>();
    for (const auto& timing : json["timing_codes"]) {
      conventions.timing_codes[Key({Str(timing, "system"), Str(timing, "code")})] = timing["times_per_day"].get<double>();
    }
    for (const auto& drug : json["dose_in_mass_not_convertible"]) conventions.dose_in_mass_not_convertible.push_back(drug.get<std::string>());
    conventions.unitless_dose_max_units = json["unitless_dose"]["max_units"].get<double>();
    conventions.course_gap_days = json["course_gap_days"]["value"].get<int>();
    conventions.course_gap_sources = Strings(json["course_gap_days"], "sources");
    conventions.procedure_course_gap_days = json["procedure_course_gap_days"]["value"].get<int>();
    conventions.completed_request_end = Str(json["completed_request_end"], "method");
    const auto& genotype = json["genotype"];
    conventions.genotype_codes = Strings(genotype, "genotype_codes");
    conventions.gene_studied_code = Str(genotype, "gene_studied_code");
    conventions.phenotype_codes = Strings(genotype, "phenotype_codes");
    for (const auto& gene : genotype["genes"]) {
      conventions.gene_by_hgnc[Str(gene, "hgnc")] = Str(gene, "symbol");
      conventions.hgnc_by_gene[Str(gene, "symbol")] = Str(gene, "hgnc");
    }
    for (const char* hours : {"h", "d", "wk"}) {
      if (conventions.period_unit_hours.count(hours) == 0) Problem(fmt::format("period unit \"{}\" is missing", hours), "kb/" + path + "#/period_unit_hours");
    }
    if (conventions.dose_units.count("mg") == 0) Problem("mass unit \"mg\" is missing", "kb/" + path + "#/mass_units");
  }

  FhirKnowledge knowledge_;
  std::vector<Error> problems_;
};

const RxNormProduct* FhirKnowledge::FindProduct(std::string_view rxcui) const {
  const auto found = products_.find(rxcui);
  return found == products_.end() ? nullptr : &found->second;
}

const Drug* FhirKnowledge::FindIngredient(std::string_view rxcui) const {
  const auto found = ingredients_.find(rxcui);
  return found == ingredients_.end() ? nullptr : found->second;
}

const RecordTarget* FhirKnowledge::FindCode(std::string_view resource, std::string_view system, std::string_view code) const {
  const std::string canonical = CanonicalCode(system, code);
  if (const auto exact = exact_codes_.find(Key({resource, system, canonical})); exact != exact_codes_.end()) return &targets_[exact->second];
  const auto prefixes = prefixes_.find(Key({resource, system}));
  if (prefixes == prefixes_.end()) return nullptr;
  const Prefix* best = nullptr;
  for (const Prefix& prefix : prefixes->second) {
    if (!UnderPrefix(canonical, prefix.code)) continue;
    const bool excluded = std::any_of(prefix.except.begin(), prefix.except.end(),
                                      [&](const std::string& except) { return UnderPrefix(canonical, except); });
    if (excluded) continue;
    if (best == nullptr || prefix.code.size() > best->code.size()) best = &prefix;
  }
  return best == nullptr ? nullptr : &targets_[best->target];
}

const TargetCode* FhirKnowledge::CodeFor(std::string_view list, std::string_view value) const {
  const auto found = codes_by_value_.find(Key({list, value}));
  return found == codes_by_value_.end() || found->second.empty() ? nullptr : &found->second.front();
}

const TargetCode* FhirKnowledge::ComponentCode(std::string_view list, std::string_view value, std::string_view component) const {
  const auto found = codes_by_value_.find(Key({list, value, component}));
  return found == codes_by_value_.end() || found->second.empty() ? nullptr : &found->second.front();
}

std::vector<TargetCode> FhirKnowledge::CodesFor(std::string_view list, std::string_view value) const {
  const auto found = codes_by_value_.find(Key({list, value}));
  return found == codes_by_value_.end() ? std::vector<TargetCode>{} : found->second;
}

std::optional<int> FhirKnowledge::AnswerScore(std::string_view scale_id, std::string_view item_label, std::string_view system,
                                              std::string_view code) const {
  const auto found = answers_.find(Key({scale_id, item_label, system, code}));
  if (found == answers_.end()) return std::nullopt;
  return found->second;
}

const std::pair<std::string, std::string>* FhirKnowledge::AnswerCode(std::string_view scale_id, std::string_view item_label, int score) const {
  const auto found = answer_codes_.find(Key({scale_id, item_label, std::to_string(score)}));
  return found == answer_codes_.end() ? nullptr : &found->second;
}

const FhirScale* FhirKnowledge::FindScale(std::string_view scale_id) const {
  const auto found = scales_.find(scale_id);
  return found == scales_.end() ? nullptr : &found->second;
}

const FhirScale* FhirKnowledge::ScaleByTotal(std::string_view loinc) const {
  const auto found = scale_by_total_.find(loinc);
  return found == scale_by_total_.end() ? nullptr : FindScale(found->second);
}

const FhirScale* FhirKnowledge::ScaleByPanel(std::string_view loinc) const {
  const auto found = scale_by_panel_.find(loinc);
  return found == scale_by_panel_.end() ? nullptr : FindScale(found->second);
}

std::optional<std::pair<const FhirScale*, std::size_t>> FhirKnowledge::ScaleItemByLoinc(std::string_view loinc) const {
  const auto found = scale_item_by_loinc_.find(loinc);
  if (found == scale_item_by_loinc_.end()) return std::nullopt;
  const FhirScale* scale = FindScale(found->second.first);
  if (scale == nullptr) return std::nullopt;
  return std::make_pair(scale, found->second.second);
}

std::vector<Error> CheckFhirKnowledge(const KnowledgeBase& kb) {
  FhirKnowledgeBuilder builder(kb);
  return builder.Build();
}

Result<FhirKnowledge> LoadFhirKnowledge(const KnowledgeBase& kb) {
  FhirKnowledgeBuilder builder(kb);
  const std::vector<Error> problems = builder.Build();
  if (!problems.empty()) {
    Error first = problems.front();
    if (problems.size() > 1) first.message += fmt::format(" (and {} more problems)", problems.size() - 1);
    return tl::unexpected(first);
  }
  return builder.Take();
}

}  // namespace refract::fhir
