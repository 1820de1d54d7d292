// SPDX-License-Identifier: Apache-2.0
// Genotype → phenotype (diplotype, activity score or phenotype) and phenoconversion.
#include "refract/core/pgx.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "refract/core/text.h"

namespace refract {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (std::size_t index = 0; index < items.size(); ++index) {
    if (index > 0) out += separator;
    out += items[index];
  }
  return out;
}

std::string Trim(std::string_view text) {
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin])) != 0) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1])) != 0) --end;
  return std::string(text.substr(begin, end - begin));
}

/// One gene copy as written: "*1", "*2x2", "*1x≥3", "*4xN", "*2.001", "*4A".
struct ParsedCopy {
  std::string name;          ///< Core allele ("*2").
  std::string written;       ///< As given.
  std::string copies;        ///< "", "2", "≥3", "N".
  int count = 1;             ///< Copies (lower bound for ≥ and N).
  bool open = false;         ///< At least `count` copies.
  std::string stripped;      ///< Sub-allele or legacy suffix that was dropped.
};

std::optional<ParsedCopy> ParseCopy(std::string_view text) {
  ParsedCopy copy;
  copy.written = std::string(text);
  if (text.empty() || text[0] != '*') return std::nullopt;
  std::size_t at = 1;
  while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])) != 0) ++at;
  if (at == 1) return std::nullopt;
  copy.name = std::string(text.substr(0, at));
  // Sub-alleles (*2.001) and legacy letter suffixes (*4A) share the core allele's function.
  const std::size_t suffix_begin = at;
  if (at < text.size() && text[at] == '.') {
    ++at;
    const std::size_t digits = at;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])) != 0) ++at;
    if (at == digits) return std::nullopt;
  } else {
    while (at < text.size() && std::isalpha(static_cast<unsigned char>(text[at])) != 0 && text[at] != 'x') ++at;
  }
  copy.stripped = std::string(text.substr(suffix_begin, at - suffix_begin));
  if (at == text.size()) return copy;
  if (text[at] != 'x' && text[at] != 'X') return std::nullopt;
  ++at;
  std::string_view rest = text.substr(at);
  if (rest == "N" || rest == "n") {
    copy.copies = "N";
    copy.count = 2;
    copy.open = true;
    return copy;
  }
  for (const std::string_view prefix : {std::string_view("≥"), std::string_view(">=")}) {
    if (rest.substr(0, prefix.size()) == prefix) {
      rest = rest.substr(prefix.size());
      copy.open = true;
    }
  }
  if (rest.empty() || !std::all_of(rest.begin(), rest.end(), [](char character) { return std::isdigit(static_cast<unsigned char>(character)) != 0; })) {
    return std::nullopt;
  }
  copy.count = std::stoi(std::string(rest));
  if (copy.count < 1 || copy.count > 20) return std::nullopt;
  copy.copies = (copy.open ? "≥" : "") + std::string(rest);
  return copy;
}

/// A diplotype: two haplotypes, each one or more gene copies ("*36+*10").
std::optional<std::array<std::vector<ParsedCopy>, 2>> ParseDiplotype(std::string_view text, std::string_view gene) {
  std::string value = Trim(text);
  if (value.size() > gene.size() && NormalizeName(value.substr(0, gene.size())) == NormalizeName(gene)) value = Trim(value.substr(gene.size()));
  const std::size_t slash = value.find('/');
  if (slash == std::string::npos || value.find('/', slash + 1) != std::string::npos) return std::nullopt;
  std::array<std::vector<ParsedCopy>, 2> out;
  const std::array<std::string, 2> sides = {Trim(value.substr(0, slash)), Trim(value.substr(slash + 1))};
  for (std::size_t side = 0; side < 2; ++side) {
    std::size_t begin = 0;
    while (begin <= sides[side].size()) {
      const std::size_t plus = sides[side].find('+', begin);
      const std::string part = Trim(sides[side].substr(begin, plus == std::string::npos ? std::string::npos : plus - begin));
      auto copy = ParseCopy(part);
      if (!copy) return std::nullopt;
      out[side].push_back(std::move(*copy));
      if (plus == std::string::npos) break;
      begin = plus + 1;
    }
  }
  return out;
}

Finding GeneFinding(const PgxGeneInfo& gene, std::string code, std::string message) {
  std::vector<std::string> sources = gene.rule_sources;
  for (const std::string& source : gene.sources) {
    if (std::find(sources.begin(), sources.end(), source) == sources.end()) sources.push_back(source);
  }
  return Finding{std::move(code), std::move(message), gene.rule, std::move(sources)};
}

std::string ScoreText(const ScoreRange& range) {
  if (range.IsExact()) return FormatNumber(range.low);
  if (range.IsOpen()) return "≥" + FormatNumber(range.low);
  return FormatNumber(range.low) + "–" + FormatNumber(range.high);
}

/// The smallest positive activity value: scores move in these steps.
double ScoreStep(const PgxGeneInfo& gene) {
  double step = kInfinity;
  for (const PgxAllele& allele : gene.alleles) {
    if (allele.activity_value && *allele.activity_value > 0) step = std::min(step, *allele.activity_value);
  }
  return step == kInfinity ? 1 : step;
}

/// Phenotype of a range of scores: one phenotype when both ends fall in the same bin.
std::optional<Phenotype> PhenotypeOfRange(const PgxGeneInfo& gene, const ScoreRange& range) {
  const Phenotype low = gene.PhenotypeOfScore(range.low);
  const Phenotype high = range.IsOpen() ? gene.bins.back().phenotype : gene.PhenotypeOfScore(range.high);
  if (low != high) return std::nullopt;
  return low;
}

}  // namespace

std::optional<ScoreRange> ScoreRangeOfPhenotype(const PgxGeneInfo& gene, Phenotype phenotype) {
  const double step = ScoreStep(gene);
  double previous_top = -step;  // highest score of the previous bin
  for (const PgxScoreBin& bin : gene.bins) {
    const double low = previous_top + step;
    double high = kInfinity;
    if (bin.max_inclusive) high = *bin.max_inclusive;
    if (bin.max_exclusive) high = *bin.max_exclusive - step;
    if (bin.phenotype == phenotype) return ScoreRange{std::max(low, 0.0), high};
    previous_top = high;
  }
  return std::nullopt;
}

Result<GeneResult> InterpretGenotype(const PgxKnowledge& knowledge, const GenotypeEntry& entry, std::string_view location) {
  const PgxGeneInfo* gene = knowledge.FindGene(entry.gene);
  if (gene == nullptr) {
    std::vector<std::string> names;
    for (const PgxGeneInfo& known : knowledge.genes) names.push_back(known.gene);
    std::string message = fmt::format("gene \"{}\" is not covered (covered: {})", entry.gene, Join(names, ", "));
    if (auto suggestion = Suggest(entry.gene, names)) message = fmt::format("gene \"{}\" is not covered (did you mean \"{}\"?)", entry.gene, *suggestion);
    return Fail(ErrorCode::InvalidInput, message, fmt::format("{}/gene", location));
  }
  GeneResult result;
  result.gene = gene->gene;
  result.rule = gene->rule;
  result.sources = gene->rule_sources;
  for (const std::string& source : gene->sources) {
    if (std::find(result.sources.begin(), result.sources.end(), source) == result.sources.end()) result.sources.push_back(source);
  }

  if (!entry.diplotype.empty()) {
    result.input_kind = GenotypeInputKind::Diplotype;
    result.input = entry.diplotype;
    const auto parsed = ParseDiplotype(entry.diplotype, gene->gene);
    if (!parsed) {
      return Fail(ErrorCode::InvalidInput,
                  fmt::format("diplotype \"{}\" is not of the form *A/*B (for example *1/*4, *1x2/*4 or *36+*10/*4)", entry.diplotype),
                  fmt::format("{}/diplotype", location));
    }
    bool determinate = true;
    bool scorable = gene->activity_score_method;
    ScoreRange score{0, 0};
    std::array<std::string, 2> written;
    std::array<AlleleFunction, 2> functions{AlleleFunction::Unknown, AlleleFunction::Unknown};
    for (std::size_t side = 0; side < 2; ++side) {
      std::vector<AlleleCopy> haplotype;
      for (const ParsedCopy& copy : (*parsed)[side]) {
        if (!written[side].empty()) written[side] += "+";
        written[side] += copy.name + (copy.copies.empty() ? "" : "x" + copy.copies);
        if (!copy.stripped.empty()) {
          result.findings.push_back(GeneFinding(*gene, "pgx_suballele",
                                                fmt::format("{} read as {}{}: CPIC assigns function to core alleles", copy.written, gene->gene, copy.name)));
        }
        const PgxAllele* allele = gene->FindAllele(copy.name);
        haplotype.push_back(AlleleCopy{copy.name, copy.copies, allele ? allele->function : AlleleFunction::Unknown,
                                       allele ? allele->activity_value : std::nullopt, allele != nullptr});
        if (allele == nullptr) {
          determinate = false;
          scorable = false;
          result.findings.push_back(GeneFinding(
              *gene, "pgx_unknown_allele",
              fmt::format("{}{} is not in CPIC's allele function table: phenotype indeterminate", gene->gene, copy.name)));
          continue;
        }
        if (!gene->activity_score_method) {
          functions[side] = allele->function;
          continue;
        }
        if (!allele->activity_value) {
          scorable = false;
          result.findings.push_back(GeneFinding(
              *gene, "pgx_uncertain_allele",
              fmt::format("{}{} has {} function: activity score not computable, phenotype indeterminate", gene->gene, copy.name,
                          AlleleFunctionName(allele->function))));
          continue;
        }
        const double value = *allele->activity_value;
        score.low += value * copy.count;
        if (copy.open && value > 0) score.high = kInfinity;
        if (!score.IsOpen()) score.high += value * copy.count;
      }
      if (!gene->activity_score_method && (*parsed)[side].size() != 1) {
        determinate = false;
        result.findings.push_back(GeneFinding(*gene, "pgx_structure_unsupported",
                                              fmt::format("{} has no CPIC phenotype for tandem arrangements ({}): phenotype indeterminate",
                                                          gene->gene, written[side])));
      } else if (!gene->activity_score_method && !(*parsed)[side].front().copies.empty()) {
        determinate = false;
        result.findings.push_back(GeneFinding(*gene, "pgx_structure_unsupported",
                                              fmt::format("{} copy-number variants ({}) are not characterised by CPIC: phenotype indeterminate",
                                                          gene->gene, written[side])));
      }
      result.haplotypes.push_back(std::move(haplotype));
    }
    result.diplotype = written[0] + "/" + written[1];
    if (gene->activity_score_method) {
      if (scorable && determinate) {
        result.activity_score = score;
        const auto phenotype = PhenotypeOfRange(*gene, score);
        result.phenotype = phenotype.value_or(Phenotype::Indeterminate);
        if (!phenotype) {
          result.findings.push_back(GeneFinding(
              *gene, "pgx_copy_number_unknown",
              fmt::format("{} {}: activity score {} spans {} and more; give the copy number (x2 or x≥{}) to assign a phenotype", gene->gene,
                          result.diplotype, ScoreText(score), gene->PhenotypeName(gene->PhenotypeOfScore(score.low)), gene->unbounded_minimum_copies)));
        }
      } else {
        result.phenotype = Phenotype::Indeterminate;
      }
    } else {
      result.phenotype = determinate ? gene->PhenotypeOfFunctions(functions[0], functions[1]) : Phenotype::Indeterminate;
    }
    if (entry.activity_score && gene->activity_score_method && result.activity_score && result.activity_score->IsExact() &&
        std::abs(*entry.activity_score - result.activity_score->low) > 1e-9) {
      result.findings.push_back(GeneFinding(
          *gene, "pgx_score_mismatch",
          fmt::format("reported activity score {} differs from {} computed from {} with current CPIC values; the computed score is used",
                      FormatNumber(*entry.activity_score), FormatNumber(result.activity_score->low), result.diplotype)));
    }
    if (!entry.phenotype.empty()) {
      const auto reported = ParsePhenotype(entry.phenotype);
      if (reported && result.phenotype && *reported != *result.phenotype) {
        result.findings.push_back(GeneFinding(
            *gene, "pgx_phenotype_mismatch",
            fmt::format("reported phenotype {} differs from {} assigned to {} by current CPIC rules (reports from before the 2019/2020 "
                        "CPIC update or from other guidelines may differ); the CPIC phenotype is used",
                        gene->PhenotypeName(*reported), gene->PhenotypeName(*result.phenotype), result.diplotype)));
      }
    }
    return result;
  }

  if (entry.activity_score) {
    result.input_kind = GenotypeInputKind::ActivityScore;
    result.input = FormatNumber(*entry.activity_score);
    if (!gene->activity_score_method) {
      return Fail(ErrorCode::InvalidInput, fmt::format("an activity score is defined for CYP2D6 only, not for {}", gene->gene),
                  fmt::format("{}/activity_score", location));
    }
    if (*entry.activity_score < 0 || !std::isfinite(*entry.activity_score)) {
      return Fail(ErrorCode::InvalidInput, fmt::format("activity score {} is negative", FormatNumber(*entry.activity_score)),
                  fmt::format("{}/activity_score", location));
    }
    result.activity_score = ScoreRange{*entry.activity_score, *entry.activity_score};
    result.phenotype = gene->PhenotypeOfScore(*entry.activity_score);
    if (!entry.phenotype.empty()) {
      const auto reported = ParsePhenotype(entry.phenotype);
      if (reported && *reported != *result.phenotype) {
        result.findings.push_back(GeneFinding(
            *gene, "pgx_phenotype_mismatch",
            fmt::format("reported phenotype {} differs from {} for activity score {} by current CPIC bins; the CPIC phenotype is used",
                        gene->PhenotypeName(*reported), gene->PhenotypeName(*result.phenotype), result.input)));
      }
    }
    return result;
  }

  if (!entry.phenotype.empty()) {
    result.input_kind = GenotypeInputKind::Phenotype;
    result.input = entry.phenotype;
    const auto phenotype = ParsePhenotype(entry.phenotype);
    if (!phenotype || !gene->HasPhenotype(*phenotype)) {
      std::vector<std::string> keys;
      for (const auto& name : gene->phenotypes) keys.emplace_back(PhenotypeKey(name.phenotype));
      return Fail(ErrorCode::InvalidInput,
                  fmt::format("{} has no phenotype \"{}\" (expected one of: {})", gene->gene, entry.phenotype, Join(keys, ", ")),
                  fmt::format("{}/phenotype", location));
    }
    result.phenotype = *phenotype;
    return result;
  }

  result.findings.push_back(GeneFinding(*gene, "pgx_empty_result",
                                        fmt::format("the {} entry has no diplotype, activity score or phenotype: treated as not tested", gene->gene)));
  return result;
}

void ApplyPhenoconversion(const PgxKnowledge& knowledge, const KnowledgeBase& kb, std::span<const PhenoconversionInput> inhibitors,
                          GeneResult& result) {
  result.effective_phenotype = result.phenotype;
  result.effective_activity_score = result.activity_score;
  result.inhibitors.clear();
  result.phenoconverted = false;
  const PgxGeneInfo* gene = knowledge.FindGene(result.gene);
  if (gene == nullptr) return;
  for (const PhenoconversionInput& input : inhibitors) {
    if (NormalizeName(input.enzyme) != NormalizeName(result.gene)) continue;
    const Drug* drug = kb.FindDrug(input.drug_id);
    result.inhibitors.push_back(PhenoconversionCause{input.drug_id, drug != nullptr ? drug->inn : input.drug_id, input.strength, false, input.sources});
  }
  if (result.inhibitors.empty()) return;
  // Strongest first, then by drug id: the order is the report order and decides ties.
  std::stable_sort(result.inhibitors.begin(), result.inhibitors.end(), [](const PhenoconversionCause& left, const PhenoconversionCause& right) {
    if (left.strength != right.strength) return left.strength > right.strength;
    return left.drug_id < right.drug_id;
  });
  const PhenoconversionCause& strongest = result.inhibitors.front();
  const PgxPhenoconversionMethod* method = knowledge.FindPhenoconversion(result.gene);
  std::vector<std::string> sources;
  if (method != nullptr) {
    result.phenoconversion_rule = method->rule;
    result.phenoconversion_status = method->status;
    sources = method->sources;
  }
  for (const PhenoconversionCause& cause : result.inhibitors) {
    for (const std::string& source : cause.sources) {
      if (std::find(sources.begin(), sources.end(), source) == sources.end()) sources.push_back(source);
    }
  }
  std::vector<std::string> names;
  for (const PhenoconversionCause& cause : result.inhibitors) names.push_back(fmt::format("{} ({})", cause.drug_name, InhibitorStrengthName(cause.strength)));
  const std::string listed = Join(names, ", ");
  const std::string convention = result.phenoconversion_status == "refract_convention" ? " (refract convention, not CPIC)" : "";

  if (method == nullptr || method->kind == PgxPhenoconversionMethod::Kind::None) {
    result.findings.push_back(Finding{"pgx_inhibitor_listed",
                                      fmt::format("{} inhibitor(s) taken: {}; no accepted method changes the {} phenotype, which is reported as genotyped",
                                                  result.gene, listed, result.gene),
                                      result.phenoconversion_rule, sources});
    return;
  }
  const auto slot = static_cast<std::size_t>(strongest.strength);
  if (method->kind == PgxPhenoconversionMethod::Kind::ScoreMultiplier) {
    const double factor = method->multipliers[slot];
    if (factor >= 1) {
      result.findings.push_back(Finding{"pgx_weak_inhibitor",
                                        fmt::format("{} inhibitor(s) taken: {}; weak inhibition does not change the phenotype", result.gene, listed),
                                        method->rule, sources});
      return;
    }
    std::optional<ScoreRange> base = result.activity_score;
    if (!base && result.phenotype && *result.phenotype != Phenotype::Indeterminate) base = ScoreRangeOfPhenotype(*gene, *result.phenotype);
    std::optional<ScoreRange> effective;
    if (factor == 0) {
      effective = ScoreRange{0, 0};
    } else if (base) {
      effective = ScoreRange{base->low * factor, base->IsOpen() ? kInfinity : base->high * factor};
    }
    if (!effective) {
      result.findings.push_back(Finding{"pgx_phenoconversion_unknown",
                                        fmt::format("{} taken with {}: the genotype activity score is unknown, so the effective phenotype cannot be computed",
                                                    listed, result.gene),
                                        method->rule, sources});
      return;
    }
    result.effective_activity_score = effective;
    const auto phenotype = PhenotypeOfRange(*gene, *effective);
    result.effective_phenotype = phenotype.value_or(Phenotype::Indeterminate);
    if (!phenotype) {
      result.findings.push_back(Finding{"pgx_phenoconversion_range",
                                        fmt::format("effective {} activity score {} spans {} to {}", result.gene, ScoreText(*effective),
                                                    gene->PhenotypeName(gene->PhenotypeOfScore(effective->low)),
                                                    gene->PhenotypeName(effective->IsOpen() ? gene->bins.back().phenotype
                                                                                            : gene->PhenotypeOfScore(effective->high))),
                                        method->rule, sources});
    }
  } else {
    const Phenotype from = result.phenotype.value_or(Phenotype::Indeterminate);
    const auto& target = method->shifts[slot][static_cast<std::size_t>(from)];
    if (!target || (!result.phenotype && strongest.strength != InhibitorStrength::Strong)) {
      result.findings.push_back(Finding{"pgx_weak_inhibitor",
                                        fmt::format("{} inhibitor(s) taken: {}; the {} phenotype does not change under {}{}", result.gene, listed,
                                                    result.gene, method->rule, convention),
                                        method->rule, sources});
      return;
    }
    result.effective_phenotype = *target;
  }
  result.phenoconverted = result.effective_phenotype != result.phenotype;
  result.inhibitors.front().deciding = true;
  const std::string genotype_text =
      result.phenotype ? fmt::format("genotype {}{}", gene->PhenotypeName(*result.phenotype),
                                     result.activity_score ? fmt::format(" (activity score {})", ScoreText(*result.activity_score)) : "")
                       : std::string("genotype not tested");
  const std::string effective_text =
      fmt::format("effective {}{}", gene->PhenotypeName(*result.effective_phenotype),
                  result.effective_activity_score && gene->activity_score_method
                      ? fmt::format(" (activity score {})", ScoreText(*result.effective_activity_score))
                      : "");
  std::string message = fmt::format("{} {}; {} while taking {} ({} {} inhibitor){}", result.gene, genotype_text, effective_text,
                                    strongest.drug_name, InhibitorStrengthName(strongest.strength), result.gene, convention);
  if (!result.phenoconverted) message += "; no change in phenotype";
  std::size_t relevant = 0;
  for (const PhenoconversionCause& cause : result.inhibitors) relevant += cause.strength != InhibitorStrength::Weak ? 1 : 0;
  if (relevant > 1) message += fmt::format("; {} inhibitors: the strongest decides, their effects are not combined (refract assumption)", relevant);
  result.findings.push_back(Finding{result.phenoconverted ? "pgx_phenoconversion" : "pgx_phenoconversion_no_change", message, method->rule, sources});
}

}  // namespace refract
