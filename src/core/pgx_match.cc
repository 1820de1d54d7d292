// SPDX-License-Identifier: Apache-2.0
// Named-allele matching: per-position genotypes of one sample → star-allele diplotypes.
#include "refract/core/pgx.h"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

namespace refract {

std::string_view CallStatusName(CallStatus value) {
  switch (value) {
    case CallStatus::Called: return "called";
    case CallStatus::Ambiguous: return "ambiguous";
    case CallStatus::NoMatch: return "no_match";
    case CallStatus::NotCalled: return "not_called";
  }
  return "not_called";
}

namespace {

constexpr std::size_t kMaxUnphased = 16;
constexpr std::size_t kMaxListedCandidates = 50;

char BaseLetter(BaseMask mask) {
  switch (mask) {
    case 1: return 'A';
    case 2: return 'C';
    case 4: return 'G';
    case 8: return 'T';
    default: return 'N';
  }
}

bool IsSingleBase(BaseMask mask) { return mask == 1 || mask == 2 || mask == 4 || mask == 8; }

std::string PositionLabel(const PgxDefinition::Position& position) {
  return position.rsid.empty() ? std::to_string(position.position) : fmt::format("{} ({})", position.position, position.rsid);
}

}  // namespace

Result<AlleleMatcher> AlleleMatcher::Build(const PgxKnowledge& knowledge, std::string_view gene) {
  const PgxGeneInfo* info = knowledge.FindGene(gene);
  if (info == nullptr) return Fail(ErrorCode::NotFound, fmt::format("gene \"{}\" is not covered", gene));
  const PgxDefinition* definition = knowledge.FindDefinition(gene);
  if (!info->vcf_callable || definition == nullptr) {
    return Fail(ErrorCode::NotFound, info->vcf_note);
  }
  if (definition->alleles.size() > 64) {
    return Fail(ErrorCode::KbReference, fmt::format("{} has {} alleles; the matcher handles at most 64", gene, definition->alleles.size()),
                "kb/" + definition->kb_path);
  }
  AlleleMatcher matcher;
  matcher.definition_ = definition;
  matcher.gene_ = info;
  const std::size_t positions = definition->positions.size();
  matcher.accepts_.assign(positions * 16, 0);
  for (std::size_t allele_idx = 0; allele_idx < definition->alleles.size(); ++allele_idx) {
    const std::uint64_t bit = std::uint64_t{1} << allele_idx;
    matcher.all_alleles_ |= bit;
    for (std::size_t position_idx = 0; position_idx < positions; ++position_idx) {
      const BaseMask mask = definition->alleles[allele_idx].masks[position_idx];
      for (BaseMask base = 1; base <= 8; base = static_cast<BaseMask>(base << 1)) {
        if ((mask & base) != 0) matcher.accepts_[position_idx * 16 + base] |= bit;
      }
    }
  }
  return matcher;
}

AlleleCall AlleleMatcher::Call(std::span<const PositionGenotype> genotypes) const {
  AlleleCall call;
  call.gene = gene_->gene;
  const auto& positions = definition_->positions;
  const std::size_t count = positions.size();
  auto finding = [&](std::string code, std::string message) {
    call.findings.push_back(Finding{std::move(code), std::move(message), definition_->id, definition_->sources});
  };
  if (genotypes.size() != count) {
    finding("pgx_vcf_internal", fmt::format("{} genotypes given for {} definition positions", genotypes.size(), count));
    return call;
  }

  std::vector<BaseMask> first(count, 0);
  std::vector<BaseMask> second(count, 0);
  std::vector<std::size_t> unphased;
  for (std::size_t position_idx = 0; position_idx < count; ++position_idx) {
    const PositionGenotype& genotype = genotypes[position_idx];
    if (!IsSingleBase(genotype.first) || !IsSingleBase(genotype.second)) {
      call.missing_positions.push_back(positions[position_idx].position);
      continue;
    }
    first[position_idx] = genotype.first;
    second[position_idx] = genotype.second;
    if (genotype.first != genotype.second && !genotype.phased) unphased.push_back(position_idx);
  }
  if (call.missing_positions.size() == count) {
    finding("pgx_vcf_no_data", fmt::format("none of the {} {} definition positions has a genotype in the VCF: {} not called", count, call.gene, call.gene));
    return call;
  }
  if (unphased.size() > kMaxUnphased) {
    finding("pgx_vcf_too_many_unphased",
            fmt::format("{} unphased heterozygous positions in {}: too many phasings to try; phase the data or genotype {} directly", unphased.size(),
                        call.gene, call.gene));
    return call;
  }
  call.unphased = unphased.size() > 1;

  // Try every phasing of the unphased heterozygous positions (the first one's orientation is free).
  std::array<std::uint64_t, 64> pairs{};
  const std::size_t phasings = unphased.empty() ? 1 : std::size_t{1} << (unphased.size() - 1);
  for (std::size_t phasing = 0; phasing < phasings; ++phasing) {
    std::uint64_t haplotype_one = all_alleles_;
    std::uint64_t haplotype_two = all_alleles_;
    std::size_t unphased_idx = 0;
    for (std::size_t position_idx = 0; position_idx < count; ++position_idx) {
      BaseMask one = first[position_idx];
      BaseMask two = second[position_idx];
      if (one == 0) continue;  // missing: every allele stays possible
      if (unphased_idx < unphased.size() && unphased[unphased_idx] == position_idx) {
        if (unphased_idx > 0 && ((phasing >> (unphased_idx - 1)) & 1U) != 0) std::swap(one, two);
        ++unphased_idx;
      }
      haplotype_one &= accepts_[position_idx * 16 + one];
      haplotype_two &= accepts_[position_idx * 16 + two];
      if (haplotype_one == 0 || haplotype_two == 0) break;
    }
    if (haplotype_one == 0 || haplotype_two == 0) continue;
    for (std::uint64_t rest = haplotype_one; rest != 0; rest &= rest - 1) {
      const auto allele_one = static_cast<std::size_t>(std::countr_zero(rest));
      for (std::uint64_t other = haplotype_two; other != 0; other &= other - 1) {
        const auto allele_two = static_cast<std::size_t>(std::countr_zero(other));
        const std::size_t low = std::min(allele_one, allele_two);
        const std::size_t high = std::max(allele_one, allele_two);
        pairs[low] |= std::uint64_t{1} << high;
      }
    }
  }

  const auto& alleles = definition_->alleles;
  if (!call.missing_positions.empty()) {
    std::vector<std::string> labels;
    std::vector<std::string> hidden;
    for (std::size_t position_idx = 0; position_idx < count; ++position_idx) {
      if (first[position_idx] != 0) continue;
      labels.push_back(PositionLabel(positions[position_idx]));
      for (const auto& allele : alleles) {
        if (std::find(allele.defining.begin(), allele.defining.end(), position_idx) != allele.defining.end() &&
            std::find(hidden.begin(), hidden.end(), allele.name) == hidden.end()) {
          hidden.push_back(allele.name);
        }
      }
    }
    std::string message = fmt::format("{} of {} {} definition positions are missing from the VCF (not assumed reference): ", labels.size(), count,
                                      call.gene);
    for (std::size_t index = 0; index < labels.size(); ++index) message += (index == 0 ? "" : ", ") + labels[index];
    if (!hidden.empty()) {
      message += "; alleles defined there cannot be ruled out: ";
      for (std::size_t index = 0; index < hidden.size(); ++index) message += (index == 0 ? "" : ", ") + hidden[index];
    }
    finding("pgx_vcf_missing_positions", message);
  }

  std::vector<std::pair<std::size_t, std::size_t>> found;
  for (std::size_t low = 0; low < 64; ++low) {
    for (std::uint64_t rest = pairs[low]; rest != 0; rest &= rest - 1) found.emplace_back(low, static_cast<std::size_t>(std::countr_zero(rest)));
  }
  if (found.empty()) {
    call.status = CallStatus::NoMatch;
    for (std::size_t position_idx = 0; position_idx < count; ++position_idx) {
      if (first[position_idx] == 0) continue;
      const BaseMask reference = BaseMaskOf(positions[position_idx].ref);
      for (const BaseMask base : {first[position_idx], second[position_idx]}) {
        const std::string label = fmt::format("{}:{}", positions[position_idx].position, BaseLetter(base));
        if (base != reference && std::find(call.unexplained.begin(), call.unexplained.end(), label) == call.unexplained.end()) {
          call.unexplained.push_back(label);
        }
      }
    }
    std::string bases;
    for (std::size_t index = 0; index < call.unexplained.size(); ++index) bases += (index == 0 ? "" : ", ") + call.unexplained[index];
    finding("pgx_vcf_no_match",
            fmt::format("no pair of CPIC {} alleles explains the bases seen ({}): not called, and not assumed normal", call.gene,
                        bases.empty() ? "reference at every position read" : bases));
    return call;
  }

  // Order by the star numbers of the pair, reference allele by its own number.
  auto number = [&](std::size_t allele_idx) {
    const PgxAllele* allele = gene_->FindAllele(alleles[allele_idx].name);
    return allele != nullptr ? allele->number : 0;
  };
  for (auto& [low, high] : found) {
    if (number(low) > number(high)) std::swap(low, high);
  }
  std::sort(found.begin(), found.end(), [&](const auto& left, const auto& right) {
    return std::make_pair(number(left.first), number(left.second)) < std::make_pair(number(right.first), number(right.second));
  });
  call.candidate_count = found.size();
  std::array<bool, kPhenotypeCount> phenotypes{};
  for (const auto& [low, high] : found) {
    const PgxAllele* one = gene_->FindAllele(alleles[low].name);
    const PgxAllele* two = gene_->FindAllele(alleles[high].name);
    const Phenotype phenotype = one != nullptr && two != nullptr ? gene_->PhenotypeOfFunctions(one->function, two->function) : Phenotype::Indeterminate;
    phenotypes[static_cast<std::size_t>(phenotype)] = true;
    if (call.candidates.size() < kMaxListedCandidates) call.candidates.push_back(DiplotypeCandidate{alleles[low].name, alleles[high].name, phenotype});
  }
  const auto distinct = std::count(phenotypes.begin(), phenotypes.end(), true);
  call.status = distinct == 1 ? CallStatus::Called : CallStatus::Ambiguous;
  call.phenotype = distinct == 1 ? call.candidates.front().phenotype : Phenotype::Indeterminate;
  if (found.size() > 1) {
    std::string listed;
    for (std::size_t index = 0; index < call.candidates.size(); ++index) {
      listed += fmt::format("{}{}/{} ({})", index == 0 ? "" : ", ", call.candidates[index].first, call.candidates[index].second,
                            gene_->PhenotypeName(call.candidates[index].phenotype));
    }
    if (found.size() > call.candidates.size()) listed += fmt::format(" and {} more", found.size() - call.candidates.size());
    const std::string reason = call.unphased && call.missing_positions.empty() ? "unphased heterozygous positions fit"
                               : call.unphased                                  ? "unphased heterozygous positions and missing positions fit"
                                                                                : "missing positions fit";
    finding(distinct == 1 ? "pgx_vcf_ambiguous_same_phenotype" : "pgx_vcf_ambiguous",
            fmt::format("{} {} diplotypes: {}{}", reason, found.size(), listed,
                        distinct == 1 ? "; all give the same phenotype" : "; they differ in phenotype, so none is assigned"));
  }
  return call;
}

GeneResult GeneResultFromCall(const PgxKnowledge& knowledge, const AlleleCall& call) {
  GeneResult result;
  result.gene = call.gene;
  result.input_kind = GenotypeInputKind::Vcf;
  if (const PgxGeneInfo* gene = knowledge.FindGene(call.gene)) {
    result.rule = gene->rule;
    result.sources = gene->rule_sources;
  }
  std::string listed;
  for (std::size_t index = 0; index < call.candidates.size(); ++index) {
    listed += fmt::format("{}{}/{}", index == 0 ? "" : " or ", call.candidates[index].first, call.candidates[index].second);
  }
  result.input = listed.empty() ? std::string(CallStatusName(call.status)) : listed;
  result.diplotype = call.candidates.size() == 1 ? listed : std::string();
  switch (call.status) {
    case CallStatus::Called: result.phenotype = call.phenotype; break;
    case CallStatus::Ambiguous:
    case CallStatus::NoMatch: result.phenotype = Phenotype::Indeterminate; break;
    case CallStatus::NotCalled: break;
  }
  result.effective_phenotype = result.phenotype;
  result.findings = call.findings;
  return result;
}

}  // namespace refract
