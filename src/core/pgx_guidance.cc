// SPDX-License-Identifier: Apache-2.0
// CPIC and label guidance per covered drug, and the ties between genotype and treatment history.
#include "refract/core/pgx.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "refract/core/text.h"

namespace refract {

namespace {

void AddSources(std::vector<std::string>& into, const std::vector<std::string>& sources) {
  for (const std::string& source : sources) {
    if (std::find(into.begin(), into.end(), source) == into.end()) into.push_back(source);
  }
}

const GeneResult* FindResult(std::span<const GeneResult> genes, std::string_view gene) {
  for (const GeneResult& result : genes) {
    if (result.gene == gene) return &result;
  }
  return nullptr;
}

/// The phenotype (and score) a drug's rules are looked up with: effective, or the genotype one.
GuidanceBasis BasisFor(const PgxKnowledge& knowledge, const std::string& gene, const GeneResult* result, bool effective) {
  GuidanceBasis basis{gene, std::nullopt, std::nullopt, false};
  if (result == nullptr) return basis;
  basis.phenotype = effective ? result->effective_phenotype : result->phenotype;
  basis.activity_score = effective ? result->effective_activity_score : result->activity_score;
  basis.effective = effective && result->phenoconverted;
  const PgxGeneInfo* info = knowledge.FindGene(gene);
  if (!basis.activity_score && basis.phenotype && info != nullptr && info->activity_score_method) {
    basis.activity_score = ScoreRangeOfPhenotype(*info, *basis.phenotype);
  }
  return basis;
}

bool Matches(const PgxRule& rule, const std::vector<GuidanceBasis>& basis) {
  for (const PgxCondition& condition : rule.when) {
    const auto found = std::find_if(basis.begin(), basis.end(), [&](const GuidanceBasis& entry) { return entry.gene == condition.gene; });
    if (found == basis.end()) return false;
    if (!found->phenotype) {
      if (!condition.not_tested) return false;
      continue;
    }
    if (!condition.phenotypes[static_cast<std::size_t>(*found->phenotype)]) return false;
    if (found->activity_score && (condition.activity_score_min || condition.activity_score_below)) {
      const double minimum = condition.activity_score_min.value_or(0);
      const double below = condition.activity_score_below.value_or(std::numeric_limits<double>::infinity());
      // A score range (phenotype given without a score) matches every cell it overlaps.
      if (found->activity_score->high < minimum || found->activity_score->low >= below) return false;
    }
  }
  return true;
}

std::vector<GuidanceMatch> MatchRules(const PgxDrugRules& drug, const std::vector<GuidanceBasis>& basis) {
  std::vector<GuidanceMatch> out;
  for (const PgxRule& rule : drug.rules) {
    if (Matches(rule, basis)) out.push_back(GuidanceMatch{rule.id, rule.strength, rule.action, rule.recommendation, rule.implications});
  }
  return out;
}

bool AllUntested(const std::vector<GuidanceBasis>& basis) {
  return std::all_of(basis.begin(), basis.end(), [](const GuidanceBasis& entry) { return !entry.phenotype; });
}

std::string DrugName(const KnowledgeBase& kb, const std::string& drug_id) {
  const Drug* drug = kb.FindDrug(drug_id);
  return drug != nullptr ? drug->inn : drug_id;
}

std::vector<LabelMatch> MatchLabel(const PgxKnowledge& knowledge, const PgxLabel& label, std::span<const GeneResult> genes,
                                   std::span<const PhenoconversionInput> inhibitors, const KnowledgeBase& kb) {
  std::vector<LabelMatch> out;
  for (const PgxLabelStatement& statement : label.statements) {
    std::string trigger;
    if (statement.inhibitor_trigger) {
      for (const PhenoconversionInput& input : inhibitors) {
        if (NormalizeName(input.enzyme) != NormalizeName(statement.gene)) continue;
        if (!statement.inhibitor_strengths[static_cast<std::size_t>(input.strength)]) continue;
        if (!trigger.empty()) trigger += ", ";
        trigger += fmt::format("{} ({} {} inhibitor)", DrugName(kb, input.drug_id), InhibitorStrengthName(input.strength), statement.gene);
      }
    } else if (const GeneResult* result = FindResult(genes, statement.gene); result != nullptr && result->phenotype &&
                                                                             statement.phenotypes[static_cast<std::size_t>(*result->phenotype)]) {
      const PgxGeneInfo* gene = knowledge.FindGene(statement.gene);
      trigger = fmt::format("{} {} (genotype)", statement.gene, gene != nullptr ? gene->PhenotypeName(*result->phenotype) : "");
    }
    if (trigger.empty()) continue;
    out.push_back(LabelMatch{statement.id, statement.gene, statement.text, statement.max_dose_mg_per_day, statement.dose_fraction,
                             statement.exception, trigger, statement.sources});
  }
  return out;
}

bool LabelGeneInPlay(const PgxLabel& label, std::span<const GeneResult> genes, std::span<const PhenoconversionInput> inhibitors) {
  for (const PgxLabelStatement& statement : label.statements) {
    const GeneResult* result = FindResult(genes, statement.gene);
    if (result != nullptr && (result->phenotype || result->effective_phenotype)) return true;
    for (const PhenoconversionInput& input : inhibitors) {
      if (NormalizeName(input.enzyme) == NormalizeName(statement.gene)) return true;
    }
  }
  return false;
}

}  // namespace

std::vector<DrugGuidance> GuidanceFor(const PgxKnowledge& knowledge, const KnowledgeBase& kb, std::span<const GeneResult> genes,
                                      std::span<const PhenoconversionInput> inhibitors) {
  std::vector<DrugGuidance> out;
  std::set<std::string> drugs;
  for (const PgxDrugRules& rules : knowledge.guidance) drugs.insert(rules.drug_id);
  for (const PgxLabel& label : knowledge.labels) drugs.insert(label.drug_id);
  for (const std::string& drug_id : drugs) {
    const PgxDrugRules* rules = knowledge.FindGuidance(drug_id);
    const PgxLabel* label = knowledge.FindLabel(drug_id);
    DrugGuidance guidance;
    guidance.drug_id = drug_id;
    guidance.drug_name = DrugName(kb, drug_id);
    bool covered = false;
    if (rules != nullptr) {
      std::vector<GuidanceBasis> effective;
      std::vector<GuidanceBasis> genotype;
      bool converted = false;
      for (const std::string& gene : rules->genes) {
        const GeneResult* result = FindResult(genes, gene);
        effective.push_back(BasisFor(knowledge, gene, result, true));
        genotype.push_back(BasisFor(knowledge, gene, result, false));
        converted = converted || effective.back().effective;
      }
      if (!AllUntested(effective)) {
        covered = true;
        guidance.basis = effective;
        guidance.guideline = rules->guideline;
        guidance.other_considerations = rules->other_considerations;
        guidance.cpic = MatchRules(*rules, effective);
        AddSources(guidance.sources, rules->sources);
        if (converted && !AllUntested(genotype)) guidance.genotype_only = MatchRules(*rules, genotype);
        if (guidance.cpic.size() > 1) {
          guidance.findings.push_back(Finding{"pgx_score_decides",
                                              fmt::format("CPIC recommendations for {} differ within this phenotype by activity score; give the "
                                                          "diplotype or the score to choose between them",
                                                          guidance.drug_name),
                                              guidance.cpic.front().rule, rules->sources});
        }
        if (guidance.cpic.empty()) {
          guidance.findings.push_back(Finding{"pgx_no_rule", fmt::format("no CPIC rule for {} covers this phenotype combination", guidance.drug_name),
                                              rules->id, rules->sources});
        }
      }
    }
    if (label != nullptr && LabelGeneInPlay(*label, genes, inhibitors)) {
      covered = true;
      guidance.label = MatchLabel(knowledge, *label, genes, inhibitors, kb);
      AddSources(guidance.sources, label->sources);
      for (const LabelMatch& match : guidance.label) AddSources(guidance.sources, match.sources);
      if (guidance.basis.empty()) {
        for (const PgxLabelStatement& statement : label->statements) {
          if (std::none_of(guidance.basis.begin(), guidance.basis.end(), [&](const GuidanceBasis& entry) { return entry.gene == statement.gene; })) {
            guidance.basis.push_back(BasisFor(knowledge, statement.gene, FindResult(genes, statement.gene), true));
          }
        }
        if (guidance.label.empty() && rules == nullptr) {
          guidance.findings.push_back(Finding{"pgx_label_no_change",
                                              fmt::format("no genotype-based label dose change for {} at this phenotype", guidance.drug_name),
                                              label->id, label->sources});
        }
      }
    }
    if (covered) out.push_back(std::move(guidance));
  }
  std::stable_sort(out.begin(), out.end(), [](const DrugGuidance& left, const DrugGuidance& right) { return left.drug_name < right.drug_name; });
  return out;
}

namespace {

std::string ResultWords(const TrialAssessment& trial, bool failed, bool intolerance) {
  if (intolerance) return "was not tolerated";
  if (failed) return "failed";
  if (trial.outcome == Outcome::Nonresponse) return "gave no response";
  return "gave only a partial response";
}

std::string DoseWords(const TrialAssessment& trial) {
  return trial.max_dose_mg_per_day ? fmt::format(" {} mg/day", FormatNumber(*trial.max_dose_mg_per_day)) : std::string(" (dose not recorded)");
}

std::string GenotypeWords(const PgxGeneInfo& gene, const GeneResult& result) {
  std::string detail = result.diplotype.empty() ? result.input : result.diplotype;
  return fmt::format("{} {} ({})", gene.gene, NormalizeName(gene.PhenotypeName(*result.phenotype)), detail);
}

void HistoryFindings(const PgxKnowledge& knowledge, std::span<const GeneResult> genes,
                     std::span<const TrialAssessment> trials, PgxReport& report) {
  for (const TrialAssessment& trial : trials) {
    if (trial.drug == nullptr) continue;
    const bool failed = trial.failed.value_or(false);
    const bool intolerance = trial.outcome == Outcome::Intolerance;
    const PgxDrugRules* rules = knowledge.FindGuidance(trial.drug->id);
    if (rules != nullptr && (failed || intolerance || trial.outcome == Outcome::Nonresponse || trial.outcome == Outcome::Partial)) {
      std::vector<GuidanceBasis> basis;
      for (const std::string& gene : rules->genes) basis.push_back(BasisFor(knowledge, gene, FindResult(genes, gene), false));
      const auto matched = MatchRules(*rules, basis);
      const bool actionable = std::any_of(matched.begin(), matched.end(), [](const GuidanceMatch& match) {
        return match.action != GuidanceAction::Standard && match.action != GuidanceAction::None;
      });
      for (const std::string& gene_name : rules->genes) {
        const GeneResult* result = FindResult(genes, gene_name);
        const PgxGeneInfo* gene = knowledge.FindGene(gene_name);
        if (result == nullptr || gene == nullptr || !result->phenotype || *result->phenotype == Phenotype::Indeterminate) continue;
        for (const PgxHistoryRules::Explanation& explanation : knowledge.history.explanations) {
          if (!explanation.phenotypes[static_cast<std::size_t>(*result->phenotype)]) continue;
          const bool result_matches = (explanation.failed && failed) || (explanation.intolerance && intolerance) ||
                                      (explanation.nonresponse && trial.outcome == Outcome::Nonresponse) ||
                                      (explanation.partial && trial.outcome == Outcome::Partial);
          if (!result_matches || (explanation.requires_actionable_guidance && !actionable)) continue;
          std::string message = fmt::format("{}{} {} in a {}: {}", trial.drug->inn, DoseWords(trial), ResultWords(trial, failed, intolerance),
                                            GenotypeWords(*gene, *result), explanation.text);
          if (!matched.empty()) {
            message += fmt::format(". CPIC ({}): {}", RecommendationStrengthName(matched.front().strength), matched.front().recommendation);
          }
          std::vector<std::string> sources = explanation.sources;
          AddSources(sources, {rules->guideline});
          report.history.push_back(Finding{intolerance ? "pgx_possible_pk_intolerance" : "pgx_possible_pseudo_resistance",
                                           fmt::format("trial {}: {}", trial.index, message), explanation.id, sources});
        }
      }
    }
    const PgxLabel* label = knowledge.FindLabel(trial.drug->id);
    if (label == nullptr) continue;
    // Drugs with a label dose change but no CPIC guideline (aripiprazole, brexpiprazole): the label
    // statement makes the phenotype actionable for the higher-exposure explanation.
    if (rules == nullptr && intolerance) {
      for (const PgxLabelStatement& statement : label->statements) {
        if (statement.inhibitor_trigger) continue;
        const GeneResult* result = FindResult(genes, statement.gene);
        const PgxGeneInfo* gene = knowledge.FindGene(statement.gene);
        if (result == nullptr || gene == nullptr || !result->phenotype || !statement.phenotypes[static_cast<std::size_t>(*result->phenotype)]) continue;
        for (const PgxHistoryRules::Explanation& explanation : knowledge.history.explanations) {
          if (!explanation.intolerance || !explanation.phenotypes[static_cast<std::size_t>(*result->phenotype)]) continue;
          std::vector<std::string> sources = explanation.sources;
          AddSources(sources, statement.sources);
          report.history.push_back(Finding{"pgx_possible_pk_intolerance",
                                           fmt::format("trial {}: {}{} was not tolerated in a {}: {}. {}", trial.index, trial.drug->inn, DoseWords(trial),
                                                       GenotypeWords(*gene, *result), explanation.text, statement.text),
                                           explanation.id, sources});
        }
      }
    }
    if (!trial.max_dose_mg_per_day) continue;
    for (const PgxLabelStatement& statement : label->statements) {
      if (statement.inhibitor_trigger || !statement.max_dose_mg_per_day) continue;
      const GeneResult* result = FindResult(genes, statement.gene);
      const PgxGeneInfo* gene = knowledge.FindGene(statement.gene);
      if (result == nullptr || gene == nullptr || !result->phenotype || !statement.phenotypes[static_cast<std::size_t>(*result->phenotype)]) continue;
      if (*trial.max_dose_mg_per_day <= *statement.max_dose_mg_per_day) continue;
      report.history.push_back(Finding{"pgx_label_dose_exceeded",
                                       fmt::format("trial {}: {} reached{} in a {}: above the label maximum of {} mg/day for this genotype", trial.index,
                                                   trial.drug->inn, DoseWords(trial), GenotypeWords(*gene, *result),
                                                   FormatNumber(*statement.max_dose_mg_per_day)),
                                       statement.id, statement.sources});
    }
  }
}

std::optional<Finding> TestingSuggestion(const PgxKnowledge& knowledge, std::span<const GeneResult> genes, std::span<const TrialAssessment> trials) {
  const PgxHistoryRules& rules = knowledge.history;
  std::vector<std::string> suggested;
  std::vector<std::string> failed_drugs;
  std::vector<std::string> intolerant_drugs;
  for (const PgxGeneInfo& gene : knowledge.genes) {
    const GeneResult* result = FindResult(genes, gene.gene);
    if (result != nullptr && result->phenotype) continue;
    std::vector<std::string> failed;
    std::vector<std::string> intolerant;
    for (const TrialAssessment& trial : trials) {
      if (trial.drug == nullptr) continue;
      const PgxDrugRules* drug_rules = knowledge.FindGuidance(trial.drug->id);
      if (drug_rules == nullptr || std::find(drug_rules->genes.begin(), drug_rules->genes.end(), gene.gene) == drug_rules->genes.end()) continue;
      const std::string label = fmt::format("{}{}", trial.drug->inn, DoseWords(trial));
      if (trial.failed.value_or(false)) failed.push_back(label);
      const bool ordinary = !trial.max_dose_mg_per_day || !trial.drug->max_dose_mg_per_day || *trial.max_dose_mg_per_day <= *trial.drug->max_dose_mg_per_day;
      if (trial.outcome == Outcome::Intolerance && ordinary) intolerant.push_back(label);
    }
    if (static_cast<int>(failed.size()) < rules.min_failed_trials && static_cast<int>(intolerant.size()) < rules.min_intolerance_trials) continue;
    suggested.push_back(gene.gene);
    for (const std::string& label : failed) {
      if (std::find(failed_drugs.begin(), failed_drugs.end(), label) == failed_drugs.end()) failed_drugs.push_back(label);
    }
    for (const std::string& label : intolerant) {
      if (std::find(intolerant_drugs.begin(), intolerant_drugs.end(), label) == intolerant_drugs.end()) intolerant_drugs.push_back(label);
    }
  }
  if (suggested.empty()) return std::nullopt;
  std::string pattern;
  auto join = [](const std::vector<std::string>& items) {
    std::string out;
    for (std::size_t index = 0; index < items.size(); ++index) out += (index == 0 ? "" : ", ") + items[index];
    return out;
  };
  if (!failed_drugs.empty()) pattern += fmt::format("{} failed adequate trial{} ({})", failed_drugs.size(), failed_drugs.size() == 1 ? "" : "s", join(failed_drugs));
  if (!intolerant_drugs.empty()) {
    pattern += fmt::format("{}{} trial{} stopped for intolerance at ordinary doses ({})", pattern.empty() ? "" : " and ", intolerant_drugs.size(),
                           intolerant_drugs.size() == 1 ? "" : "s", join(intolerant_drugs));
  }
  return Finding{"pgx_testing_suggested",
                 fmt::format("{}: {} of drugs with CPIC genotype guidance; not tested: {}", rules.testing_text, pattern, join(suggested)),
                 rules.testing_id, rules.testing_sources};
}

}  // namespace

Result<PgxReport> AssessPgx(const PgxKnowledge& knowledge, const KnowledgeBase& kb, std::span<const GenotypeEntry> genotypes,
                            std::span<const PhenoconversionInput> inhibitors, std::span<const TrialAssessment> trials) {
  std::vector<GeneResult> genes;
  std::vector<Finding> notes;
  for (const GenotypeEntry& entry : genotypes) {
    auto result = InterpretGenotype(knowledge, entry, fmt::format("genotypes[{}]", entry.input_index));
    if (!result) return tl::unexpected<Error>(result.error());
    if (!result->phenotype && result->input_kind == GenotypeInputKind::None) {
      notes.insert(notes.end(), result->findings.begin(), result->findings.end());
      continue;
    }
    genes.push_back(std::move(*result));
  }
  PgxReport report = AssessGeneResults(knowledge, kb, std::move(genes), inhibitors, trials);
  report.findings.insert(report.findings.begin(), notes.begin(), notes.end());
  std::set<std::string> sources(report.sources.begin(), report.sources.end());
  for (const Finding& finding : notes) sources.insert(finding.sources.begin(), finding.sources.end());
  report.sources.assign(sources.begin(), sources.end());
  return report;
}

PgxReport AssessGeneResults(const PgxKnowledge& knowledge, const KnowledgeBase& kb, std::vector<GeneResult> genes,
                            std::span<const PhenoconversionInput> inhibitors, std::span<const TrialAssessment> trials) {
  PgxReport report;
  for (GeneResult& result : genes) {
    const auto existing = std::find_if(report.genes.begin(), report.genes.end(), [&](const GeneResult& gene) { return gene.gene == result.gene; });
    if (existing != report.genes.end()) {
      const bool agree = existing->phenotype == result.phenotype;
      report.findings.push_back(Finding{agree ? "pgx_duplicate_result" : "pgx_conflicting_results",
                                        fmt::format("{} has more than one result ({} and {}); {}the first is used", result.gene,
                                                    existing->input.empty() ? "?" : existing->input, result.input, agree ? "" : "they disagree; "),
                                        result.rule, result.sources});
      continue;
    }
    report.genes.push_back(std::move(result));
  }
  // Genes without a result still take part when an inhibitor makes them poor-metabolizer-like.
  for (const PgxGeneInfo& gene : knowledge.genes) {
    const bool present = std::any_of(report.genes.begin(), report.genes.end(), [&](const GeneResult& result) { return result.gene == gene.gene; });
    if (present) continue;
    GeneResult untested;
    untested.gene = gene.gene;
    untested.rule = gene.rule;
    ApplyPhenoconversion(knowledge, kb, inhibitors, untested);
    if (untested.effective_phenotype) {
      report.genes.push_back(std::move(untested));
    } else if (!untested.inhibitors.empty()) {
      // Not tested and not converted: still say which inhibitors were seen.
      for (Finding finding : untested.findings) {
        finding.message = fmt::format("{} not tested: {}", gene.gene, finding.message);
        report.findings.push_back(std::move(finding));
      }
    }
  }
  for (GeneResult& result : report.genes) {
    if (result.input_kind != GenotypeInputKind::None) ApplyPhenoconversion(knowledge, kb, inhibitors, result);
  }
  std::sort(report.genes.begin(), report.genes.end(), [](const GeneResult& left, const GeneResult& right) { return left.gene < right.gene; });
  report.drugs = GuidanceFor(knowledge, kb, report.genes, inhibitors);
  HistoryFindings(knowledge, report.genes, trials, report);
  report.testing = TestingSuggestion(knowledge, report.genes, trials);

  std::set<std::string> sources;
  auto collect = [&](const std::vector<std::string>& ids) { sources.insert(ids.begin(), ids.end()); };
  for (const GeneResult& result : report.genes) {
    collect(result.sources);
    for (const Finding& finding : result.findings) collect(finding.sources);
    for (const PhenoconversionCause& cause : result.inhibitors) collect(cause.sources);
  }
  for (const DrugGuidance& drug : report.drugs) {
    collect(drug.sources);
    for (const Finding& finding : drug.findings) collect(finding.sources);
  }
  for (const Finding& finding : report.history) collect(finding.sources);
  for (const Finding& finding : report.findings) collect(finding.sources);
  if (report.testing) collect(report.testing->sources);
  report.sources.assign(sources.begin(), sources.end());
  return report;
}

}  // namespace refract
