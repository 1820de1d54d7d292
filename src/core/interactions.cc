// SPDX-License-Identifier: Apache-2.0
// Loading the interaction knowledge (enzyme tables, groups, rules) from a loaded KB.
#include "refract/core/interactions.h"

#include <algorithm>
#include <functional>
#include <set>

#include <fmt/format.h>

namespace refract {

std::string_view InteractionSeverityName(InteractionSeverity value) {
  switch (value) {
    case InteractionSeverity::Minor: return "minor";
    case InteractionSeverity::Moderate: return "moderate";
    case InteractionSeverity::Major: return "major";
    case InteractionSeverity::Contraindicated: return "contraindicated";
  }
  return "minor";
}

std::string_view PerpetratorStrengthName(PerpetratorStrength value) {
  switch (value) {
    case PerpetratorStrength::Weak: return "weak";
    case PerpetratorStrength::Moderate: return "moderate";
    case PerpetratorStrength::Strong: return "strong";
  }
  return "weak";
}

std::string_view SubstrateSensitivityName(SubstrateSensitivity value) {
  switch (value) {
    case SubstrateSensitivity::Sensitive: return "sensitive";
    case SubstrateSensitivity::ModerateSensitive: return "moderate sensitive";
    case SubstrateSensitivity::Substrate: return "unclassified";
  }
  return "unclassified";
}

std::string_view InteractionTimingName(InteractionTiming value) {
  switch (value) {
    case InteractionTiming::Current: return "current";
    case InteractionTiming::Proposed: return "proposed";
    case InteractionTiming::Washout: return "washout";
    case InteractionTiming::Past: return "past";
  }
  return "current";
}

const DrugGroup* InteractionKnowledge::FindGroup(std::string_view id) const {
  for (const DrugGroup& group : groups_) {
    if (group.id == id) return &group;
  }
  return nullptr;
}

const GroupMember* InteractionKnowledge::MemberOf(const DrugGroup& group, const Drug& drug) const {
  const auto find = [&group](const Drug* wanted) -> const GroupMember* {
    const auto found = std::lower_bound(group.member_index.begin(), group.member_index.end(), wanted,
                                        [](const std::pair<const Drug*, std::size_t>& entry, const Drug* key) { return std::less<>()(entry.first, key); });
    return found != group.member_index.end() && found->first == wanted ? &group.members[found->second] : nullptr;
  };
  if (const GroupMember* member = find(&drug)) return member;
  // A fixed combination takes the memberships of its components (dextromethorphan-bupropion).
  if (kb_ == nullptr) return nullptr;
  for (const std::string& component_id : drug.components) {
    const Drug* component = kb_->FindDrug(component_id);
    if (component == nullptr) continue;
    if (const GroupMember* member = find(component)) return member;
  }
  return nullptr;
}

namespace {

std::string Str(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_string() ? found->get<std::string>() : std::string();
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

std::optional<int> OptInt(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  if (found == node.end() || !found->is_number_integer()) return std::nullopt;
  return found->get<int>();
}

std::optional<double> OptNum(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  if (found == node.end() || !found->is_number()) return std::nullopt;
  return found->get<double>();
}

bool Bool(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_boolean() && found->get<bool>();
}

const nlohmann::json& Child(const nlohmann::json& node, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const auto found = node.find(key);
  return found == node.end() ? kEmpty : *found;
}

const nlohmann::json& Items(const nlohmann::json& node, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const auto found = node.find(key);
  return found == node.end() || !found->is_array() ? kEmpty : *found;
}

std::optional<InteractionSeverity> ParseSeverity(const std::string& text) {
  if (text == "contraindicated") return InteractionSeverity::Contraindicated;
  if (text == "major") return InteractionSeverity::Major;
  if (text == "moderate") return InteractionSeverity::Moderate;
  if (text == "minor") return InteractionSeverity::Minor;
  return std::nullopt;
}

PerpetratorStrength ParseStrength(const std::string& text) {
  if (text == "strong") return PerpetratorStrength::Strong;
  if (text == "moderate") return PerpetratorStrength::Moderate;
  return PerpetratorStrength::Weak;
}

SubstrateSensitivity ParseSensitivity(const std::string& text) {
  if (text == "sensitive") return SubstrateSensitivity::Sensitive;
  if (text == "moderate_sensitive") return SubstrateSensitivity::ModerateSensitive;
  return SubstrateSensitivity::Substrate;
}

}  // namespace

class InteractionKnowledgeBuilder {
 public:
  explicit InteractionKnowledgeBuilder(const KnowledgeBase& kb) : kb_(kb) { out_.kb_ = &kb; }

  InteractionKnowledge Build() {
    for (const auto& [path, json] : kb_.FilesOfKind("enzyme")) LoadEnzyme(path, *json);
    // Groups first: every rule refers to them.
    for (const auto& [path, json] : kb_.FilesOfKind("ddi_group")) LoadGroup(path, *json);
    for (const auto& [path, json] : kb_.FilesOfKind("ddi_rule")) LoadPairRule(path, *json);
    for (const auto& [path, json] : kb_.FilesOfKind("ddi_load_rule")) LoadLoadRule(path, *json);
    for (const auto& [path, json] : kb_.FilesOfKind("ddi_patient_rule")) LoadPatientRule(path, *json);
    for (const auto& [path, json] : kb_.FilesOfKind("ddi_dose_cap")) LoadDoseCap(path, *json);
    // Washouts name pair rules: after those are all read (the vector no longer grows).
    for (const auto& [path, json] : kb_.FilesOfKind("ddi_washout")) LoadWashout(path, *json);
    const auto matrices = kb_.FilesOfKind("ddi_pk_matrix");
    if (matrices.size() != 1) {
      AddError(fmt::format("expected exactly one file of kind \"ddi_pk_matrix\", found {}", matrices.size()), "kb/interactions/");
    } else {
      LoadPkMatrix(matrices.front().first, *matrices.front().second);
    }
    const auto scales = kb_.FilesOfKind("ddi_severity_scale");
    if (scales.size() != 1) {
      AddError(fmt::format("expected exactly one file of kind \"ddi_severity_scale\", found {}", scales.size()), "kb/interactions/");
    } else {
      LoadSeverityScale(scales.front().first, *scales.front().second);
    }
    return std::move(out_);
  }

  std::vector<Error>& errors() { return errors_; }

 private:
  void AddError(std::string message, std::string location) {
    errors_.push_back(Error{ErrorCode::KbReference, std::move(message), std::move(location)});
  }

  // The loader resolved every "drug.x" string already; a null here means a retired drug.
  const Drug* DrugAt(const nlohmann::json& node, const std::string& location) {
    const std::string id = Str(node, "drug");
    const Drug* drug = kb_.FindDrug(id);
    if (drug == nullptr) AddError(fmt::format("drug \"{}\" is not an active KB drug", id), location + "/drug");
    return drug;
  }

  std::vector<EnzymePerpetrator> Perpetrators(const nlohmann::json& list, const std::string& location) {
    std::vector<EnzymePerpetrator> out;
    std::set<std::string> seen;
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const auto& entry = list[item_idx];
      const std::string where = fmt::format("{}/{}", location, item_idx);
      const Drug* drug = DrugAt(entry, where);
      if (drug == nullptr) continue;
      if (!seen.insert(drug->id).second) AddError(fmt::format("{} is listed twice", drug->id), where + "/drug");
      out.push_back(EnzymePerpetrator{drug, ParseStrength(Str(entry, "strength")), OptInt(entry, "persists_after_stop_days"),
                                      Bool(entry, "unverified"), Str(entry, "note"), Strings(entry, "sources")});
    }
    return out;
  }

  void LoadEnzyme(const std::string& path, const nlohmann::json& json) {
    const std::string location = "kb/" + path + "#";
    Enzyme enzyme;
    enzyme.id = Str(json, "id");
    enzyme.name = Str(json, "name");
    enzyme.path = path;
    enzyme.sources = Strings(json, "sources");
    enzyme.inhibitors = Perpetrators(Items(json, "inhibitors"), location + "/inhibitors");
    enzyme.inducers = Perpetrators(Items(json, "inducers"), location + "/inducers");
    std::set<std::string> seen;
    const auto& substrates = Items(json, "substrates");
    for (std::size_t item_idx = 0; item_idx < substrates.size(); ++item_idx) {
      const auto& entry = substrates[item_idx];
      const std::string where = fmt::format("{}/substrates/{}", location, item_idx);
      const Drug* drug = DrugAt(entry, where);
      if (drug == nullptr) continue;
      if (!seen.insert(drug->id).second) AddError(fmt::format("{} is listed twice", drug->id), where + "/drug");
      EnzymeSubstrate substrate{drug, ParseSensitivity(Str(entry, "sensitivity")), Bool(entry, "activation"), Str(entry, "note"),
                                Strings(entry, "sources"), {}};
      for (const auto& rule : Items(entry, "label_rules")) {
        PkLabelRule label;
        label.induction = Str(rule, "effect") == "induction";
        for (const std::string& strength : Strings(rule, "strengths")) label.strengths.push_back(ParseStrength(strength));
        label.severity = ParseSeverity(Str(rule, "severity")).value_or(InteractionSeverity::Minor);
        label.mechanism = Str(rule, "mechanism");
        label.action = Str(rule, "action");
        label.sources = Strings(rule, "sources");
        substrate.label_rules.push_back(std::move(label));
      }
      enzyme.substrates.push_back(std::move(substrate));
    }
    if (std::any_of(out_.enzymes_.begin(), out_.enzymes_.end(), [&](const Enzyme& other) { return other.name == enzyme.name; })) {
      AddError(fmt::format("enzyme {} is described twice", enzyme.name), location + "/name");
    }
    out_.enzymes_.push_back(std::move(enzyme));
  }

  void LoadGroup(const std::string& path, const nlohmann::json& json) {
    const std::string location = "kb/" + path + "#";
    DrugGroup group;
    group.id = Str(json, "id");
    group.name = Str(json, "name");
    group.levels = Strings(json, "levels");
    group.sources = Strings(json, "sources");
    std::set<std::string> seen;
    const auto& members = Items(json, "members");
    for (std::size_t item_idx = 0; item_idx < members.size(); ++item_idx) {
      const auto& entry = members[item_idx];
      const std::string where = fmt::format("{}/members/{}", location, item_idx);
      const Drug* drug = DrugAt(entry, where);
      if (drug == nullptr) continue;
      if (!seen.insert(drug->id).second) AddError(fmt::format("{} is listed twice", drug->id), where + "/drug");
      GroupMember member{drug, Str(entry, "level"), OptNum(entry, "below_mg_per_day"), Str(entry, "level_below"), Strings(entry, "sources")};
      CheckLevel(group, member.level, where + "/level");
      if (member.below_mg_per_day.has_value() != !member.level_below.empty()) {
        AddError("below_mg_per_day and level_below go together", where);
      }
      if (!member.level_below.empty()) CheckLevel(group, member.level_below, where + "/level_below");
      group.members.push_back(std::move(member));
    }
    if (out_.FindGroup(group.id) != nullptr) AddError(fmt::format("group \"{}\" is defined twice", group.id), location + "/id");
    for (std::size_t member_idx = 0; member_idx < group.members.size(); ++member_idx) group.member_index.emplace_back(group.members[member_idx].drug, member_idx);
    std::sort(group.member_index.begin(), group.member_index.end(),
              [](const auto& left, const auto& right) { return std::less<>()(left.first, right.first); });
    out_.groups_.push_back(std::move(group));
  }

  void CheckLevel(const DrugGroup& group, const std::string& level, const std::string& where) {
    if (group.levels.empty() && level.empty()) return;
    if (group.levels.empty()) {
      AddError(fmt::format("group \"{}\" declares no levels, so a member cannot have level \"{}\"", group.id, level), where);
      return;
    }
    if (std::find(group.levels.begin(), group.levels.end(), level) == group.levels.end()) {
      AddError(fmt::format("level \"{}\" is not one of the levels of {} ({})", level, group.id, fmt::join(group.levels, ", ")), where);
    }
  }

  RuleSide Side(const nlohmann::json& node, const std::string& where) {
    RuleSide side;
    const std::string id = Str(node, "group");
    side.group = out_.FindGroup(id);
    side.levels = Strings(node, "levels");
    if (side.group == nullptr) {
      AddError(fmt::format("group \"{}\" does not exist", id), where + "/group");
      return side;
    }
    for (std::size_t level_idx = 0; level_idx < side.levels.size(); ++level_idx) {
      CheckLevel(*side.group, side.levels[level_idx], fmt::format("{}/levels/{}", where, level_idx));
    }
    return side;
  }

  std::vector<RiskFactor> Factors(const nlohmann::json& list, const std::string& where) {
    std::vector<RiskFactor> out;
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const auto& entry = list[item_idx];
      const std::string at = fmt::format("{}/{}", where, item_idx);
      RiskFactor factor;
      const std::string type = Str(entry, "type");
      // The schema lists the types; each needs its own fields, which the schema cannot express.
      const auto require = [&](const char* key) {
        if (!entry.contains(key)) AddError(fmt::format("a factor of type \"{}\" needs \"{}\"", type, key), at);
      };
      if (type == "age_at_least" || type == "age_above") {
        factor.type = type == "age_at_least" ? RiskFactor::Type::AgeAtLeast : RiskFactor::Type::AgeAbove;
        require("years");
        factor.years = OptInt(entry, "years").value_or(0);
      } else if (type == "sex") {
        factor.type = RiskFactor::Type::Sex;
        require("sex");
        factor.sex = Str(entry, "sex");
      } else if (type == "condition") {
        factor.type = RiskFactor::Type::Condition;
        require("names");
        factor.names = Strings(entry, "names");
      } else if (type == "lab_below") {
        factor.type = RiskFactor::Type::LabBelow;
        require("lab");
        require("value");
        require("units");
        factor.lab_or_vital = Str(entry, "lab");
        factor.value = OptNum(entry, "value").value_or(0);
        factor.units = Strings(entry, "units");
      } else if (type == "vital_at_least") {
        factor.type = RiskFactor::Type::VitalAtLeast;
        require("vital");
        require("value");
        factor.lab_or_vital = Str(entry, "vital");
        factor.value = OptNum(entry, "value").value_or(0);
        if (entry.contains("unit")) factor.units = {Str(entry, "unit")};
      } else if (type == "genotype_phenotype") {
        factor.type = RiskFactor::Type::GenotypePhenotype;
        require("gene");
        require("phenotypes");
        factor.gene = Str(entry, "gene");
        factor.phenotypes = Strings(entry, "phenotypes");
      } else if (type == "inhibitor_in_regimen") {
        factor.type = RiskFactor::Type::InhibitorInRegimen;
        require("enzyme");
        require("strengths");
        factor.enzyme_id = Str(entry, "enzyme");
        for (const std::string& strength : Strings(entry, "strengths")) factor.strengths.push_back(ParseStrength(strength));
        const bool known = std::any_of(out_.enzymes_.begin(), out_.enzymes_.end(), [&](const Enzyme& enzyme) { return enzyme.id == factor.enzyme_id; });
        if (!known) AddError(fmt::format("enzyme \"{}\" does not exist", factor.enzyme_id), at + "/enzyme");
      } else if (type == "group_in_regimen") {
        factor.type = RiskFactor::Type::GroupInRegimen;
        require("group");
        factor.group = out_.FindGroup(Str(entry, "group"));
        if (factor.group == nullptr) AddError(fmt::format("group \"{}\" does not exist", Str(entry, "group")), at + "/group");
      }
      out.push_back(std::move(factor));
    }
    return out;
  }

  InteractionSeverity Severity(const nlohmann::json& node, const char* key) {
    return ParseSeverity(Str(node, key)).value_or(InteractionSeverity::Minor);
  }

  void LoadPairRule(const std::string& path, const nlohmann::json& json) {
    const std::string location = "kb/" + path + "#";
    PairRule rule;
    rule.id = Str(json, "id");
    rule.category = Str(json, "category");
    rule.a = Side(Child(json, "a"), location + "/a");
    rule.b = Side(Child(json, "b"), location + "/b");
    rule.severity = Severity(json, "severity");
    rule.severity_when_b_started_after_a = ParseSeverity(Str(json, "severity_when_b_started_after_a"));
    if (const auto& taper = Child(json, "cross_taper"); !taper.empty()) {
      rule.cross_taper_max_overlap_days = OptInt(taper, "max_overlap_days");
      rule.cross_taper_severity = Severity(taper, "severity");
      if (rule.cross_taper_severity >= rule.severity) {
        AddError("a cross-taper severity must be below the rule's severity", location + "/cross_taper/severity");
      }
    }
    if (const auto& escalate = Child(json, "escalate"); !escalate.empty()) {
      rule.escalate_to = Severity(escalate, "severity");
      rule.escalate_factors = Factors(Items(escalate, "factors"), location + "/escalate/factors");
      if (*rule.escalate_to <= rule.severity) AddError("escalation must raise the severity", location + "/escalate/severity");
    }
    rule.mechanism = Str(json, "mechanism");
    rule.action = Str(json, "action");
    rule.evidence = Str(json, "evidence");
    rule.sources = Strings(json, "sources");
    out_.pair_rules_.push_back(std::move(rule));
  }

  void LoadLoadRule(const std::string& path, const nlohmann::json& json) {
    const std::string location = "kb/" + path + "#";
    LoadRule rule;
    rule.id = Str(json, "id");
    rule.category = Str(json, "category");
    rule.group = out_.FindGroup(Str(json, "group"));
    if (rule.group == nullptr) AddError(fmt::format("group \"{}\" does not exist", Str(json, "group")), location + "/group");
    for (const auto& [level, points] : Child(json, "points").items()) {
      rule.points.emplace(level, points.get<int>());
      if (rule.group != nullptr) CheckLevel(*rule.group, level, location + "/points/" + level);
    }
    rule.min_members = OptInt(json, "min_members").value_or(0);
    rule.min_points = OptInt(json, "min_points").value_or(0);
    rule.severity = Severity(json, "severity");
    rule.mechanism = Str(json, "mechanism");
    rule.action = Str(json, "action");
    rule.evidence = Str(json, "evidence");
    rule.sources = Strings(json, "sources");
    out_.load_rules_.push_back(std::move(rule));
  }

  void LoadPatientRule(const std::string& path, const nlohmann::json& json) {
    const std::string location = "kb/" + path + "#";
    PatientRule rule;
    rule.id = Str(json, "id");
    rule.category = Str(json, "category");
    rule.drug = Side(Child(json, "drug"), location + "/drug");
    rule.all_of = Factors(Items(json, "all_of"), location + "/all_of");
    rule.severity = Severity(json, "severity");
    rule.mechanism = Str(json, "mechanism");
    rule.action = Str(json, "action");
    rule.evidence = Str(json, "evidence");
    rule.sources = Strings(json, "sources");
    out_.patient_rules_.push_back(std::move(rule));
  }

  void LoadDoseCap(const std::string& path, const nlohmann::json& json) {
    const std::string location = "kb/" + path + "#";
    DoseCap cap;
    cap.id = Str(json, "id");
    cap.category = Str(json, "category");
    cap.drug = DrugAt(json, location);
    cap.max_mg_per_day = OptNum(json, "max_mg_per_day").value_or(0);
    const auto& reduced = Items(json, "reduced");
    for (std::size_t item_idx = 0; item_idx < reduced.size(); ++item_idx) {
      const std::string where = fmt::format("{}/reduced/{}", location, item_idx);
      DoseCap::Reduced entry{OptNum(reduced[item_idx], "max_mg_per_day").value_or(0), Factors(Items(reduced[item_idx], "any_of"), where + "/any_of")};
      if (entry.max_mg_per_day >= cap.max_mg_per_day) {
        AddError(fmt::format("a reduced cap ({} mg/day) must be below the maximum ({} mg/day)", entry.max_mg_per_day, cap.max_mg_per_day),
                 where + "/max_mg_per_day");
      }
      cap.reduced.push_back(std::move(entry));
    }
    cap.severity_above = Severity(json, "severity_above");
    cap.severity_dose_unknown = Severity(json, "severity_dose_unknown");
    cap.mechanism = Str(json, "mechanism");
    cap.action = Str(json, "action");
    cap.evidence = Str(json, "evidence");
    cap.sources = Strings(json, "sources");
    if (cap.drug != nullptr) out_.dose_caps_.push_back(std::move(cap));
  }

  void LoadWashout(const std::string& path, const nlohmann::json& json) {
    const std::string location = "kb/" + path + "#";
    WashoutRule rule;
    rule.id = Str(json, "id");
    const auto names = Strings(json, "rules");
    for (std::size_t rule_idx = 0; rule_idx < names.size(); ++rule_idx) {
      const auto found = std::find_if(out_.pair_rules_.begin(), out_.pair_rules_.end(), [&](const PairRule& pair) { return pair.id == names[rule_idx]; });
      if (found == out_.pair_rules_.end()) {
        AddError(fmt::format("rule \"{}\" is not a pair rule (kind ddi_rule)", names[rule_idx]), fmt::format("{}/rules/{}", location, rule_idx));
        continue;
      }
      rule.rules.push_back(&*found);
    }
    rule.severity = Severity(json, "severity");
    rule.action = Str(json, "action");
    rule.default_min_days = OptInt(json, "default_min_days");
    rule.stopped_side = Str(json, "stopped_side");
    rule.sources = Strings(json, "sources");
    const auto& entries = Items(json, "after_stopping");
    for (std::size_t item_idx = 0; item_idx < entries.size(); ++item_idx) {
      const std::string where = fmt::format("{}/after_stopping/{}", location, item_idx);
      const Drug* drug = DrugAt(entries[item_idx], where);
      if (drug == nullptr) continue;
      const auto [it, inserted] = rule.after_stopping.emplace(drug->id, WashoutEntry{OptInt(entries[item_idx], "min_days").value_or(0), Strings(entries[item_idx], "sources")});
      if (!inserted) AddError(fmt::format("{} is listed twice", drug->id), where + "/drug");
    }
    out_.washouts_.push_back(std::move(rule));
  }

  void LoadPkMatrix(const std::string& path, const nlohmann::json& json) {
    const std::string location = "kb/" + path + "#";
    PkMatrix& matrix = out_.pk_matrix_;
    matrix.id = Str(json, "id");
    const auto& cells = Items(json, "cells");
    for (std::size_t cell_idx = 0; cell_idx < cells.size(); ++cell_idx) {
      const auto& entry = cells[cell_idx];
      PkMatrix::Cell cell{Str(entry, "effect") == "induction", ParseStrength(Str(entry, "strength")), ParseSensitivity(Str(entry, "sensitivity")),
                          Bool(entry, "activation"), Severity(entry, "severity")};
      const bool duplicate = std::any_of(matrix.cells.begin(), matrix.cells.end(), [&](const PkMatrix::Cell& other) {
        return other.induction == cell.induction && other.strength == cell.strength && other.sensitivity == cell.sensitivity &&
               other.activation == cell.activation;
      });
      if (duplicate) AddError("this cell is defined twice", fmt::format("{}/cells/{}", location, cell_idx));
      matrix.cells.push_back(cell);
    }
    const auto& mechanism = Child(json, "mechanism");
    matrix.mechanism_inhibition = Str(mechanism, "inhibition");
    matrix.mechanism_induction = Str(mechanism, "induction");
    matrix.mechanism_activation = Str(mechanism, "inhibition_activation");
    const auto& action = Child(json, "action");
    matrix.action_inhibition = Str(action, "inhibition");
    matrix.action_induction = Str(action, "induction");
    matrix.evidence = Str(json, "evidence");
    matrix.sources = Strings(json, "sources");
  }

  void LoadSeverityScale(const std::string& path, const nlohmann::json& json) {
    out_.severity_scale_id_ = Str(json, "id");
    std::set<std::string> seen;
    for (const auto& entry : Items(json, "levels")) {
      SeverityLevel level;
      level.severity = Severity(entry, "level");
      if (!seen.insert(Str(entry, "level")).second) AddError(fmt::format("level \"{}\" is described twice", Str(entry, "level")), "kb/" + path + "#/levels");
      level.meaning = Str(entry, "meaning");
      level.alert = Str(entry, "alert");
      for (const auto& [vendor, grade] : Child(entry, "maps_to").items()) level.maps_to.emplace_back(vendor, grade.get<std::string>());
      out_.severity_scale_.push_back(std::move(level));
    }
    std::sort(out_.severity_scale_.begin(), out_.severity_scale_.end(),
              [](const SeverityLevel& left, const SeverityLevel& right) { return left.severity > right.severity; });
  }

  const KnowledgeBase& kb_;
  InteractionKnowledge out_;
  std::vector<Error> errors_;
};

std::vector<Error> CheckInteractionKnowledge(const KnowledgeBase& kb) {
  InteractionKnowledgeBuilder builder(kb);
  (void)builder.Build();
  return std::move(builder.errors());
}

Result<InteractionKnowledge> LoadInteractionKnowledge(const KnowledgeBase& kb) {
  InteractionKnowledgeBuilder builder(kb);
  InteractionKnowledge knowledge = builder.Build();
  const auto& errors = builder.errors();
  if (!errors.empty()) {
    Error first = errors.front();
    if (errors.size() > 1) first.message += fmt::format(" (and {} more problems; run refract kb check)", errors.size() - 1);
    return tl::unexpected<Error>(first);
  }
  return knowledge;
}

std::vector<EnzymeInhibition> InhibitionsBy(const InteractionKnowledge& knowledge, std::span<const std::string> drug_ids) {
  std::vector<EnzymeInhibition> out;
  for (const std::string& drug_id : drug_ids) {
    // A fixed combination inhibits through its own entry or through its components' entries.
    std::vector<std::string> ids{drug_id};
    if (const Drug* drug = knowledge.kb().FindDrug(drug_id)) ids.insert(ids.end(), drug->components.begin(), drug->components.end());
    for (const Enzyme& enzyme : knowledge.enzymes()) {
      for (const EnzymePerpetrator& inhibitor : enzyme.inhibitors) {
        if (std::find(ids.begin(), ids.end(), inhibitor.drug->id) == ids.end()) continue;
        out.push_back(EnzymeInhibition{drug_id, enzyme.name, enzyme.id, inhibitor.strength, inhibitor.persists_after_stop_days,
                                       inhibitor.unverified, inhibitor.sources});
      }
    }
  }
  // One entry per drug and enzyme: the strongest stated class wins.
  std::sort(out.begin(), out.end(), [](const EnzymeInhibition& left, const EnzymeInhibition& right) {
    if (left.drug_id != right.drug_id) return left.drug_id < right.drug_id;
    if (left.enzyme != right.enzyme) return left.enzyme < right.enzyme;
    return left.strength > right.strength;
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const EnzymeInhibition& left, const EnzymeInhibition& right) {
                          return left.drug_id == right.drug_id && left.enzyme == right.enzyme;
                        }),
            out.end());
  return out;
}

}  // namespace refract
