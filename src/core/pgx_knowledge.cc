// SPDX-License-Identifier: Apache-2.0
// Reading and cross-checking the pharmacogenomic KB files (kb/pgx).
#include "refract/core/pgx.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "refract/core/text.h"

namespace refract {

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

namespace {

constexpr std::array<std::string_view, kPhenotypeCount> kPhenotypeKeys = {
    "ultrarapid", "rapid", "normal", "likely_intermediate", "intermediate", "likely_poor", "poor", "indeterminate"};
constexpr std::array<std::string_view, kPhenotypeCount> kPhenotypeTerms = {
    "ultrarapid metabolizer", "rapid metabolizer", "normal metabolizer", "likely intermediate metabolizer",
    "intermediate metabolizer", "likely poor metabolizer", "poor metabolizer", "indeterminate"};
constexpr std::array<std::string_view, kPhenotypeCount> kPhenotypeAbbreviations = {"um", "rm", "nm", "lim", "im", "lpm", "pm", "indet"};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& character : out) character = static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
  return out;
}

}  // namespace

std::string_view PhenotypeKey(Phenotype value) { return kPhenotypeKeys[static_cast<std::size_t>(value)]; }

std::optional<Phenotype> ParsePhenotype(std::string_view text) {
  std::string folded = NormalizeName(text);
  std::replace(folded.begin(), folded.end(), '-', ' ');
  std::replace(folded.begin(), folded.end(), '_', ' ');
  // Gene-prefixed CPIC terms ("CYP2C19 Poor Metabolizer") and the British spelling.
  if (folded.rfind("cyp", 0) == 0) {
    const std::size_t space = folded.find(' ');
    if (space != std::string::npos) folded = folded.substr(space + 1);
  }
  if (const std::size_t at = folded.find("metaboliser"); at != std::string::npos) folded.replace(at, 11, "metabolizer");
  std::string underscored = folded;
  std::replace(underscored.begin(), underscored.end(), ' ', '_');
  for (std::size_t index = 0; index < kPhenotypeCount; ++index) {
    if (underscored == kPhenotypeKeys[index] || folded == kPhenotypeTerms[index] || folded == kPhenotypeAbbreviations[index]) {
      return static_cast<Phenotype>(index);
    }
  }
  return std::nullopt;
}

std::string_view AlleleFunctionName(AlleleFunction value) {
  switch (value) {
    case AlleleFunction::Increased: return "increased";
    case AlleleFunction::Normal: return "normal";
    case AlleleFunction::Decreased: return "decreased";
    case AlleleFunction::No: return "no";
    case AlleleFunction::Uncertain: return "uncertain";
    case AlleleFunction::Unknown: return "unknown";
  }
  return "unknown";
}

std::string_view InhibitorStrengthName(InhibitorStrength value) {
  switch (value) {
    case InhibitorStrength::Weak: return "weak";
    case InhibitorStrength::Moderate: return "moderate";
    case InhibitorStrength::Strong: return "strong";
  }
  return "weak";
}

std::optional<InhibitorStrength> ParseInhibitorStrength(std::string_view text) {
  const std::string folded = Lower(text);
  if (folded == "weak") return InhibitorStrength::Weak;
  if (folded == "moderate") return InhibitorStrength::Moderate;
  if (folded == "strong") return InhibitorStrength::Strong;
  return std::nullopt;
}

std::string_view RecommendationStrengthName(RecommendationStrength value) {
  switch (value) {
    case RecommendationStrength::Strong: return "strong";
    case RecommendationStrength::Moderate: return "moderate";
    case RecommendationStrength::Optional: return "optional";
    case RecommendationStrength::NoRecommendation: return "no_recommendation";
  }
  return "no_recommendation";
}

std::string_view GuidanceActionName(GuidanceAction value) {
  switch (value) {
    case GuidanceAction::Standard: return "standard";
    case GuidanceAction::Adjust: return "adjust";
    case GuidanceAction::Alternative: return "alternative";
    case GuidanceAction::Avoid: return "avoid";
    case GuidanceAction::None: return "none";
  }
  return "none";
}

std::string_view GenotypeInputKindName(GenotypeInputKind value) {
  switch (value) {
    case GenotypeInputKind::None: return "none";
    case GenotypeInputKind::Diplotype: return "diplotype";
    case GenotypeInputKind::ActivityScore: return "activity_score";
    case GenotypeInputKind::Phenotype: return "phenotype";
    case GenotypeInputKind::Vcf: return "vcf";
  }
  return "none";
}

BaseMask BaseMaskOf(char base) {
  switch (std::toupper(static_cast<unsigned char>(base))) {
    case 'A': return 1;
    case 'C': return 2;
    case 'G': return 4;
    case 'T': return 8;
    case 'R': return 1 | 4;
    case 'Y': return 2 | 8;
    case 'M': return 1 | 2;
    case 'K': return 4 | 8;
    case 'S': return 2 | 4;
    case 'W': return 1 | 8;
    default: return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------------------------

const PgxAllele* PgxGeneInfo::FindAllele(std::string_view name) const {
  for (const PgxAllele& allele : alleles) {
    if (allele.name == name) return &allele;
  }
  return nullptr;
}

bool PgxGeneInfo::HasPhenotype(Phenotype phenotype) const {
  return std::any_of(phenotypes.begin(), phenotypes.end(), [&](const PhenotypeTerm& entry) { return entry.phenotype == phenotype; });
}

std::string PgxGeneInfo::PhenotypeName(Phenotype phenotype) const {
  for (const PhenotypeTerm& entry : phenotypes) {
    if (entry.phenotype == phenotype) return entry.name;
  }
  return std::string(PhenotypeKey(phenotype));
}

Phenotype PgxGeneInfo::PhenotypeOfScore(double score) const {
  for (const PgxScoreBin& bin : bins) {
    if (bin.max_inclusive && score > *bin.max_inclusive) continue;
    if (bin.max_exclusive && score >= *bin.max_exclusive) continue;
    return bin.phenotype;
  }
  return Phenotype::Indeterminate;
}

Phenotype PgxGeneInfo::PhenotypeOfFunctions(AlleleFunction first, AlleleFunction second) const {
  for (const PgxFunctionPair& pair : pairs) {
    if ((pair.first == first && pair.second == second) || (pair.first == second && pair.second == first)) return pair.phenotype;
  }
  return otherwise;
}

namespace {

template <class T>
const T* FindByGene(const std::vector<T>& items, std::string_view gene) {
  for (const T& item : items) {
    if (item.gene == gene) return &item;
  }
  return nullptr;
}

template <class T>
const T* FindByDrug(const std::vector<T>& items, std::string_view drug_id) {
  for (const T& item : items) {
    if (item.drug_id == drug_id) return &item;
  }
  return nullptr;
}

}  // namespace

const PgxGeneInfo* PgxKnowledge::FindGene(std::string_view gene) const { return FindByGene(genes, gene); }
const PgxDefinition* PgxKnowledge::FindDefinition(std::string_view gene) const { return FindByGene(definitions, gene); }
const PgxDrugRules* PgxKnowledge::FindGuidance(std::string_view drug_id) const { return FindByDrug(guidance, drug_id); }
const PgxLabel* PgxKnowledge::FindLabel(std::string_view drug_id) const { return FindByDrug(labels, drug_id); }
const PgxPhenoconversionMethod* PgxKnowledge::FindPhenoconversion(std::string_view gene) const { return FindByGene(phenoconversion, gene); }

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

namespace {

std::string Str(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::optional<double> OptNum(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  if (found == node.end() || !found->is_number()) return std::nullopt;
  return found->get<double>();
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
  return found == node.end() ? kEmpty : *found;
}

const nlohmann::json& Items(const nlohmann::json& node, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const auto found = node.find(key);
  return found == node.end() || !found->is_array() ? kEmpty : *found;
}

std::optional<AlleleFunction> ParseFunction(std::string_view text) {
  if (text == "increased") return AlleleFunction::Increased;
  if (text == "normal") return AlleleFunction::Normal;
  if (text == "decreased") return AlleleFunction::Decreased;
  if (text == "no") return AlleleFunction::No;
  if (text == "uncertain") return AlleleFunction::Uncertain;
  if (text == "unknown") return AlleleFunction::Unknown;
  return std::nullopt;
}

int AlleleNumber(std::string_view name) {
  int number = 0;
  for (std::size_t index = 1; index < name.size() && std::isdigit(static_cast<unsigned char>(name[index])) != 0; ++index) {
    number = number * 10 + (name[index] - '0');
  }
  return number;
}

class PgxLoader {
 public:
  explicit PgxLoader(const KnowledgeBase& kb) : kb_(kb) {}

  PgxKnowledge Load() {
    for (const auto& [path, json] : kb_.FilesOfKind("pgx_gene")) LoadGene(path, *json);
    for (const auto& [path, json] : kb_.FilesOfKind("pgx_allele_definition")) LoadDefinition(path, *json);
    for (const auto& [path, json] : kb_.FilesOfKind("pgx_guidance")) LoadGuidance(path, *json);
    for (const auto& [path, json] : kb_.FilesOfKind("pgx_label")) LoadLabel(path, *json);
    const auto phenoconversion = kb_.FilesOfKind("pgx_phenoconversion");
    for (const auto& [path, json] : phenoconversion) LoadPhenoconversion(path, *json);
    const auto history = kb_.FilesOfKind("pgx_history");
    for (const auto& [path, json] : history) LoadHistory(path, *json);
    for (const char* gene : {"CYP2B6", "CYP2C19", "CYP2D6"}) {
      if (out_.FindGene(gene) == nullptr) Add(fmt::format("no pgx_gene file for {}", gene), "kb/pgx/genes/");
    }
    if (phenoconversion.empty()) Add("no pgx_phenoconversion file", "kb/pgx/");
    if (history.size() != 1) Add(fmt::format("expected one pgx_history file, found {}", history.size()), "kb/pgx/");
    CrossCheck();
    auto by_gene = [](const auto& left, const auto& right) { return left.gene < right.gene; };
    auto by_drug = [](const auto& left, const auto& right) { return left.drug_id < right.drug_id; };
    std::sort(out_.genes.begin(), out_.genes.end(), by_gene);
    std::sort(out_.definitions.begin(), out_.definitions.end(), by_gene);
    std::sort(out_.phenoconversion.begin(), out_.phenoconversion.end(), by_gene);
    std::sort(out_.guidance.begin(), out_.guidance.end(), by_drug);
    std::sort(out_.labels.begin(), out_.labels.end(), by_drug);
    return std::move(out_);
  }

  std::vector<Error>& errors() { return errors_; }

 private:
  void Add(std::string message, std::string location) {
    errors_.push_back(Error{ErrorCode::KbReference, std::move(message), std::move(location)});
  }

  static std::string Where(const std::string& path, const std::string& pointer = "") { return "kb/" + path + (pointer.empty() ? "" : "#" + pointer); }

  std::optional<Phenotype> PhenotypeField(const std::string& text, const std::string& location) {
    const auto phenotype = ParsePhenotype(text);
    if (!phenotype || PhenotypeKey(*phenotype) != text) {
      Add(fmt::format("unknown phenotype \"{}\"", text), location);
      return std::nullopt;
    }
    return phenotype;
  }

  void LoadGene(const std::string& path, const nlohmann::json& json) {
    PgxGeneInfo gene;
    gene.id = Str(json, "id");
    gene.gene = Str(json, "gene");
    gene.kb_path = path;
    gene.activity_score_method = Str(json, "method") == "activity_score";
    gene.reference_allele = Str(json, "reference_allele");
    const auto& phenotypes = Items(json, "phenotypes");
    for (std::size_t index = 0; index < phenotypes.size(); ++index) {
      const auto phenotype = PhenotypeField(Str(phenotypes[index], "key"), Where(path, fmt::format("/phenotypes/{}/key", index)));
      if (phenotype) gene.phenotypes.push_back({*phenotype, Str(phenotypes[index], "name"), Str(phenotypes[index], "abbreviation")});
    }
    if (!gene.HasPhenotype(Phenotype::Indeterminate)) Add("the phenotype list lacks \"indeterminate\"", Where(path, "/phenotypes"));
    std::set<std::string> names;
    const auto& alleles = Items(json, "alleles");
    for (std::size_t index = 0; index < alleles.size(); ++index) {
      const std::string location = Where(path, fmt::format("/alleles/{}", index));
      PgxAllele allele{Str(alleles[index], "name"), 0, AlleleFunction::Unknown, OptNum(alleles[index], "activity_value"),
                       Str(alleles[index], "structural")};
      allele.number = AlleleNumber(allele.name);
      if (const auto function = ParseFunction(Str(alleles[index], "function"))) allele.function = *function;
      if (!names.insert(allele.name).second) Add(fmt::format("allele {} is listed twice", allele.name), location);
      const bool scored = allele.function == AlleleFunction::Normal || allele.function == AlleleFunction::Decreased ||
                          allele.function == AlleleFunction::No || allele.function == AlleleFunction::Increased;
      if (gene.activity_score_method && scored != allele.activity_value.has_value()) {
        Add(scored ? fmt::format("allele {} has {} function but no activity value", allele.name, AlleleFunctionName(allele.function))
                   : fmt::format("allele {} has {} function and must not have an activity value", allele.name, AlleleFunctionName(allele.function)),
            location);
      }
      if (!gene.activity_score_method && allele.activity_value) {
        Add(fmt::format("allele {}: activity values belong to activity-score genes only", allele.name), location + "/activity_value");
      }
      gene.alleles.push_back(std::move(allele));
    }
    std::sort(gene.alleles.begin(), gene.alleles.end(), [](const PgxAllele& left, const PgxAllele& right) { return left.number < right.number; });
    if (!gene.reference_allele.empty() && gene.FindAllele(gene.reference_allele) == nullptr) {
      Add(fmt::format("reference allele {} is not in the allele list", gene.reference_allele), Where(path, "/reference_allele"));
    }
    if (gene.activity_score_method) {
      const auto& score = Child(json, "activity_score");
      if (score.empty()) Add("an activity_score gene needs an activity_score block", Where(path));
      gene.rule = Str(score, "rule");
      gene.rule_sources = Strings(score, "sources");
      const auto& bins = Items(score, "bins");
      double previous = -1;
      for (std::size_t index = 0; index < bins.size(); ++index) {
        const std::string location = Where(path, fmt::format("/activity_score/bins/{}", index));
        PgxScoreBin bin;
        if (const auto phenotype = PhenotypeField(Str(bins[index], "phenotype"), location + "/phenotype")) bin.phenotype = *phenotype;
        bin.max_inclusive = OptNum(bins[index], "max_inclusive");
        bin.max_exclusive = OptNum(bins[index], "max_exclusive");
        bin.label = Str(bins[index], "label");
        const bool last = index + 1 == bins.size();
        const int bounds = (bin.max_inclusive ? 1 : 0) + (bin.max_exclusive ? 1 : 0);
        if (last ? bounds != 0 : bounds != 1) Add("every bin but the last needs exactly one bound, and the last none", location);
        const double bound = bin.max_inclusive.value_or(bin.max_exclusive.value_or(previous + 1));
        if (!last && bound <= previous) Add("bin bounds must increase", location);
        previous = bound;
        if (!gene.HasPhenotype(bin.phenotype)) Add("bin phenotype is not in the gene's phenotype list", location + "/phenotype");
        gene.bins.push_back(std::move(bin));
      }
      const auto& copies = Child(score, "copy_number");
      if (const auto minimum = OptNum(copies, "unbounded_minimum_copies")) gene.unbounded_minimum_copies = static_cast<int>(*minimum);
    } else {
      const auto& pairs = Child(json, "function_pairs");
      if (pairs.empty()) Add("a function_pair gene needs a function_pairs block", Where(path));
      gene.rule = Str(pairs, "rule");
      gene.rule_sources = Strings(pairs, "sources");
      const auto& rows = Items(pairs, "pairs");
      std::set<std::pair<int, int>> seen;
      for (std::size_t index = 0; index < rows.size(); ++index) {
        const std::string location = Where(path, fmt::format("/function_pairs/pairs/{}", index));
        const auto& functions = Items(rows[index], "functions");
        if (functions.size() != 2) continue;
        const auto first = ParseFunction(functions[0].is_string() ? functions[0].get<std::string>() : "");
        const auto second = ParseFunction(functions[1].is_string() ? functions[1].get<std::string>() : "");
        const auto phenotype = PhenotypeField(Str(rows[index], "phenotype"), location + "/phenotype");
        if (!first || !second || !phenotype) continue;
        const int low = std::min(static_cast<int>(*first), static_cast<int>(*second));
        const int high = std::max(static_cast<int>(*first), static_cast<int>(*second));
        if (!seen.insert({low, high}).second) Add("the same function pair is listed twice", location);
        if (!gene.HasPhenotype(*phenotype)) Add("pair phenotype is not in the gene's phenotype list", location + "/phenotype");
        gene.pairs.push_back({*first, *second, *phenotype});
      }
      if (const auto otherwise = PhenotypeField(Str(pairs, "otherwise"), Where(path, "/function_pairs/otherwise"))) gene.otherwise = *otherwise;
    }
    gene.sources = Strings(json, "sources");
    const auto& vcf = Child(json, "vcf");
    gene.vcf_callable = vcf.value("callable", false);
    gene.vcf_note = Str(vcf, "note");
    gene.definition_id = Str(vcf, "definition");
    if (gene.vcf_callable && gene.definition_id.empty()) Add("a VCF-callable gene must name its definition", Where(path, "/vcf"));
    if (out_.FindGene(gene.gene) != nullptr) Add(fmt::format("gene {} is defined twice", gene.gene), Where(path, "/gene"));
    out_.genes.push_back(std::move(gene));
  }

  void LoadDefinition(const std::string& path, const nlohmann::json& json) {
    PgxDefinition definition;
    definition.id = Str(json, "id");
    definition.gene = Str(json, "gene");
    definition.kb_path = path;
    definition.chromosome = Str(json, "chromosome");
    definition.reference_allele = Str(json, "reference_allele");
    definition.sources = Strings(json, "sources");
    const auto& positions = Items(json, "positions");
    std::uint32_t previous = 0;
    for (std::size_t index = 0; index < positions.size(); ++index) {
      const std::string location = Where(path, fmt::format("/positions/{}", index));
      PgxDefinition::Position position;
      position.position = positions[index].value("position", 0U);
      position.rsid = Str(positions[index], "rsid");
      const std::string ref = Str(positions[index], "ref");
      position.ref = ref.empty() ? 'N' : ref[0];
      for (const std::string& alt : Strings(positions[index], "alts")) position.alts += alt;
      if (position.position <= previous) Add("positions must be strictly increasing", location + "/position");
      previous = position.position;
      definition.positions.push_back(std::move(position));
    }
    PgxDefinition::Allele reference{definition.reference_allele, {}, {}};
    for (const auto& position : definition.positions) reference.masks.push_back(BaseMaskOf(position.ref));
    definition.alleles.push_back(reference);
    const auto& alleles = Items(json, "alleles");
    for (std::size_t index = 0; index < alleles.size(); ++index) {
      const std::string location = Where(path, fmt::format("/alleles/{}", index));
      PgxDefinition::Allele allele{Str(alleles[index], "name"), reference.masks, {}};
      const auto& variants = Items(alleles[index], "variants");
      for (std::size_t variant_idx = 0; variant_idx < variants.size(); ++variant_idx) {
        const std::string text = variants[variant_idx].is_string() ? variants[variant_idx].get<std::string>() : "";
        const std::size_t colon = text.find(':');
        if (colon == std::string::npos || colon + 2 != text.size()) continue;
        const auto value = static_cast<std::uint32_t>(std::stoul(text.substr(0, colon)));
        const auto found = std::find_if(definition.positions.begin(), definition.positions.end(),
                                        [&](const PgxDefinition::Position& position) { return position.position == value; });
        const std::string variant_location = fmt::format("{}/variants/{}", location, variant_idx);
        if (found == definition.positions.end()) {
          Add(fmt::format("{} names position {}, which is not in the position list", allele.name, value), variant_location);
          continue;
        }
        const auto position_idx = static_cast<std::size_t>(found - definition.positions.begin());
        const BaseMask mask = BaseMaskOf(text.back());
        BaseMask allowed = BaseMaskOf(found->ref);
        for (const char alt : found->alts) allowed = static_cast<BaseMask>(allowed | BaseMaskOf(alt));
        if ((mask & ~allowed) != 0 || (mask & ~BaseMaskOf(found->ref)) == 0) {
          Add(fmt::format("{}: base {} at {} is neither an ALT of the position nor an IUPAC code covering one", allele.name, text.back(), value),
              variant_location);
        }
        allele.masks[position_idx] = mask;
        allele.defining.push_back(position_idx);
      }
      for (const auto& other : definition.alleles) {
        if (other.masks == allele.masks) Add(fmt::format("{} has the same definition as {}", allele.name, other.name), location);
        if (other.name == allele.name) Add(fmt::format("{} is defined twice", allele.name), location);
      }
      definition.alleles.push_back(std::move(allele));
    }
    std::sort(definition.alleles.begin() + 1, definition.alleles.end(),
              [](const PgxDefinition::Allele& left, const PgxDefinition::Allele& right) { return AlleleNumber(left.name) < AlleleNumber(right.name); });
    if (definition.alleles.size() > 64) Add(fmt::format("{} alleles: the matcher handles at most 64", definition.alleles.size()), Where(path, "/alleles"));
    for (const auto& entry : Items(json, "not_defined_here")) definition.not_defined.emplace_back(Str(entry, "name"), Str(entry, "reason"));
    out_.definitions.push_back(std::move(definition));
  }

  PgxCondition Condition(const std::string& gene, const nlohmann::json& json, const std::string& location) {
    PgxCondition condition;
    condition.gene = gene;
    const auto& phenotypes = Items(json, "phenotypes");
    for (std::size_t index = 0; index < phenotypes.size(); ++index) {
      const std::string text = phenotypes[index].is_string() ? phenotypes[index].get<std::string>() : "";
      if (text == "not_tested") {
        condition.not_tested = true;
        continue;
      }
      if (const auto phenotype = PhenotypeField(text, fmt::format("{}/phenotypes/{}", location, index))) {
        condition.phenotypes[static_cast<std::size_t>(*phenotype)] = true;
        pending_phenotype_checks_.push_back({gene, *phenotype, fmt::format("{}/phenotypes/{}", location, index)});
      }
    }
    condition.activity_score_min = OptNum(json, "activity_score_min");
    condition.activity_score_below = OptNum(json, "activity_score_below");
    if ((condition.activity_score_min || condition.activity_score_below) && gene != "CYP2D6") {
      Add("activity-score bounds apply to CYP2D6 only", location);
    }
    return condition;
  }

  void LoadGuidance(const std::string& path, const nlohmann::json& json) {
    PgxDrugRules drug;
    drug.id = Str(json, "id");
    drug.kb_path = path;
    drug.drug_id = Str(json, "drug");
    drug.genes = Strings(json, "genes");
    drug.guideline = Str(json, "guideline");
    drug.population = Str(json, "population");
    drug.other_considerations = Str(json, "other_considerations");
    drug.sources = Strings(json, "sources");
    if (kb_.FindDrug(drug.drug_id) == nullptr) Add(fmt::format("drug \"{}\" is not in the catalogue", drug.drug_id), Where(path, "/drug"));
    const auto& rules = Items(json, "rules");
    for (std::size_t index = 0; index < rules.size(); ++index) {
      const std::string location = Where(path, fmt::format("/rules/{}", index));
      PgxRule rule;
      rule.id = Str(rules[index], "id");
      if (!rule_ids_.insert(rule.id).second) Add(fmt::format("rule id \"{}\" is used twice", rule.id), location + "/id");
      if (rule.id.rfind(drug.id + ".", 0) != 0) Add(fmt::format("rule id \"{}\" must start with \"{}.\"", rule.id, drug.id), location + "/id");
      const auto& when = Child(rules[index], "when");
      for (const std::string& gene : drug.genes) {
        const auto found = when.find(gene);
        if (found == when.end()) {
          Add(fmt::format("rule does not state a condition for {}", gene), location + "/when");
          continue;
        }
        rule.when.push_back(Condition(gene, *found, location + "/when/" + gene));
      }
      for (const auto& [gene, condition] : when.items()) {
        if (std::find(drug.genes.begin(), drug.genes.end(), gene) == drug.genes.end()) {
          Add(fmt::format("rule names {}, which is not among the drug's genes", gene), location + "/when/" + gene);
        }
      }
      const std::string strength = Str(rules[index], "strength");
      rule.strength = strength == "strong"     ? RecommendationStrength::Strong
                      : strength == "moderate" ? RecommendationStrength::Moderate
                      : strength == "optional" ? RecommendationStrength::Optional
                                               : RecommendationStrength::NoRecommendation;
      const std::string action = Str(rules[index], "action");
      rule.action = action == "standard"      ? GuidanceAction::Standard
                    : action == "adjust"      ? GuidanceAction::Adjust
                    : action == "alternative" ? GuidanceAction::Alternative
                    : action == "avoid"       ? GuidanceAction::Avoid
                                              : GuidanceAction::None;
      if ((rule.action == GuidanceAction::None) != (rule.strength == RecommendationStrength::NoRecommendation)) {
        Add("a rule has action \"none\" exactly when its strength is \"no_recommendation\"", location);
      }
      rule.recommendation = Str(rules[index], "recommendation");
      rule.implications = Str(rules[index], "implications");
      drug.rules.push_back(std::move(rule));
    }
    if (out_.FindGuidance(drug.drug_id) != nullptr) Add(fmt::format("guidance for {} is defined twice", drug.drug_id), Where(path, "/drug"));
    out_.guidance.push_back(std::move(drug));
  }

  void LoadLabel(const std::string& path, const nlohmann::json& json) {
    PgxLabel label;
    label.id = Str(json, "id");
    label.kb_path = path;
    label.drug_id = Str(json, "drug");
    label.label_source = Str(json, "label");
    label.notes = Str(json, "notes");
    label.sources = Strings(json, "sources");
    if (kb_.FindDrug(label.drug_id) == nullptr) Add(fmt::format("drug \"{}\" is not in the catalogue", label.drug_id), Where(path, "/drug"));
    const auto& statements = Items(json, "statements");
    for (std::size_t index = 0; index < statements.size(); ++index) {
      const std::string location = Where(path, fmt::format("/statements/{}", index));
      PgxLabelStatement statement;
      statement.id = Str(statements[index], "id");
      if (!rule_ids_.insert(statement.id).second) Add(fmt::format("statement id \"{}\" is used twice", statement.id), location + "/id");
      statement.gene = Str(statements[index], "gene");
      statement.inhibitor_trigger = Str(statements[index], "trigger") == "inhibitor";
      const auto& phenotypes = Items(statements[index], "phenotypes");
      for (std::size_t phenotype_idx = 0; phenotype_idx < phenotypes.size(); ++phenotype_idx) {
        const std::string where = fmt::format("{}/phenotypes/{}", location, phenotype_idx);
        if (const auto phenotype = PhenotypeField(phenotypes[phenotype_idx].get<std::string>(), where)) {
          statement.phenotypes[static_cast<std::size_t>(*phenotype)] = true;
          pending_phenotype_checks_.push_back({statement.gene, *phenotype, where});
        }
      }
      for (const std::string& strength : Strings(statements[index], "inhibitor_strengths")) {
        if (const auto parsed = ParseInhibitorStrength(strength)) statement.inhibitor_strengths[static_cast<std::size_t>(*parsed)] = true;
      }
      if (statement.inhibitor_trigger == phenotypes.empty()) {
        // Consistent: an inhibitor trigger has no phenotypes, a genotype trigger has some.
      } else {
        Add(statement.inhibitor_trigger ? "an inhibitor-triggered statement must not list phenotypes"
                                        : "a genotype-triggered statement must list phenotypes",
            location);
      }
      if (statement.inhibitor_trigger && Items(statements[index], "inhibitor_strengths").empty()) {
        Add("an inhibitor-triggered statement must list inhibitor_strengths", location);
      }
      statement.text = Str(statements[index], "text");
      statement.max_dose_mg_per_day = OptNum(statements[index], "max_dose_mg_per_day");
      statement.dose_fraction = OptNum(statements[index], "dose_fraction");
      statement.exception = Str(statements[index], "exception");
      statement.sources = Strings(statements[index], "sources");
      label.statements.push_back(std::move(statement));
    }
    if (out_.FindLabel(label.drug_id) != nullptr) Add(fmt::format("label statements for {} are defined twice", label.drug_id), Where(path, "/drug"));
    out_.labels.push_back(std::move(label));
  }

  void LoadPhenoconversion(const std::string& path, const nlohmann::json& json) {
    const auto& genes = Items(json, "genes");
    for (std::size_t index = 0; index < genes.size(); ++index) {
      const std::string location = Where(path, fmt::format("/genes/{}", index));
      PgxPhenoconversionMethod method;
      method.gene = Str(genes[index], "gene");
      const std::string kind = Str(genes[index], "method");
      method.kind = kind == "activity_score_multiplier" ? PgxPhenoconversionMethod::Kind::ScoreMultiplier
                    : kind == "phenotype_shift"         ? PgxPhenoconversionMethod::Kind::PhenotypeShift
                                                        : PgxPhenoconversionMethod::Kind::None;
      method.rule = Str(genes[index], "rule");
      method.status = Str(genes[index], "status");
      method.caveats = Strings(genes[index], "caveats");
      method.sources = Strings(genes[index], "sources");
      const auto& multipliers = Child(genes[index], "multipliers");
      const auto& shifts = Child(genes[index], "shifts");
      for (const InhibitorStrength strength : {InhibitorStrength::Weak, InhibitorStrength::Moderate, InhibitorStrength::Strong}) {
        const std::string name(InhibitorStrengthName(strength));
        const auto slot = static_cast<std::size_t>(strength);
        if (const auto value = OptNum(multipliers, name.c_str())) method.multipliers[slot] = *value;
        const auto& table = Child(shifts, name.c_str());
        for (const auto& [from, to] : table.items()) {
          const auto source = PhenotypeField(from, fmt::format("{}/shifts/{}/{}", location, name, from));
          const auto target = PhenotypeField(to.is_string() ? to.get<std::string>() : "", fmt::format("{}/shifts/{}/{}", location, name, from));
          if (source && target) {
            method.shifts[slot][static_cast<std::size_t>(*source)] = *target;
            pending_phenotype_checks_.push_back({method.gene, *target, fmt::format("{}/shifts/{}/{}", location, name, from)});
          }
        }
      }
      if (method.kind == PgxPhenoconversionMethod::Kind::ScoreMultiplier) {
        if (multipliers.empty()) Add("an activity_score_multiplier method needs multipliers", location);
        if (!(method.multipliers[2] <= method.multipliers[1] && method.multipliers[1] <= method.multipliers[0])) {
          Add("multipliers must not grow with inhibitor strength", location + "/multipliers");
        }
      }
      if (method.kind == PgxPhenoconversionMethod::Kind::PhenotypeShift && shifts.empty()) Add("a phenotype_shift method needs shifts", location);
      if (out_.FindPhenoconversion(method.gene) != nullptr) Add(fmt::format("phenoconversion for {} is defined twice", method.gene), location);
      out_.phenoconversion.push_back(std::move(method));
    }
  }

  void LoadHistory(const std::string& path, const nlohmann::json& json) {
    PgxHistoryRules& history = out_.history;
    const auto& explanations = Items(json, "explanations");
    for (std::size_t index = 0; index < explanations.size(); ++index) {
      const std::string location = Where(path, fmt::format("/explanations/{}", index));
      PgxHistoryRules::Explanation explanation;
      explanation.id = Str(explanations[index], "id");
      for (const std::string& text : Strings(explanations[index], "phenotypes")) {
        if (const auto phenotype = PhenotypeField(text, location + "/phenotypes")) explanation.phenotypes[static_cast<std::size_t>(*phenotype)] = true;
      }
      for (const std::string& result : Strings(explanations[index], "trial_results")) {
        explanation.failed = explanation.failed || result == "failed";
        explanation.nonresponse = explanation.nonresponse || result == "nonresponse";
        explanation.partial = explanation.partial || result == "partial";
        explanation.intolerance = explanation.intolerance || result == "intolerance";
      }
      explanation.exposure = Str(explanations[index], "exposure");
      explanation.requires_actionable_guidance = explanations[index].value("requires_actionable_guidance", true);
      explanation.text = Str(explanations[index], "text");
      explanation.sources = Strings(explanations[index], "sources");
      history.explanations.push_back(std::move(explanation));
    }
    const auto& testing = Child(json, "testing");
    history.testing_id = Str(testing, "id");
    history.min_failed_trials = testing.value("min_failed_trials", 0);
    history.min_intolerance_trials = testing.value("min_intolerance_trials", 0);
    history.testing_text = Str(testing, "text");
    history.testing_sources = Strings(testing, "sources");
  }

  // Checks that need every file: genes of definitions, phenotypes per gene, complete guidance grids.
  void CrossCheck() {
    for (const auto& check : pending_phenotype_checks_) {
      const PgxGeneInfo* gene = out_.FindGene(check.gene);
      if (gene == nullptr) {
        Add(fmt::format("unknown gene \"{}\"", check.gene), check.location);
      } else if (!gene->HasPhenotype(check.phenotype)) {
        Add(fmt::format("{} has no phenotype \"{}\"", check.gene, PhenotypeKey(check.phenotype)), check.location);
      }
    }
    for (const PgxGeneInfo& gene : out_.genes) {
      if (!gene.vcf_callable) continue;
      const PgxDefinition* definition = out_.FindDefinition(gene.gene);
      if (definition == nullptr || definition->id != gene.definition_id) {
        Add(fmt::format("definition \"{}\" of {} does not exist", gene.definition_id, gene.gene), Where(gene.kb_path, "/vcf/definition"));
      }
    }
    for (const PgxDefinition& definition : out_.definitions) {
      const PgxGeneInfo* gene = out_.FindGene(definition.gene);
      if (gene == nullptr) {
        Add(fmt::format("unknown gene \"{}\"", definition.gene), Where(definition.kb_path, "/gene"));
        continue;
      }
      if (definition.reference_allele != gene->reference_allele) {
        Add(fmt::format("reference allele {} differs from the gene's {}", definition.reference_allele, gene->reference_allele),
            Where(definition.kb_path, "/reference_allele"));
      }
      for (std::size_t index = 0; index < definition.alleles.size(); ++index) {
        if (gene->FindAllele(definition.alleles[index].name) == nullptr) {
          Add(fmt::format("{}{} has no function in the gene file", definition.gene, definition.alleles[index].name), Where(definition.kb_path, "/alleles"));
        }
      }
      for (const auto& [name, reason] : definition.not_defined) {
        if (gene->FindAllele(name) == nullptr) Add(fmt::format("{}{} is not in the gene file", definition.gene, name), Where(definition.kb_path, "/not_defined_here"));
      }
    }
    for (const PgxLabel& label : out_.labels) {
      for (std::size_t index = 0; index < label.statements.size(); ++index) {
        if (out_.FindGene(label.statements[index].gene) == nullptr) {
          Add(fmt::format("unknown gene \"{}\"", label.statements[index].gene), Where(label.kb_path, fmt::format("/statements/{}/gene", index)));
        }
      }
    }
    for (const PgxDrugRules& drug : out_.guidance) CheckGrid(drug);
  }

  // Every combination of phenotypes (and "not tested") of the drug's genes, except all untested,
  // must match one rule, or several only when activity-score ranges keep them apart.
  void CheckGrid(const PgxDrugRules& drug) {
    std::vector<std::vector<int>> values;  // per gene: phenotype indexes, -1 = not tested
    for (const std::string& gene_name : drug.genes) {
      const PgxGeneInfo* gene = out_.FindGene(gene_name);
      if (gene == nullptr) {
        Add(fmt::format("unknown gene \"{}\"", gene_name), Where(drug.kb_path, "/genes"));
        return;
      }
      std::vector<int> options = {-1};
      for (const auto& entry : gene->phenotypes) options.push_back(static_cast<int>(entry.phenotype));
      values.push_back(std::move(options));
    }
    std::vector<std::size_t> cursor(values.size(), 0);
    while (true) {
      bool all_untested = true;
      for (std::size_t gene_idx = 0; gene_idx < values.size(); ++gene_idx) all_untested = all_untested && values[gene_idx][cursor[gene_idx]] < 0;
      if (!all_untested) {
        std::vector<const PgxRule*> matched;
        for (const PgxRule& rule : drug.rules) {
          bool matches = true;
          for (std::size_t gene_idx = 0; gene_idx < values.size() && gene_idx < rule.when.size(); ++gene_idx) {
            const int value = values[gene_idx][cursor[gene_idx]];
            const PgxCondition& condition = rule.when[gene_idx];
            matches = matches && (value < 0 ? condition.not_tested : condition.phenotypes[static_cast<std::size_t>(value)]);
          }
          if (matches) matched.push_back(&rule);
        }
        std::string combination;
        for (std::size_t gene_idx = 0; gene_idx < values.size(); ++gene_idx) {
          const int value = values[gene_idx][cursor[gene_idx]];
          combination += fmt::format("{}{} {}", gene_idx == 0 ? "" : ", ", drug.genes[gene_idx],
                                     value < 0 ? std::string("not tested") : std::string(PhenotypeKey(static_cast<Phenotype>(value))));
        }
        if (matched.empty()) Add(fmt::format("no rule covers {}", combination), Where(drug.kb_path, "/rules"));
        if (matched.size() > 1 && !ScoreRangesDisjoint(matched)) {
          Add(fmt::format("rules {} and {} both cover {}", matched[0]->id, matched[1]->id, combination), Where(drug.kb_path, "/rules"));
        }
      }
      std::size_t gene_idx = 0;
      while (gene_idx < cursor.size() && ++cursor[gene_idx] == values[gene_idx].size()) cursor[gene_idx++] = 0;
      if (gene_idx == cursor.size()) break;
    }
  }

  static bool ScoreRangesDisjoint(const std::vector<const PgxRule*>& rules) {
    std::vector<std::pair<double, double>> ranges;
    for (const PgxRule* rule : rules) {
      const PgxCondition* scored = nullptr;
      for (const PgxCondition& condition : rule->when) {
        if (condition.activity_score_min || condition.activity_score_below) scored = &condition;
      }
      if (scored == nullptr) return false;
      ranges.emplace_back(scored->activity_score_min.value_or(0), scored->activity_score_below.value_or(std::numeric_limits<double>::infinity()));
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t index = 1; index < ranges.size(); ++index) {
      if (ranges[index].first < ranges[index - 1].second) return false;
    }
    return true;
  }

  struct PhenotypeCheck {
    std::string gene;
    Phenotype phenotype;
    std::string location;
  };

  const KnowledgeBase& kb_;
  PgxKnowledge out_;
  std::vector<Error> errors_;
  std::set<std::string> rule_ids_;
  std::vector<PhenotypeCheck> pending_phenotype_checks_;
};

}  // namespace

std::vector<Error> CheckPgxKnowledge(const KnowledgeBase& kb) {
  PgxLoader loader(kb);
  (void)loader.Load();
  return std::move(loader.errors());
}

Result<PgxKnowledge> LoadPgxKnowledge(const KnowledgeBase& kb) {
  PgxLoader loader(kb);
  PgxKnowledge knowledge = loader.Load();
  const auto& errors = loader.errors();
  if (!errors.empty()) {
    Error first = errors.front();
    if (errors.size() > 1) first.message += fmt::format(" (and {} more problems)", errors.size() - 1);
    return tl::unexpected<Error>(first);
  }
  return knowledge;
}

}  // namespace refract
