// SPDX-License-Identifier: Apache-2.0
// OMOP screening: the KB's concept sets and reconstruction rules, concept resolution against a
// site's CONCEPT table, and the concept index (docs/omop.md sections 1-2).
#include "refract/core/omop.h"

#include "refract/core/text.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

namespace refract::omop {
namespace {

std::string Str(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_string() ? found->get<std::string>() : std::string();
}

double Num(const nlohmann::json& node, const char* key, double fallback) {
  const auto found = node.find(key);
  return found != node.end() && found->is_number() ? found->get<double>() : fallback;
}

int Int(const nlohmann::json& node, const char* key, int fallback) {
  const auto found = node.find(key);
  return found != node.end() && found->is_number_integer() ? found->get<int>() : fallback;
}

bool Bool(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_boolean() && found->get<bool>();
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

const nlohmann::json& Child(const nlohmann::json& node, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const auto found = node.find(key);
  return found != node.end() && found->is_object() ? *found : kEmpty;
}

Outcome OutcomeFrom(const std::string& name) {
  if (name == "partial") return Outcome::Partial;
  return name == "nonresponse" ? Outcome::Nonresponse : Outcome::Unknown;
}

ConceptDomain DomainFrom(const std::string& name) {
  if (name == "condition") return ConceptDomain::Condition;
  if (name == "procedure") return ConceptDomain::Procedure;
  if (name == "measurement") return ConceptDomain::Measurement;
  if (name == "unit") return ConceptDomain::Unit;
  return ConceptDomain::Drug;
}

ConceptCode CodeFrom(const nlohmann::json& node) { return ConceptCode{Str(node, "vocabulary"), Str(node, "code")}; }

std::string CodeText(const ConceptCode& code) { return code.vocabulary + " " + code.code; }

ReconstructionRules RulesFrom(const nlohmann::json& json) {
  ReconstructionRules rules;
  rules.id = Str(json, "id");
  rules.sources = Strings(json, "sources");
  const auto& end = Child(json, "exposure_end");
  rules.exposure_default_days = Int(end, "default_days", 0);
  rules.max_days_supply = Int(end, "max_days_supply", 0);
  rules.exposure_sources = Strings(end, "sources");
  const auto& gap = Child(json, "persistence_gap_days");
  rules.persistence_gap_days = Int(gap, "value", 0);
  rules.persistence_sources = Strings(gap, "sources");
  const auto& dose = Child(json, "daily_dose");
  rules.implausible_above_max_factor = Num(dose, "implausible_above_max_factor", 0);
  rules.step_change_min_percent = Num(dose, "step_change_min_percent", 0);
  rules.dose_sources = Strings(dose, "sources");
  rules.adherence_sources = Strings(Child(json, "adherence"), "sources");
  const auto& combination = Child(json, "combination_min_overlap_days");
  rules.combination_min_overlap_days = Int(combination, "value", 0);
  rules.combination_sources = Strings(combination, "sources");
  const auto& change = Child(json, "treatment_change");
  rules.switch_window_days = Int(change, "switch_window_days", 0);
  rules.outcome_after_switch = OutcomeFrom(Str(change, "outcome_after_switch"));
  rules.outcome_after_addition = OutcomeFrom(Str(change, "outcome_after_addition"));
  rules.treatment_change_sources = Strings(change, "sources");
  const auto& phq9 = Child(json, "phq9");
  rules.phq9_baseline_days_before = Int(phq9, "baseline_days_before", 0);
  rules.phq9_baseline_days_after = Int(phq9, "baseline_days_after", 0);
  rules.phq9_followup_min_days = Int(phq9, "followup_min_days", 0);
  rules.phq9_followup_days_after_end = Int(phq9, "followup_days_after_end", 0);
  rules.phq9_max_total = Int(phq9, "max_total", 0);
  rules.phq9_sources = Strings(phq9, "sources");
  const auto& episode = Child(json, "episode");
  rules.episode_treatment_free_days = Int(episode, "treatment_free_days", 0);
  rules.episode_sources = Strings(episode, "sources");
  rules.procedure_course_gap_days = Int(Child(json, "procedure_course_gap_days"), "value", 0);
  const auto& esketamine = Child(json, "esketamine_flag");
  rules.esketamine_min_age_years = Int(esketamine, "min_age_years", 0);
  rules.esketamine_sources = Strings(esketamine, "sources");
  return rules;
}

// Whether a CONCEPT name plausibly names the KB entry (id-only entries: "lithium carbonate" for "lithium").
bool NameAgrees(const std::string& concept_name, const std::string& entry_name) {
  const std::string site = NormalizeName(concept_name);
  const std::string ours = NormalizeName(entry_name);
  return !ours.empty() && site.find(ours) != std::string::npos;
}

}  // namespace

std::string_view ResolutionStatusName(ResolutionStatus status) {
  switch (status) {
    case ResolutionStatus::Matched: return "matched";
    case ResolutionStatus::Drifted: return "drifted";
    case ResolutionStatus::ResolvedById: return "resolved_by_id";
    case ResolutionStatus::NameMismatch: return "name_mismatch";
    case ResolutionStatus::NotFound: return "not_found";
  }
  return "not_found";
}

Result<OmopConfig> LoadOmopConfig(const KnowledgeBase& kb) {
  OmopConfig config;
  const auto rules = kb.FilesOfKind("omop_reconstruction");
  if (rules.empty()) {
    return Fail(ErrorCode::KbReference, "the knowledge base has no rule of kind \"omop_reconstruction\"", "kb/rules/");
  }
  config.rules = RulesFrom(*rules.front().second);
  const auto sets = kb.FilesOfKind("omop_concept_set");
  if (sets.empty()) return Fail(ErrorCode::KbReference, "the knowledge base has no concept set of kind \"omop_concept_set\"", "kb/omop/");
  for (const auto& [path, json] : sets) {
    const std::string set_id = Str(*json, "id");
    const ConceptDomain domain = DomainFrom(Str(*json, "domain"));
    const auto& entries = (*json)["entries"];
    for (std::size_t entry_idx = 0; entry_idx < entries.size(); ++entry_idx) {
      const auto& node = entries[entry_idx];
      ConceptEntry entry;
      entry.set_id = set_id;
      entry.entry_index = static_cast<int>(entry_idx);
      entry.domain = domain;
      entry.code = CodeFrom(node);
      if (const auto id = node.find("concept_id"); id != node.end() && id->is_number_integer()) entry.expected_id = id->get<ConceptId>();
      entry.name = Str(node, "name");
      entry.target = Str(node, "target");
      entry.descendants = Bool(node, "descendants");
      entry.exclude = Bool(node, "exclude");
      entry.factor_to_mg = Num(node, "factor_to_mg", 0);
      if (domain == ConceptDomain::Drug && kb.FindDrug(entry.target) == nullptr) {
        return Fail(ErrorCode::KbReference, fmt::format("concept entry names unknown drug \"{}\"", entry.target),
                    fmt::format("kb/{}#/entries/{}/target", path, entry_idx));
      }
      config.entries.push_back(std::move(entry));
    }
    if (const auto combinations = json->find("combinations"); combinations != json->end()) {
      for (const auto& node : *combinations) {
        CombinationEntry combination;
        combination.target = Str(node, "target");
        for (const auto& ingredient : node["ingredients"]) combination.ingredients.push_back(CodeFrom(ingredient));
        combination.dose_from = CodeFrom(node["dose_from"]);
        if (kb.FindDrug(combination.target) == nullptr) {
          return Fail(ErrorCode::KbReference, fmt::format("combination names unknown drug \"{}\"", combination.target),
                      fmt::format("kb/{}#/combinations", path));
        }
        config.combinations.push_back(std::move(combination));
      }
    }
  }
  return config;
}

ConceptLookups LookupsFor(const OmopConfig& config) {
  std::set<std::pair<std::string, std::string>> codes;
  std::set<ConceptId> ids;
  for (const ConceptEntry& entry : config.entries) {
    if (!entry.code.code.empty()) codes.insert({entry.code.vocabulary, entry.code.code});
    if (entry.expected_id) ids.insert(*entry.expected_id);
  }
  for (const CombinationEntry& combination : config.combinations) {
    for (const ConceptCode& code : combination.ingredients) codes.insert({code.vocabulary, code.code});
  }
  ConceptLookups out;
  for (const auto& [vocabulary, code] : codes) out.codes.push_back(ConceptCode{vocabulary, code});
  out.ids.assign(ids.begin(), ids.end());
  return out;
}

std::vector<ConceptResolution> ResolveConcepts(const OmopConfig& config, std::span<const ConceptRow> rows) {
  std::map<std::pair<std::string, std::string>, const ConceptRow*> by_code;
  std::map<ConceptId, const ConceptRow*> by_id;
  for (const ConceptRow& row : rows) {
    // Two rows with the same code (a re-issued concept): prefer the valid one, then the lower id.
    auto [it, inserted] = by_code.emplace(std::make_pair(row.vocabulary, row.code), &row);
    if (!inserted) {
      const bool better = (it->second->invalid_reason.empty() ? 0 : 1) > (row.invalid_reason.empty() ? 0 : 1) ||
                          ((it->second->invalid_reason.empty() == row.invalid_reason.empty()) && row.concept_id < it->second->concept_id);
      if (better) it->second = &row;
    }
    by_id.emplace(row.concept_id, &row);
  }
  std::vector<ConceptResolution> out;
  for (const ConceptEntry& entry : config.entries) {
    ConceptResolution resolution;
    resolution.entry = &entry;
    const std::string label = entry.code.code.empty() ? fmt::format("{} concept {}", entry.code.vocabulary, entry.expected_id.value_or(0))
                                                      : CodeText(entry.code);
    if (!entry.code.code.empty()) {
      const auto found = by_code.find({entry.code.vocabulary, entry.code.code});
      if (found == by_code.end()) {
        resolution.status = ResolutionStatus::NotFound;
        resolution.message = fmt::format("{} ({}) is not in the CONCEPT table: {} is not recognised in this database", label, entry.name,
                                         entry.target);
      } else {
        resolution.site_id = found->second->concept_id;
        if (entry.expected_id && *entry.expected_id != found->second->concept_id) {
          resolution.status = ResolutionStatus::Drifted;
          resolution.message = fmt::format("{} ({}) has concept_id {} in this database, not the expected {}: using {}", label, entry.name,
                                           found->second->concept_id, *entry.expected_id, found->second->concept_id);
        } else {
          resolution.status = ResolutionStatus::Matched;
        }
        if (!found->second->invalid_reason.empty()) {
          resolution.message += fmt::format("{}{} is marked invalid (invalid_reason {}) in this vocabulary", resolution.message.empty() ? "" : "; ",
                                            label, found->second->invalid_reason);
        }
      }
    } else if (entry.expected_id) {
      const auto found = by_id.find(*entry.expected_id);
      if (found == by_id.end()) {
        resolution.status = ResolutionStatus::NotFound;
        resolution.message = fmt::format("{} ({}) is not in the CONCEPT table", label, entry.name);
      } else if (!NameAgrees(found->second->name, entry.name)) {
        resolution.status = ResolutionStatus::NameMismatch;
        resolution.message = fmt::format("{} is \"{}\" in this database, not {}: not used", label, found->second->name, entry.name);
      } else {
        resolution.status = ResolutionStatus::ResolvedById;
        resolution.site_id = found->second->concept_id;
      }
    }
    out.push_back(std::move(resolution));
  }
  return out;
}

std::vector<ConceptId> ConceptIndex::ConditionIds() const {
  std::vector<ConceptId> out;
  out.reserve(conditions.size());
  for (const auto& [id, bits] : conditions) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ConceptId> ConceptIndex::ProcedureIds() const {
  std::vector<ConceptId> out;
  out.reserve(procedures.size());
  for (const auto& [id, kind] : procedures) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

ConceptIndex BuildConceptIndex(const KnowledgeBase& kb, const OmopConfig& config, std::vector<ConceptResolution> resolutions,
                               std::span<const DescendantRow> descendants, std::span<const StrengthRow> strengths,
                               std::vector<ConceptId> known_concepts) {
  ConceptIndex index;
  std::sort(known_concepts.begin(), known_concepts.end());
  index.known_concepts = std::move(known_concepts);

  std::map<ConceptId, std::set<ConceptId>> descendants_of;
  for (const DescendantRow& row : descendants) descendants_of[row.ancestor].insert(row.descendant);
  const auto expand = [&](const ConceptResolution& resolution) {
    std::set<ConceptId> out{*resolution.site_id};
    if (resolution.entry->descendants) {
      const auto found = descendants_of.find(*resolution.site_id);
      if (found != descendants_of.end()) out.insert(found->second.begin(), found->second.end());
    }
    return out;
  };

  // Units: site unit concept -> factor to mg, plus the ids of mL and hour.
  std::map<ConceptId, double> mass_units;
  std::set<ConceptId> volume_units;
  std::set<ConceptId> hour_units;
  // Ingredients: site ingredient concept -> KB drug; codes -> site ingredient concept.
  std::map<ConceptId, const Drug*> ingredient_drug;
  std::map<std::pair<std::string, std::string>, ConceptId> code_to_site;
  // Conditions: include and exclude sets per bit.
  std::map<ConceptId, std::uint8_t> include_bits;
  std::map<ConceptId, std::uint8_t> exclude_bits;
  std::set<ConceptId> phq9;

  for (const ConceptResolution& resolution : resolutions) {
    if (!resolution.site_id) continue;
    const ConceptEntry& entry = *resolution.entry;
    if (!entry.code.code.empty()) code_to_site[{entry.code.vocabulary, entry.code.code}] = *resolution.site_id;
    switch (entry.domain) {
      case ConceptDomain::Unit:
        if (entry.factor_to_mg > 0) mass_units[*resolution.site_id] = entry.factor_to_mg;
        if (entry.target == "unit.ml") volume_units.insert(*resolution.site_id);
        if (entry.target == "unit.hour") hour_units.insert(*resolution.site_id);
        break;
      case ConceptDomain::Drug:
        ingredient_drug[*resolution.site_id] = kb.FindDrug(entry.target);
        break;
      case ConceptDomain::Condition: {
        std::uint8_t bit = 0;
        if (entry.target == "condition.depression") bit = kDepression;
        if (entry.target == "condition.bipolar") bit = kBipolar;
        if (entry.target == "condition.mania") bit = kMania;
        if (entry.target == "condition.psychosis") bit = kPsychosis;
        if (entry.target == "condition.dementia") bit = kDementia;
        auto& bits = entry.exclude ? exclude_bits : include_bits;
        for (const ConceptId id : expand(resolution)) bits[id] = static_cast<std::uint8_t>(bits[id] | bit);
        break;
      }
      case ConceptDomain::Procedure:
        for (const ConceptId id : expand(resolution)) index.procedures[id] = entry.target.substr(std::string("procedure.").size());
        break;
      case ConceptDomain::Measurement:
        for (const ConceptId id : expand(resolution)) phq9.insert(id);
        break;
    }
  }
  for (const auto& [id, bits] : include_bits) {
    const auto excluded = exclude_bits.find(id);
    const std::uint8_t kept = excluded == exclude_bits.end() ? bits : static_cast<std::uint8_t>(bits & ~excluded->second);
    if (kept != 0) index.conditions[id] = kept;
  }
  index.phq9.assign(phq9.begin(), phq9.end());

  // Drug concepts: every descendant of a resolved ingredient, with the strength of that ingredient.
  std::map<std::pair<ConceptId, ConceptId>, const StrengthRow*> strength_of;
  for (const StrengthRow& row : strengths) strength_of[{row.drug_concept_id, row.ingredient_concept_id}] = &row;
  const auto mg_per_unit = [&](ConceptId drug_concept, ConceptId ingredient, bool& per_hour) -> std::optional<double> {
    per_hour = false;
    const auto found = strength_of.find({drug_concept, ingredient});
    if (found == strength_of.end()) return std::nullopt;
    const StrengthRow& row = *found->second;
    if (row.amount_value && *row.amount_value > 0) {
      const auto unit = mass_units.find(row.amount_unit);
      if (unit == mass_units.end()) return std::nullopt;
      return *row.amount_value * unit->second;
    }
    if (row.numerator_value && *row.numerator_value > 0) {
      const auto unit = mass_units.find(row.numerator_unit);
      if (unit == mass_units.end()) return std::nullopt;
      const double mg = *row.numerator_value * unit->second;
      if (hour_units.count(row.denominator_unit) > 0) {
        per_hour = true;
        return mg / row.denominator_value.value_or(1);
      }
      // A concentration: quantity is in the denominator's unit (mL) unless the row gives none.
      if (volume_units.count(row.denominator_unit) > 0 && row.denominator_value && *row.denominator_value > 0) {
        return mg / *row.denominator_value;
      }
      return std::nullopt;
    }
    return std::nullopt;
  };
  std::map<ConceptId, std::set<ConceptId>> ingredients_of;  // drug concept -> site ingredient concepts
  for (const ConceptResolution& resolution : resolutions) {
    if (!resolution.site_id || resolution.entry->domain != ConceptDomain::Drug) continue;
    for (const ConceptId id : expand(resolution)) ingredients_of[id].insert(*resolution.site_id);
  }
  for (const StrengthRow& row : strengths) {
    if (ingredient_drug.count(row.ingredient_concept_id) > 0) ingredients_of[row.drug_concept_id].insert(row.ingredient_concept_id);
  }
  // Combination products: all ingredients present maps the concept to the combination drug.
  struct ResolvedCombination {
    const Drug* drug = nullptr;
    std::vector<ConceptId> ingredients;
    ConceptId dose_from = 0;
  };
  std::vector<ResolvedCombination> combinations;
  for (const CombinationEntry& combination : config.combinations) {
    ResolvedCombination resolved{kb.FindDrug(combination.target), {}, 0};
    bool complete = true;
    for (const ConceptCode& code : combination.ingredients) {
      const auto found = code_to_site.find({code.vocabulary, code.code});
      if (found == code_to_site.end()) {
        complete = false;
        break;
      }
      resolved.ingredients.push_back(found->second);
    }
    const auto dose = code_to_site.find({combination.dose_from.vocabulary, combination.dose_from.code});
    if (!complete || dose == code_to_site.end()) continue;
    resolved.dose_from = dose->second;
    combinations.push_back(std::move(resolved));
  }
  // Ingredients a combination's own code may need that are not KB drugs (dextromethorphan): their
  // descendants were not expanded, so the combination is recognised from its KB ingredient's
  // descendants and DRUG_STRENGTH rows of the drug concept.
  std::map<ConceptId, std::set<ConceptId>> strength_ingredients;
  for (const StrengthRow& row : strengths) strength_ingredients[row.drug_concept_id].insert(row.ingredient_concept_id);
  for (const auto& [drug_concept, ingredients] : ingredients_of) {
    std::set<ConceptId> all = ingredients;
    if (const auto found = strength_ingredients.find(drug_concept); found != strength_ingredients.end()) {
      all.insert(found->second.begin(), found->second.end());
    }
    std::vector<DrugMapping> mappings;
    std::set<ConceptId> covered;
    for (const ResolvedCombination& combination : combinations) {
      const bool has_all = std::all_of(combination.ingredients.begin(), combination.ingredients.end(),
                                       [&](ConceptId id) { return all.count(id) > 0; });
      if (!has_all) continue;
      DrugMapping mapping;
      mapping.drug = combination.drug;
      mapping.mg_per_unit = mg_per_unit(drug_concept, combination.dose_from, mapping.per_hour);
      mappings.push_back(mapping);
      covered.insert(combination.ingredients.begin(), combination.ingredients.end());
    }
    for (const ConceptId ingredient : ingredients) {
      if (covered.count(ingredient) > 0) continue;
      const auto drug = ingredient_drug.find(ingredient);
      if (drug == ingredient_drug.end() || drug->second == nullptr) continue;
      DrugMapping mapping;
      mapping.drug = drug->second;
      mapping.mg_per_unit = mg_per_unit(drug_concept, ingredient, mapping.per_hour);
      mappings.push_back(mapping);
    }
    std::stable_sort(mappings.begin(), mappings.end(), [](const DrugMapping& left, const DrugMapping& right) { return left.drug->id < right.drug->id; });
    if (!mappings.empty()) index.drugs.emplace(drug_concept, std::move(mappings));
  }
  index.resolutions = std::move(resolutions);
  return index;
}

}  // namespace refract::omop
