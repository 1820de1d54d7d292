// SPDX-License-Identifier: Apache-2.0
// Rating scales: reading their KB definitions, validating and scoring administrations.
#include "refract/core/scales.h"

#include "refract/core/text.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <fmt/format.h>

namespace refract {

std::string_view ScreenResultName(ScreenResult value) {
  switch (value) {
    case ScreenResult::NotApplicable: return "not_applicable";
    case ScreenResult::Negative: return "negative";
    case ScreenResult::Positive: return "positive";
    case ScreenResult::Indeterminate: return "indeterminate";
  }
  return "not_applicable";
}

std::size_t ScaleDefinition::MinItems() const {
  std::size_t count = 0;
  for (std::size_t item_idx = 0; item_idx < items.size(); ++item_idx) {
    if (items[item_idx].required) count = item_idx + 1;
  }
  return count;
}

std::optional<std::size_t> ScaleDefinition::ItemIndex(std::string_view label) const {
  for (std::size_t item_idx = 0; item_idx < items.size(); ++item_idx) {
    if (items[item_idx].label == label) return item_idx;
  }
  return std::nullopt;
}

namespace {

// A member by reference (an empty array when absent): json::value() would copy whole subtrees.
const nlohmann::json& Member(const nlohmann::json& node, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const auto found = node.find(key);
  return found != node.end() ? *found : kEmpty;
}

std::string Str(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_string() ? found->get<std::string>() : std::string();
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

bool BoolOr(const nlohmann::json& node, const char* key, bool fallback) {
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

bool HasScalePrefix(std::string_view name) {
  constexpr std::string_view kPrefix = "scale.";
  if (name.size() <= kPrefix.size()) return false;
  for (std::size_t char_idx = 0; char_idx < kPrefix.size(); ++char_idx) {
    if (std::tolower(static_cast<unsigned char>(name[char_idx])) != kPrefix[char_idx]) return false;
  }
  return true;
}

// Names compare without case, spaces or punctuation: "PHQ-9", "phq 9" and "phq9" are one name.
std::string FoldName(std::string_view name) {
  std::string_view rest = name;
  if (HasScalePrefix(rest)) rest.remove_prefix(6);
  std::string out;
  for (const char character : rest) {
    if (std::isalnum(static_cast<unsigned char>(character)) != 0) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(character))));
    }
  }
  return out;
}

ScaleCondition ReadCondition(const nlohmann::json& node) {
  ScaleCondition condition;
  condition.at_least = OptInt(node, "at_least");
  condition.at_most = OptInt(node, "at_most");
  if (node.contains("item")) {
    condition.kind = ScaleCondition::Kind::Item;
    condition.item = Str(node, "item");
  } else if (node.contains("count_of")) {
    condition.kind = ScaleCondition::Kind::CountOf;
    condition.count_of = Strings(node, "count_of");
  } else if (node.contains("total")) {
    condition.kind = ScaleCondition::Kind::Total;
  } else if (node.contains("any")) {
    condition.kind = ScaleCondition::Kind::Any;
    for (const auto& child : node["any"]) condition.children.push_back(ReadCondition(child));
  } else {
    condition.kind = ScaleCondition::Kind::All;
    for (const auto& child : Member(node, "all")) condition.children.push_back(ReadCondition(child));
  }
  return condition;
}

// Problems the schema cannot see: labels that do not exist, comparisons without a bound.
void CheckCondition(const ScaleCondition& condition, const ScaleDefinition& scale, const std::string& where, std::vector<std::string>& problems) {
  const auto check_label = [&](const std::string& label) {
    if (!scale.ItemIndex(label)) problems.push_back(fmt::format("{}: item \"{}\" does not exist", where, label));
  };
  switch (condition.kind) {
    case ScaleCondition::Kind::Item:
      check_label(condition.item);
      break;
    case ScaleCondition::Kind::CountOf:
      for (const std::string& label : condition.count_of) check_label(label);
      break;
    case ScaleCondition::Kind::Total:
      if (scale.method == ScoringMethod::None) problems.push_back(fmt::format("{}: the scale has no total", where));
      break;
    case ScaleCondition::Kind::Any:
    case ScaleCondition::Kind::All:
      for (const ScaleCondition& child : condition.children) CheckCondition(child, scale, where, problems);
      return;
  }
  if (!condition.at_least && !condition.at_most) problems.push_back(fmt::format("{}: needs at_least or at_most", where));
}

Truth Compare(const ScaleCondition& condition, int value) {
  if (condition.at_least && value < *condition.at_least) return Truth::False;
  if (condition.at_most && value > *condition.at_most) return Truth::False;
  return Truth::True;
}

struct Answers {
  const ScaleDefinition& scale;
  std::span<const std::optional<int>> items;
  std::optional<double> total;
};

std::optional<int> ItemValue(const Answers& answers, std::string_view label) {
  const auto index = answers.scale.ItemIndex(label);
  if (!index || *index >= answers.items.size()) return std::nullopt;
  return answers.items[*index];
}

Truth Evaluate(const ScaleCondition& condition, const Answers& answers) {
  switch (condition.kind) {
    case ScaleCondition::Kind::Item: {
      const auto value = ItemValue(answers, condition.item);
      return value ? Compare(condition, *value) : Truth::Unknown;
    }
    case ScaleCondition::Kind::CountOf: {
      int count = 0;
      int unknown = 0;
      for (const std::string& label : condition.count_of) {
        const auto value = ItemValue(answers, label);
        if (!value) {
          ++unknown;
        } else if (*value >= 1) {
          ++count;
        }
      }
      // Decided when the answered items settle it whatever the unanswered ones are.
      const Truth low = Compare(condition, count);
      const Truth high = Compare(condition, count + unknown);
      return low == high ? low : Truth::Unknown;
    }
    case ScaleCondition::Kind::Total: {
      if (!answers.total) return Truth::Unknown;
      const double total = *answers.total;
      if (condition.at_least && total < *condition.at_least) return Truth::False;
      if (condition.at_most && total > *condition.at_most) return Truth::False;
      return Truth::True;
    }
    case ScaleCondition::Kind::Any: {
      Truth out = Truth::False;
      for (const ScaleCondition& child : condition.children) {
        const Truth value = Evaluate(child, answers);
        if (value == Truth::True) return Truth::True;
        if (value == Truth::Unknown) out = Truth::Unknown;
      }
      return out;
    }
    case ScaleCondition::Kind::All: {
      Truth out = Truth::True;
      for (const ScaleCondition& child : condition.children) {
        const Truth value = Evaluate(child, answers);
        if (value == Truth::False) return Truth::False;
        if (value == Truth::Unknown) out = Truth::Unknown;
      }
      return out;
    }
  }
  return Truth::Unknown;
}

// The items a condition reads, for the answer text of a positive safety item.
void ConditionItems(const ScaleCondition& condition, std::vector<std::string>& labels) {
  if (condition.kind == ScaleCondition::Kind::Item) labels.push_back(condition.item);
  if (condition.kind == ScaleCondition::Kind::CountOf) labels.insert(labels.end(), condition.count_of.begin(), condition.count_of.end());
  for (const ScaleCondition& child : condition.children) ConditionItems(child, labels);
}

ScaleScreenRule ReadScreen(const nlohmann::json& node) {
  ScaleScreenRule screen;
  screen.name = Str(node, "name");
  if (node.contains("positive_if")) screen.positive_if = ReadCondition(node["positive_if"]);
  if (const auto by_sex = node.find("by_sex"); by_sex != node.end()) {
    screen.female = ReadCondition((*by_sex)["female"]);
    screen.male = ReadCondition((*by_sex)["male"]);
    screen.when_unknown = Str(*by_sex, "when_unknown");
  }
  screen.alert = Str(node, "alert");
  screen.advice = Str(node, "advice");
  screen.sources = Strings(node, "sources");
  return screen;
}

std::string CountText(std::size_t low, std::size_t high) {
  return low == high ? fmt::format("{} items", low) : fmt::format("{} to {} items", low, high);
}

}  // namespace

Result<ScaleDefinition> ReadScaleDefinition(const nlohmann::json& file, std::string_view kb_path, ScaleDetail detail) {
  const bool full = detail == ScaleDetail::Full;
  ScaleDefinition scale;
  scale.source = &file;
  scale.id = Str(file, "id");
  scale.name = Str(file, "name");
  scale.short_name = Str(file, "short_name");
  scale.aliases = Strings(file, "aliases");
  scale.measures = Str(file, "measures");
  scale.rater = Str(file, "rater");
  scale.sources = Strings(file, "sources");
  std::vector<std::string> problems;
  const auto& item_nodes = Member(file, "items");
  scale.items.reserve(item_nodes.size());
  for (const auto& node : item_nodes) {
    ScaleItem item;
    item.label = Str(node, "label");
    if (full) {
      item.construct = Str(node, "construct");
      item.text = Str(node, "text");
      item.answers = Strings(node, "answers");
      item.loinc = Str(node, "loinc");
    }
    item.min = OptInt(node, "min").value_or(0);
    item.max = OptInt(node, "max").value_or(0);
    item.required = BoolOr(node, "required", true);
    item.scored = BoolOr(node, "scored", true);
    item.positive_from = OptInt(node, "positive_from");
    if (node.contains("required_if")) item.required_if = ReadCondition(node["required_if"]);
    if (scale.ItemIndex(item.label)) problems.push_back(fmt::format("item label \"{}\" is used twice", item.label));
    if (item.min >= item.max) problems.push_back(fmt::format("item {}: min {} is not below max {}", item.label, item.min, item.max));
    if (!item.answers.empty() && item.answers.size() != static_cast<std::size_t>(item.max - item.min + 1)) {
      problems.push_back(fmt::format("item {}: {} answer names for {} values", item.label, item.answers.size(), item.max - item.min + 1));
    }
    scale.items.push_back(std::move(item));
  }
  const auto& scoring = Member(file, "scoring");
  const std::string method = Str(scoring, "method");
  scale.method = method == "domain_max_sum"   ? ScoringMethod::DomainMaxSum
                 : method == "count_positive" ? ScoringMethod::CountPositive
                 : method == "none"           ? ScoringMethod::None
                                              : ScoringMethod::Sum;
  for (const auto& node : Member(scoring, "domains")) {
    ScaleDomain domain{Str(node, "name"), {}};
    for (const std::string& label : Strings(node, "items")) {
      const auto index = scale.ItemIndex(label);
      if (!index) {
        problems.push_back(fmt::format("domain {}: item \"{}\" does not exist", domain.name, label));
        continue;
      }
      domain.items.push_back(*index);
    }
    scale.domains.push_back(std::move(domain));
  }
  if (scale.method == ScoringMethod::DomainMaxSum && scale.domains.empty()) problems.push_back("domain_max_sum scoring needs domains");
  if (scale.method == ScoringMethod::CountPositive) {
    for (const ScaleItem& item : scale.items) {
      if (item.scored && !item.positive_from) problems.push_back(fmt::format("item {}: count_positive scoring needs positive_from", item.label));
    }
  }
  if (const auto range = file.find("total_range"); range != file.end() && range->size() == 2) {
    scale.total_min = (*range)[0].get<int>();
    scale.total_max = (*range)[1].get<int>();
  }
  if (scale.method != ScoringMethod::None) {
    // The total range must be the one the items and the scoring method give.
    int low = 0;
    int high = 0;
    if (scale.method == ScoringMethod::DomainMaxSum) {
      for (const ScaleDomain& domain : scale.domains) {
        int domain_low = 0;
        int domain_high = 0;
        for (const std::size_t index : domain.items) {
          domain_low = std::max(domain_low, scale.items[index].min);
          domain_high = std::max(domain_high, scale.items[index].max);
        }
        low += domain_low;
        high += domain_high;
      }
    } else {
      for (const ScaleItem& item : scale.items) {
        if (!item.scored) continue;
        low += scale.method == ScoringMethod::CountPositive ? 0 : item.min;
        high += scale.method == ScoringMethod::CountPositive ? 1 : item.max;
      }
    }
    if (!scale.total_min || *scale.total_min != low || *scale.total_max != high) {
      problems.push_back(fmt::format("total_range must be [{}, {}] for these items and scoring", low, high));
    }
  } else if (scale.total_min) {
    problems.push_back("a scale without a total has no total_range");
  }
  int expected = scale.total_min.value_or(0);
  for (const auto& node : Member(file, "bands")) {
    ScaleBand band{OptInt(node, "min").value_or(0), OptInt(node, "max").value_or(0), Str(node, "label")};
    if (band.min != expected || band.max < band.min) {
      problems.push_back(fmt::format("band \"{}\" must start at {} and not end before it starts", band.label, expected));
    }
    expected = band.max + 1;
    scale.bands.push_back(std::move(band));
  }
  if (!scale.bands.empty() && scale.total_max && expected != *scale.total_max + 1) {
    problems.push_back(fmt::format("bands must end at the maximum total {}", *scale.total_max));
  }
  scale.bands_sources = Strings(file, "bands_sources");
  if (!scale.bands.empty() && scale.bands_sources.empty()) problems.push_back("bands need bands_sources");
  if (file.contains("screen")) scale.screen = ReadScreen(file["screen"]);
  for (const auto& node : Member(file, "risk_tiers")) {
    scale.risk_tiers.push_back(ScaleRiskTier{Str(node, "tier"), ReadCondition(node["if"])});
  }
  if (const auto remission = file.find("remission"); remission != file.end()) {
    scale.remission_max = OptInt(*remission, "max_total");
    scale.remission_sources = Strings(*remission, "sources");
  }
  if (const auto response = file.find("response"); response != file.end()) {
    scale.response_min_baseline = OptInt(*response, "min_baseline");
    scale.response_sources = Strings(*response, "sources");
  }
  if (const auto episode = file.find("episode_threshold"); episode != file.end()) {
    scale.episode_min = OptInt(*episode, "min_total");
    scale.episode_sources = Strings(*episode, "sources");
  }
  if (const auto change = file.find("reliable_change"); change != file.end()) {
    ScaleReliableChange reliable{Str(*change, "method"), OptInt(*change, "min_points"), OptNum(*change, "reliability"),
                                 OptNum(*change, "reference_sd"), Strings(*change, "sources")};
    if (reliable.method == "points" && !reliable.min_points) problems.push_back("reliable_change by points needs min_points");
    if (reliable.method == "jacobson_truax" && (!reliable.reliability || !reliable.reference_sd)) {
      problems.push_back("reliable_change by jacobson_truax needs reliability and reference_sd");
    }
    scale.reliable_change = std::move(reliable);
  }
  for (const auto& node : Member(file, "safety_items")) {
    scale.safety_items.push_back(
        ScaleSafetyItem{Str(node, "what"), ReadCondition(node["positive_if"]), Str(node, "severity"), Str(node, "note"), Strings(node, "sources")});
  }
  if (const auto loinc = file.find("loinc"); loinc != file.end()) {
    scale.loinc_panel = Str(*loinc, "panel");
    scale.loinc_total = Str(*loinc, "total");
  }
  const auto& licence = Member(file, "licence");
  scale.licence_status = Str(licence, "status");
  scale.ship_text = BoolOr(licence, "ship_text", false);
  for (const ScaleItem& item : scale.items) {
    if (!item.text.empty() && !scale.ship_text) problems.push_back(fmt::format("item {} has wording, but the licence does not allow shipping it", item.label));
    if (item.required_if) CheckCondition(*item.required_if, scale, fmt::format("item {} required_if", item.label), problems);
  }
  if (scale.screen) {
    for (const auto* condition : {&scale.screen->positive_if, &scale.screen->female, &scale.screen->male}) {
      if (*condition) CheckCondition(**condition, scale, "screen", problems);
    }
  }
  for (const ScaleRiskTier& tier : scale.risk_tiers) CheckCondition(tier.condition, scale, "risk tier " + tier.tier, problems);
  for (const ScaleSafetyItem& item : scale.safety_items) CheckCondition(item.positive_if, scale, "safety item", problems);
  for (const std::optional<int>* threshold : {&scale.remission_max, &scale.episode_min, &scale.response_min_baseline}) {
    if (*threshold && scale.total_max && (**threshold < scale.total_min.value_or(0) || **threshold > *scale.total_max)) {
      problems.push_back(fmt::format("threshold {} is outside the total range", **threshold));
    }
  }
  if (!problems.empty()) {
    std::string message = problems.front();
    if (problems.size() > 1) message += fmt::format(" (and {} more problems)", problems.size() - 1);
    return Fail(ErrorCode::KbReference, message, fmt::format("kb/{}", kb_path));
  }
  return scale;
}

namespace {

/// The KB's scale files with their names folded for lookup and their scoring definitions read, built
/// once per KB (KnowledgeBase::Derived) so that scoring a record does not re-read any JSON.
struct ScaleCatalog {
  struct Entry {
    std::string path;
    const nlohmann::json* json = nullptr;
    std::string folded_stem;
    std::vector<std::string> folded_names;  ///< Id, short name and aliases.
    std::string shown;                      ///< The id without "scale." ("qids_sr16").
    Result<ScaleDefinition> scoring = Fail(ErrorCode::Internal, "not read");
  };
  std::vector<Entry> entries;

  static ScaleCatalog Build(const KnowledgeBase& kb) {
    ScaleCatalog catalog;
    for (const auto& [path, json] : kb.FilesOfKind("scale")) {
      Entry entry;
      entry.path = path;
      entry.json = json;
      const std::size_t slash = path.rfind('/');
      entry.folded_stem = FoldName(std::string_view(path).substr(slash + 1, path.size() - slash - 1 - 5));
      entry.folded_names.push_back(FoldName(Str(*json, "id")));
      entry.folded_names.push_back(FoldName(Str(*json, "short_name")));
      if (const auto aliases = json->find("aliases"); aliases != json->end() && aliases->is_array()) {
        for (const auto& alias : *aliases) {
          if (alias.is_string()) entry.folded_names.push_back(FoldName(alias.get_ref<const std::string&>()));
        }
      }
      const std::string& id = Str(*json, "id");
      entry.shown = id.size() > 6 ? id.substr(6) : id;
      entry.scoring = ReadScaleDefinition(*json, path, ScaleDetail::Scoring);
      catalog.entries.push_back(std::move(entry));
    }
    return catalog;
  }
};

}  // namespace

Result<ScaleDefinition> FindScale(const KnowledgeBase& kb, std::string_view name, ScaleDetail detail) {
  const ScaleCatalog& catalog = kb.Derived<ScaleCatalog>(&ScaleCatalog::Build);
  const std::string folded = FoldName(name);
  const auto read = [&](const ScaleCatalog::Entry& entry) -> Result<ScaleDefinition> {
    return detail == ScaleDetail::Scoring ? entry.scoring : ReadScaleDefinition(*entry.json, entry.path, detail);
  };
  if (!folded.empty()) {
    // Most records use the file's own name ("phq9" is scales/phq9.json).
    for (const auto& entry : catalog.entries) {
      if (entry.folded_stem == folded) return read(entry);
    }
    for (const auto& entry : catalog.entries) {
      if (std::find(entry.folded_names.begin(), entry.folded_names.end(), folded) != entry.folded_names.end()) return read(entry);
    }
  }
  std::vector<std::string> candidates;  // Folded ids, compared with the folded name.
  for (const auto& entry : catalog.entries) candidates.push_back(entry.folded_names.front());
  std::string message = fmt::format("unknown scale \"{}\"", name);
  if (auto suggestion = Suggest(folded, candidates)) {
    const auto index = static_cast<std::size_t>(std::find(candidates.begin(), candidates.end(), *suggestion) - candidates.begin());
    message += fmt::format(" (did you mean \"{}\"?)", catalog.entries[index].shown);
  }
  return Fail(ErrorCode::InvalidInput, message);
}

std::vector<Error> CheckScaleDefinitions(const KnowledgeBase& kb) {
  std::vector<Error> errors;
  std::map<std::string, std::string> owner_of_name;
  for (const auto& [path, json] : kb.FilesOfKind("scale")) {
    auto scale = ReadScaleDefinition(*json, path);
    if (!scale) {
      errors.push_back(scale.error());
      continue;
    }
    std::vector<std::string> names = scale->aliases;
    names.push_back(scale->id);
    names.push_back(scale->short_name);
    std::set<std::string> own;
    for (const std::string& alias : names) {
      const std::string folded = FoldName(alias);
      if (!own.insert(folded).second) continue;
      const auto [it, inserted] = owner_of_name.emplace(folded, scale->id);
      if (!inserted) {
        errors.push_back(Error{ErrorCode::KbReference, fmt::format("scale name \"{}\" belongs to both {} and {}", alias, it->second, scale->id),
                               fmt::format("kb/{}#/aliases", path)});
      }
    }
  }
  return errors;
}

std::optional<ScaleInputProblem> CheckScaleInput(const ScaleDefinition& scale, std::span<const std::optional<int>> items,
                                                 const std::optional<double>& total) {
  if (items.empty() && !total) return ScaleInputProblem{fmt::format("{} needs its items or a total", scale.id), ""};
  if (!items.empty()) {
    const std::size_t low = scale.MinItems();
    const std::size_t high = scale.items.size();
    if (items.size() < low || items.size() > high) {
      return ScaleInputProblem{fmt::format("{} expects {}, got {}", scale.id, CountText(low, high), items.size()), "/items"};
    }
    for (std::size_t item_idx = 0; item_idx < items.size(); ++item_idx) {
      if (!items[item_idx]) continue;
      const ScaleItem& item = scale.items[item_idx];
      const int value = *items[item_idx];
      const std::string where = fmt::format("/items/{}", item_idx);
      if (value > item.max) return ScaleInputProblem{fmt::format("item {} of {} is {}, above its maximum {}", item.label, scale.id, value, item.max), where};
      if (value < item.min) return ScaleInputProblem{fmt::format("item {} of {} is {}, below its minimum {}", item.label, scale.id, value, item.min), where};
    }
  }
  if (total) {
    if (scale.method == ScoringMethod::None) return ScaleInputProblem{fmt::format("{} has no total: record its items", scale.id), "/total"};
    if (scale.total_max && *total > *scale.total_max) {
      return ScaleInputProblem{fmt::format("total of {} is {}, above its maximum {}", scale.id, FormatNumber(*total), *scale.total_max), "/total"};
    }
    if (scale.total_min && *total < *scale.total_min) {
      return ScaleInputProblem{fmt::format("total of {} is {}, below its minimum {}", scale.id, FormatNumber(*total), *scale.total_min), "/total"};
    }
    if (!items.empty()) {
      const ScaleScore computed = ScoreScale(scale, items, std::nullopt, "");
      if (computed.total && *computed.total != *total) {
        return ScaleInputProblem{fmt::format("the recorded total {} does not match the items of {}, which give {}", FormatNumber(*total), scale.id,
                                             FormatNumber(*computed.total)),
                                 "/total"};
      }
    }
  }
  return std::nullopt;
}

Result<bool> ValidateScaleAdministrations(const KnowledgeBase& kb, std::span<const ScaleAdministration> scales, std::string_view label) {
  for (const ScaleAdministration& administration : scales) {
    const std::string where = fmt::format("{}#/scales/{}", label, administration.input_index);
    auto scale = FindScale(kb, administration.scale, ScaleDetail::Scoring);
    if (!scale) return Fail(ErrorCode::InvalidInput, scale.error().message, where + "/scale");
    if (const auto problem = CheckScaleInput(*scale, administration.items, administration.total)) {
      return Fail(ErrorCode::InvalidInput, problem->message, where + problem->pointer);
    }
  }
  return true;
}

std::string BandFor(const ScaleDefinition& scale, double total) {
  for (const ScaleBand& band : scale.bands) {
    if (total >= band.min && total < band.max + 1) return band.label;
  }
  return "";
}

std::string DescribeAnswer(const ScaleDefinition& scale, std::size_t item_index, int value) {
  const ScaleItem& item = scale.items[item_index];
  const auto answer_idx = value - item.min;
  if (answer_idx >= 0 && static_cast<std::size_t>(answer_idx) < item.answers.size()) {
    return fmt::format("item {} = {} ({})", item.label, value, item.answers[static_cast<std::size_t>(answer_idx)]);
  }
  // A definition read for scoring only: the answer names are still in the KB file.
  if (scale.source != nullptr && answer_idx >= 0) {
    const auto& items = Member(*scale.source, "items");
    if (item_index < items.size()) {
      const auto& answers = Member(items[item_index], "answers");
      if (static_cast<std::size_t>(answer_idx) < answers.size() && answers[static_cast<std::size_t>(answer_idx)].is_string()) {
        return fmt::format("item {} = {} ({})", item.label, value, answers[static_cast<std::size_t>(answer_idx)].get_ref<const std::string&>());
      }
    }
  }
  return fmt::format("item {} = {}", item.label, value);
}

ScaleScore ScoreScale(const ScaleDefinition& scale, std::span<const std::optional<int>> items, const std::optional<double>& total,
                      std::string_view sex) {
  ScaleScore score;
  const Answers provisional{scale, items, std::nullopt};
  // Which items the record leaves unanswered although the scale requires them.
  std::vector<std::string> missing;
  if (!items.empty()) {
    for (std::size_t item_idx = 0; item_idx < scale.items.size(); ++item_idx) {
      const ScaleItem& item = scale.items[item_idx];
      const bool answered = item_idx < items.size() && items[item_idx].has_value();
      if (answered) continue;
      const bool needed = item.required || (item.required_if && Evaluate(*item.required_if, provisional) != Truth::False);
      if (needed) missing.push_back(item.label);
    }
  }
  if (!missing.empty()) {
    score.complete = false;
    score.notes.push_back(ScaleNote{"items_unanswered",
                                    fmt::format("item{} {} of {} unanswered: {}", missing.size() == 1 ? "" : "s", fmt::join(missing, ", "),
                                                scale.id, scale.method == ScoringMethod::None ? "the result may be incomplete" : "no total is computed (no proration)")});
  }
  if (!items.empty() && scale.method != ScoringMethod::None && missing.empty()) {
    int sum = 0;
    if (scale.method == ScoringMethod::DomainMaxSum) {
      for (const ScaleDomain& domain : scale.domains) {
        std::optional<int> highest;
        for (const std::size_t index : domain.items) {
          if (index < items.size() && items[index]) highest = std::max(highest.value_or(*items[index]), *items[index]);
        }
        score.domains.push_back(DomainScore{domain.name, highest});
        sum += highest.value_or(0);
      }
    } else {
      for (std::size_t item_idx = 0; item_idx < items.size(); ++item_idx) {
        const ScaleItem& item = scale.items[item_idx];
        if (!item.scored || !items[item_idx]) continue;
        if (scale.method == ScoringMethod::CountPositive) {
          sum += *items[item_idx] >= item.positive_from.value_or(item.max) ? 1 : 0;
        } else {
          sum += *items[item_idx];
        }
      }
    }
    score.total = sum;
    score.total_from_items = true;
  }
  if (!score.total && total) score.total = total;
  // An item skipped by design (its required_if does not hold, e.g. C-SSRS items 3-5 after "no" to
  // item 2) counts as its lowest answer for the screen, tier and safety rules; optional items stay unknown.
  std::vector<std::optional<int>> effective(items.begin(), items.end());
  for (std::size_t item_idx = 0; item_idx < effective.size() && item_idx < scale.items.size(); ++item_idx) {
    const ScaleItem& item = scale.items[item_idx];
    if (!effective[item_idx] && item.required_if && Evaluate(*item.required_if, provisional) == Truth::False) effective[item_idx] = item.min;
  }
  if (!items.empty()) {
    for (std::size_t item_idx = effective.size(); item_idx < scale.items.size(); ++item_idx) {
      const ScaleItem& item = scale.items[item_idx];
      effective.push_back(item.required_if && Evaluate(*item.required_if, provisional) == Truth::False ? std::optional<int>(item.min) : std::nullopt);
    }
  }
  if (items.empty() && total) {
    score.notes.push_back(ScaleNote{"total_only", fmt::format("only the total was recorded for {}: item-level rules (including safety items) cannot be checked", scale.id)});
  }
  if (score.total) score.band = BandFor(scale, *score.total);
  const Answers answers{scale, effective, score.total};

  if (scale.screen) {
    const ScaleScreenRule& screen = *scale.screen;
    const ScaleCondition* rule = screen.positive_if ? &*screen.positive_if : nullptr;
    if (!rule && screen.female && screen.male) {
      std::string used = std::string(sex);
      if (sex != "female" && sex != "male") {
        used = screen.when_unknown;
        const std::string why = sex.empty() ? "not recorded" : std::string(sex);
        const std::string which = used == "female" ? "women's" : "men's";
        score.screen_rule = fmt::format("{} cut-off, sex {}", which, why);
        score.notes.push_back(ScaleNote{"sex_unknown_cutoff", fmt::format("sex {}: the {} cut-off of {} is applied", why, which, scale.id)});
      } else {
        score.screen_rule = used == "female" ? "women's cut-off" : "men's cut-off";
      }
      rule = used == "female" ? &*screen.female : &*screen.male;
    }
    if (rule != nullptr) {
      const Truth truth = Evaluate(*rule, answers);
      score.screen = truth == Truth::True ? ScreenResult::Positive : truth == Truth::False ? ScreenResult::Negative : ScreenResult::Indeterminate;
    }
  }
  if (!scale.risk_tiers.empty()) {
    score.risk_tier = "none";
    for (const ScaleRiskTier& tier : scale.risk_tiers) {
      const Truth truth = Evaluate(tier.condition, answers);
      if (truth == Truth::True) {
        score.risk_tier = tier.tier;
        break;
      }
      // An unanswered item that could raise this tier leaves the tier open.
      if (truth == Truth::Unknown) {
        score.risk_tier = "unknown";
        break;
      }
    }
  }
  for (const ScaleSafetyItem& safety : scale.safety_items) {
    SafetyItemResult result{&safety, Evaluate(safety.positive_if, answers), ""};
    if (result.state == Truth::True) {
      std::vector<std::string> labels;
      ConditionItems(safety.positive_if, labels);
      std::vector<std::string> parts;
      std::set<std::string> seen;
      for (const std::string& label : labels) {
        const auto index = scale.ItemIndex(label);
        if (!index || *index >= items.size() || !items[*index] || *items[*index] < 1 || !seen.insert(label).second) continue;
        parts.push_back(DescribeAnswer(scale, *index, *items[*index]));
      }
      result.answer = fmt::format("{}", fmt::join(parts, ", "));
    }
    score.safety.push_back(std::move(result));
  }
  return score;
}

}  // namespace refract
