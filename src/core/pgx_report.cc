// SPDX-License-Identifier: Apache-2.0
// Renderings of a pharmacogenomic report: JSON (refract.pgx/v1), text and TSV.
#include "refract/core/pgx.h"

#include <fmt/format.h>

#include "refract/core/text.h"

namespace refract {

namespace {

nlohmann::json ScoreJson(const std::optional<ScoreRange>& range) {
  if (!range) return nullptr;
  nlohmann::json out{{"low", range->low}};
  out["high"] = range->IsOpen() ? nlohmann::json(nullptr) : nlohmann::json(range->high);
  out["exact"] = range->IsExact();
  return out;
}

std::string ScoreWords(const ScoreRange& range) {
  if (range.IsExact()) return FormatNumber(range.low);
  if (range.IsOpen()) return "≥" + FormatNumber(range.low);
  return FormatNumber(range.low) + "–" + FormatNumber(range.high);
}

nlohmann::json FindingJson(const Finding& finding) {
  return nlohmann::json{{"code", finding.code}, {"message", finding.message}, {"rule", finding.rule}, {"sources", finding.sources}};
}

nlohmann::json FindingsJson(const std::vector<Finding>& findings) {
  nlohmann::json out = nlohmann::json::array();
  for (const Finding& finding : findings) out.push_back(FindingJson(finding));
  return out;
}

nlohmann::json PhenotypeJson(const std::optional<Phenotype>& phenotype) {
  return phenotype ? nlohmann::json(std::string(PhenotypeKey(*phenotype))) : nlohmann::json(nullptr);
}

nlohmann::json MatchJson(const GuidanceMatch& match) {
  return nlohmann::json{{"rule", match.rule},
                        {"strength", std::string(RecommendationStrengthName(match.strength))},
                        {"action", std::string(GuidanceActionName(match.action))},
                        {"recommendation", match.recommendation},
                        {"implications", match.implications}};
}

std::string Capitalised(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

std::string PhenotypeWords(const std::optional<Phenotype>& phenotype) {
  if (!phenotype) return "not tested";
  static const std::array<std::string_view, kPhenotypeCount> kWords = {
      "Ultrarapid Metabolizer", "Rapid Metabolizer", "Normal Metabolizer", "Likely Intermediate Metabolizer", "Intermediate Metabolizer",
      "Likely Poor Metabolizer", "Poor Metabolizer", "Indeterminate"};
  return std::string(kWords[static_cast<std::size_t>(*phenotype)]);
}

std::string BasisWords(const DrugGuidance& drug) {
  std::string out;
  for (const GuidanceBasis& basis : drug.basis) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}{}", basis.gene, PhenotypeWords(basis.phenotype), basis.effective ? " (effective)" : "");
  }
  return out;
}

std::string TsvField(std::string text) {
  for (char& character : text) {
    if (character == '\t' || character == '\n' || character == '\r') character = ' ';
  }
  return text;
}

}  // namespace

nlohmann::json PgxToJson(const PgxReport& report, const KnowledgeBase& kb, const EngineInfo& engine) {
  nlohmann::json body = PgxReportJson(report);
  nlohmann::json sources = nlohmann::json::array();
  for (const std::string& id : report.sources) {
    const Source* source = kb.FindSource(id);
    sources.push_back(nlohmann::json{{"id", id}, {"citation", source != nullptr ? source->citation : std::string()}});
  }
  return nlohmann::json{{"schema", "refract.pgx/v1"},
                        {"engine", nlohmann::json{{"name", engine.name},
                                                  {"version", engine.version},
                                                  {"kb_version", kb.version()},
                                                  {"kb_digest", kb.digest()},
                                                  {"kb_source", kb.origin()}}},
                        {"genes", std::move(body["genes"])},
                        {"drugs", std::move(body["drugs"])},
                        {"history", std::move(body["history"])},
                        {"testing", std::move(body["testing"])},
                        {"findings", std::move(body["findings"])},
                        {"sources", sources}};
}

nlohmann::json PgxReportJson(const PgxReport& report) {
  nlohmann::json genes = nlohmann::json::array();
  for (const GeneResult& result : report.genes) {
    nlohmann::json haplotypes = nlohmann::json::array();
    for (const auto& haplotype : result.haplotypes) {
      nlohmann::json copies = nlohmann::json::array();
      for (const AlleleCopy& copy : haplotype) {
        copies.push_back(nlohmann::json{{"allele", copy.name},
                                        {"copies", copy.copies.empty() ? nlohmann::json(1) : nlohmann::json(copy.copies)},
                                        {"function", copy.known ? nlohmann::json(std::string(AlleleFunctionName(copy.function))) : nlohmann::json(nullptr)},
                                        {"activity_value", copy.activity_value ? nlohmann::json(*copy.activity_value) : nlohmann::json(nullptr)}});
      }
      haplotypes.push_back(copies);
    }
    nlohmann::json inhibitors = nlohmann::json::array();
    for (const PhenoconversionCause& cause : result.inhibitors) {
      inhibitors.push_back(nlohmann::json{{"drug", cause.drug_id},
                                          {"drug_name", cause.drug_name},
                                          {"strength", std::string(InhibitorStrengthName(cause.strength))},
                                          {"deciding", cause.deciding},
                                          {"sources", cause.sources}});
    }
    genes.push_back(nlohmann::json{
        {"gene", result.gene},
        {"input", nlohmann::json{{"kind", std::string(GenotypeInputKindName(result.input_kind))}, {"value", result.input}}},
        {"diplotype", result.diplotype.empty() ? nlohmann::json(nullptr) : nlohmann::json(result.diplotype)},
        {"haplotypes", haplotypes},
        {"activity_score", ScoreJson(result.activity_score)},
        {"phenotype", PhenotypeJson(result.phenotype)},
        {"effective",
         nlohmann::json{{"phenotype", PhenotypeJson(result.effective_phenotype)},
                        {"activity_score", ScoreJson(result.effective_activity_score)},
                        {"changed", result.phenoconverted},
                        {"inhibitors", inhibitors},
                        {"rule", result.phenoconversion_rule.empty() ? nlohmann::json(nullptr) : nlohmann::json(result.phenoconversion_rule)},
                        {"status", result.phenoconversion_status.empty() ? nlohmann::json(nullptr) : nlohmann::json(result.phenoconversion_status)}}},
        {"rule", result.rule},
        {"sources", result.sources},
        {"findings", FindingsJson(result.findings)}});
  }
  nlohmann::json drugs = nlohmann::json::array();
  for (const DrugGuidance& drug : report.drugs) {
    nlohmann::json basis = nlohmann::json::array();
    for (const GuidanceBasis& entry : drug.basis) {
      basis.push_back(nlohmann::json{{"gene", entry.gene},
                                     {"phenotype", PhenotypeJson(entry.phenotype)},
                                     {"activity_score", ScoreJson(entry.activity_score)},
                                     {"effective", entry.effective}});
    }
    nlohmann::json cpic = nlohmann::json::array();
    for (const GuidanceMatch& match : drug.cpic) cpic.push_back(MatchJson(match));
    nlohmann::json genotype_only = nlohmann::json::array();
    for (const GuidanceMatch& match : drug.genotype_only) genotype_only.push_back(MatchJson(match));
    nlohmann::json label = nlohmann::json::array();
    for (const LabelMatch& match : drug.label) {
      label.push_back(nlohmann::json{{"statement", match.statement},
                                     {"gene", match.gene},
                                     {"text", match.text},
                                     {"triggered_by", match.triggered_by},
                                     {"max_dose_mg_per_day", match.max_dose_mg_per_day ? nlohmann::json(*match.max_dose_mg_per_day) : nlohmann::json(nullptr)},
                                     {"dose_fraction", match.dose_fraction ? nlohmann::json(*match.dose_fraction) : nlohmann::json(nullptr)},
                                     {"exception", match.exception.empty() ? nlohmann::json(nullptr) : nlohmann::json(match.exception)},
                                     {"sources", match.sources}});
    }
    drugs.push_back(nlohmann::json{{"drug", drug.drug_id},
                                   {"drug_name", drug.drug_name},
                                   {"basis", basis},
                                   {"guideline", drug.guideline.empty() ? nlohmann::json(nullptr) : nlohmann::json(drug.guideline)},
                                   {"cpic", cpic},
                                   {"genotype_only", genotype_only},
                                   {"label", label},
                                   {"other_considerations", drug.other_considerations},
                                   {"sources", drug.sources},
                                   {"findings", FindingsJson(drug.findings)}});
  }
  return nlohmann::json{{"genes", std::move(genes)},
                        {"drugs", std::move(drugs)},
                        {"history", FindingsJson(report.history)},
                        {"testing", report.testing ? FindingJson(*report.testing) : nlohmann::json(nullptr)},
                        {"findings", FindingsJson(report.findings)}};
}

std::string PgxToText(const PgxReport& report, const KnowledgeBase& kb, const EngineInfo& engine) {
  std::string out = fmt::format("{} {} · KB {} ({}) · {}\n", engine.name, engine.version, kb.version(), kb.digest(), kb.origin());
  out += "Pharmacogenomics: CPIC guidance and FDA label statements (read the full guideline before acting)\n";
  if (report.testing) out += fmt::format("\n! Testing suggested: {} [{}]\n", report.testing->message, report.testing->rule);
  out += "\nGenes\n";
  if (report.genes.empty()) out += "  none tested\n";
  for (const GeneResult& result : report.genes) {
    std::string genotype = result.input_kind == GenotypeInputKind::None ? std::string("not tested") : result.diplotype;
    if (genotype.empty()) genotype = result.input;
    if (result.activity_score) genotype += fmt::format(" (activity score {})", ScoreWords(*result.activity_score));
    if (result.input_kind == GenotypeInputKind::None) {
      out += fmt::format("  {:<8} not tested\n", result.gene);
    } else {
      out += fmt::format("  {:<8} {} → {}\n", result.gene, genotype, PhenotypeWords(result.phenotype));
    }
    for (const auto& haplotype : result.haplotypes) {
      for (const AlleleCopy& copy : haplotype) {
        out += fmt::format("           {}{}: {}{}\n", copy.name, copy.copies.empty() ? "" : "x" + copy.copies,
                           copy.known ? std::string(AlleleFunctionName(copy.function)) + " function" : std::string("not in CPIC's table"),
                           copy.activity_value ? fmt::format(", activity value {}", FormatNumber(*copy.activity_value)) : "");
      }
    }
    if (!result.inhibitors.empty()) {
      out += fmt::format("           effective: {}{}\n", PhenotypeWords(result.effective_phenotype),
                         result.effective_activity_score ? fmt::format(" (activity score {})", ScoreWords(*result.effective_activity_score)) : "");
    }
    if (!result.rule.empty()) out += fmt::format("           [{}]\n", result.rule);
    for (const Finding& finding : result.findings) out += fmt::format("           - {} [{}]\n", finding.message, finding.rule);
  }
  out += "\nGuidance\n";
  if (report.drugs.empty()) out += "  no covered drug applies\n";
  for (const DrugGuidance& drug : report.drugs) {
    out += fmt::format("  {} ({})\n", drug.drug_name, BasisWords(drug));
    for (const GuidanceMatch& match : drug.cpic) {
      out += fmt::format("    CPIC {}: {} [{}]\n", RecommendationStrengthName(match.strength), match.recommendation, match.rule);
    }
    for (const GuidanceMatch& match : drug.genotype_only) {
      out += fmt::format("    on genotype alone, CPIC {}: {} [{}]\n", RecommendationStrengthName(match.strength), match.recommendation, match.rule);
    }
    for (const LabelMatch& match : drug.label) {
      out += fmt::format("    {} (triggered by {}){} [{}]\n", match.text, match.triggered_by,
                         match.exception.empty() ? "" : " Exception: " + match.exception, match.statement);
    }
    for (const Finding& finding : drug.findings) out += fmt::format("    - {} [{}]\n", finding.message, finding.rule);
  }
  if (!report.history.empty()) {
    out += "\nHistory\n";
    for (const Finding& finding : report.history) out += fmt::format("  - {} [{}]\n", Capitalised(finding.message), finding.rule);
  }
  if (!report.findings.empty()) {
    out += "\nNotes\n";
    for (const Finding& finding : report.findings) out += fmt::format("  - {} [{}]\n", finding.message, finding.rule);
  }
  out += "\nSources\n";
  for (const std::string& id : report.sources) {
    const Source* source = kb.FindSource(id);
    out += fmt::format("  {}: {}\n", id, source != nullptr ? source->citation : std::string("(not in this KB)"));
  }
  return out;
}

std::string PgxToTsv(const PgxReport& report) {
  std::string out = "kind\tgene\tdrug\tphenotype\teffective_phenotype\tstrength\taction\trule\ttext\n";
  auto row = [&](std::string_view kind, const std::string& gene, const std::string& drug, const std::string& phenotype, const std::string& effective,
                 const std::string& strength, const std::string& action, const std::string& rule, const std::string& text) {
    out += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", kind, gene, drug, phenotype, effective, strength, action, rule, TsvField(text));
  };
  auto key = [](const std::optional<Phenotype>& phenotype) { return phenotype ? std::string(PhenotypeKey(*phenotype)) : std::string("not_tested"); };
  for (const GeneResult& result : report.genes) {
    std::string text = result.diplotype.empty() ? result.input : result.diplotype;
    if (result.activity_score) text += fmt::format(" (activity score {})", ScoreWords(*result.activity_score));
    row("gene", result.gene, "", key(result.phenotype), key(result.effective_phenotype), "", "", result.rule, text);
  }
  for (const DrugGuidance& drug : report.drugs) {
    std::string genes;
    std::string phenotypes;
    std::string effective;
    for (const GuidanceBasis& basis : drug.basis) {
      genes += (genes.empty() ? "" : ",") + basis.gene;
      effective += (effective.empty() ? "" : ",") + key(basis.phenotype);
    }
    for (const GuidanceBasis& basis : drug.basis) {
      std::optional<Phenotype> genotype;
      for (const GeneResult& result : report.genes) {
        if (result.gene == basis.gene) genotype = result.phenotype;
      }
      phenotypes += (phenotypes.empty() ? "" : ",") + key(genotype);
    }
    for (const GuidanceMatch& match : drug.cpic) {
      row("cpic", genes, drug.drug_name, phenotypes, effective, std::string(RecommendationStrengthName(match.strength)),
          std::string(GuidanceActionName(match.action)), match.rule, match.recommendation);
    }
    for (const GuidanceMatch& match : drug.genotype_only) {
      row("cpic_genotype_only", genes, drug.drug_name, phenotypes, effective, std::string(RecommendationStrengthName(match.strength)),
          std::string(GuidanceActionName(match.action)), match.rule, match.recommendation);
    }
    for (const LabelMatch& match : drug.label) row("label", match.gene, drug.drug_name, phenotypes, effective, "", "", match.statement, match.text);
  }
  for (const Finding& finding : report.history) row("history", "", "", "", "", "", "", finding.rule, finding.message);
  if (report.testing) row("testing", "", "", "", "", "", "", report.testing->rule, report.testing->message);
  return out;
}

}  // namespace refract
