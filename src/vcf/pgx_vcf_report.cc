// SPDX-License-Identifier: Apache-2.0
// Renderings of VCF star-allele calls: JSON (refract.pgx_vcf/v1), text and TSV.
#include <fmt/format.h>

#include "refract/vcf/pgx_vcf.h"

namespace refract::vcf {

namespace {

std::string PositionsText(const std::vector<std::uint32_t>& positions) {
  std::string out;
  for (std::size_t index = 0; index < positions.size(); ++index) out += fmt::format("{}{}", index == 0 ? "" : ",", positions[index]);
  return out;
}

std::string DiplotypesText(const AlleleCall& call) {
  std::string out;
  for (std::size_t index = 0; index < call.candidates.size(); ++index) {
    out += fmt::format("{}{}/{}", index == 0 ? "" : " or ", call.candidates[index].first, call.candidates[index].second);
  }
  if (call.candidate_count > call.candidates.size()) out += fmt::format(" (+{} more)", call.candidate_count - call.candidates.size());
  return out;
}

std::string PhenotypeText(const PgxKnowledge& knowledge, const AlleleCall& call) {
  if (!call.phenotype) return "not called";
  const PgxGeneInfo* gene = knowledge.FindGene(call.gene);
  return gene != nullptr ? gene->PhenotypeName(*call.phenotype) : std::string(PhenotypeKey(*call.phenotype));
}

nlohmann::json FindingJson(const Finding& finding) {
  return nlohmann::json{{"code", finding.code}, {"message", finding.message}, {"rule", finding.rule}, {"sources", finding.sources}};
}

}  // namespace

nlohmann::json VcfCallsToJson(const VcfCallReport& report, const PgxKnowledge& knowledge, const KnowledgeBase& kb, const EngineInfo& engine) {
  nlohmann::json samples = nlohmann::json::array();
  for (const SampleCalls& sample : report.samples) {
    nlohmann::json genes = nlohmann::json::array();
    for (const AlleleCall& call : sample.calls) {
      nlohmann::json candidates = nlohmann::json::array();
      for (const DiplotypeCandidate& candidate : call.candidates) {
        candidates.push_back(nlohmann::json{{"diplotype", candidate.first + "/" + candidate.second},
                                            {"phenotype", std::string(PhenotypeKey(candidate.phenotype))}});
      }
      nlohmann::json findings = nlohmann::json::array();
      for (const Finding& finding : call.findings) findings.push_back(FindingJson(finding));
      const PgxDefinition* definition = knowledge.FindDefinition(call.gene);
      nlohmann::json missing = nlohmann::json::array();
      for (const std::uint32_t position : call.missing_positions) {
        std::string rsid;
        if (definition != nullptr) {
          for (const auto& entry : definition->positions) {
            if (entry.position == position) rsid = entry.rsid;
          }
        }
        missing.push_back(nlohmann::json{{"position", position}, {"rsid", rsid.empty() ? nlohmann::json(nullptr) : nlohmann::json(rsid)}});
      }
      genes.push_back(nlohmann::json{{"gene", call.gene},
                                     {"status", std::string(CallStatusName(call.status))},
                                     {"diplotypes", candidates},
                                     {"diplotype_count", call.candidate_count},
                                     {"phenotype", call.phenotype ? nlohmann::json(std::string(PhenotypeKey(*call.phenotype))) : nlohmann::json(nullptr)},
                                     {"unphased", call.unphased},
                                     {"missing_positions", missing},
                                     {"unexplained", call.unexplained},
                                     {"findings", findings}});
    }
    samples.push_back(nlohmann::json{{"sample", sample.sample}, {"genes", genes}});
  }
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding& finding : report.findings) findings.push_back(FindingJson(finding));
  return nlohmann::json{{"schema", "refract.pgx_vcf/v1"},
                        {"engine", nlohmann::json{{"name", engine.name},
                                                  {"version", engine.version},
                                                  {"kb_version", kb.version()},
                                                  {"kb_digest", kb.digest()},
                                                  {"kb_source", kb.origin()}}},
                        {"file", report.path},
                        {"genes", report.genes},
                        {"not_called_from_vcf", report.not_called},
                        {"records", report.records},
                        {"records_at_definition_positions", report.records_used},
                        {"samples", samples},
                        {"findings", findings}};
}

std::string VcfCallsToText(const VcfCallReport& report, const PgxKnowledge& knowledge, const KnowledgeBase& kb, const EngineInfo& engine) {
  std::string out = fmt::format("{} {} · KB {} ({}) · {}\n", engine.name, engine.version, kb.version(), kb.digest(), kb.origin());
  out += fmt::format("{}: {} sample{}, {} record{} ({} at CPIC definition positions)\n", report.path, report.samples.size(),
                     report.samples.size() == 1 ? "" : "s", report.records, report.records == 1 ? "" : "s", report.records_used);
  for (const Finding& finding : report.findings) out += fmt::format("  ! {} [{}]\n", finding.message, finding.rule);
  for (const SampleCalls& sample : report.samples) {
    out += fmt::format("\n{}\n", sample.sample);
    for (const AlleleCall& call : sample.calls) {
      const std::string diplotypes = call.candidates.empty() ? std::string("-") : DiplotypesText(call);
      out += fmt::format("  {:<8} {:<10} {}  →  {}\n", call.gene, CallStatusName(call.status), diplotypes, PhenotypeText(knowledge, call));
      for (const Finding& finding : call.findings) out += fmt::format("           - {}\n", finding.message);
    }
    for (const std::string& gene : report.not_called) out += fmt::format("  {:<8} not called from VCF: supply an outside call\n", gene);
  }
  return out;
}

std::string VcfCallsToTsv(const VcfCallReport& report) {
  std::string out = "sample\tgene\tstatus\tdiplotypes\tphenotype\tmissing_positions\tunexplained\n";
  for (const SampleCalls& sample : report.samples) {
    for (const AlleleCall& call : sample.calls) {
      std::string unexplained;
      for (std::size_t index = 0; index < call.unexplained.size(); ++index) unexplained += (index == 0 ? "" : ",") + call.unexplained[index];
      out += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\n", sample.sample, call.gene, CallStatusName(call.status), DiplotypesText(call),
                         call.phenotype ? std::string(PhenotypeKey(*call.phenotype)) : std::string(), PositionsText(call.missing_positions),
                         unexplained);
    }
    for (const std::string& gene : report.not_called) out += fmt::format("{}\t{}\tnot_called_from_vcf\t\t\t\t\n", sample.sample, gene);
  }
  return out;
}

}  // namespace refract::vcf
