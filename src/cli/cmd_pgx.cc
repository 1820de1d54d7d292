// SPDX-License-Identifier: Apache-2.0
// `refract pgx`: genotype → phenotype → CPIC and label guidance, with phenoconversion; VCF calls.
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "refract/app/app.h"
#include "refract/core/interactions.h"
#include "refract/core/pgx.h"
#include "refract/vcf/pgx_vcf.h"

namespace refract::cli {
namespace {

struct PgxArgs {
  std::string gene;
  std::string diplotype;
  std::string activity_score;
  std::string phenotype;
  std::vector<std::string> genotypes;
  std::string vcf;
  std::string sample;
  std::vector<std::string> outside;
  std::vector<std::string> with;
  std::string format = "text";
  std::string kb_dir;
  bool check_kb = false;
};

// Maps a core error location ("genotypes[0]/diplotype") to the option the user typed.
Error OptionError(Error error, const std::string& option) {
  const std::size_t slash = error.location.rfind('/');
  const std::string field = slash == std::string::npos ? std::string() : error.location.substr(slash + 1);
  if (!option.empty()) {
    error.location = option;
  } else if (field == "diplotype") {
    error.location = "--diplotype";
  } else if (field == "activity_score") {
    error.location = "--activity-score";
  } else if (field == "phenotype") {
    error.location = "--phenotype";
  } else if (field == "gene") {
    error.location = "--gene";
  }
  return error;
}

// "CYP2C19=*2/*17", "CYP2D6=1.5" (activity score) or "CYP2D6=poor".
Result<GenotypeEntry> ParseGenotypeOption(const std::string& text, const std::string& option, int index) {
  const std::size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
    return Fail(ErrorCode::InvalidInput, fmt::format("\"{}\" is not GENE=VALUE (for example CYP2C19=*2/*17, CYP2D6=1.5 or CYP2D6=poor)", text), option);
  }
  GenotypeEntry entry;
  entry.input_index = index;
  entry.gene = text.substr(0, equals);
  const std::string value = text.substr(equals + 1);
  if (value.find('*') != std::string::npos) {
    entry.diplotype = value;
  } else if (value.find_first_not_of("0123456789.") == std::string::npos) {
    entry.activity_score = std::stod(value);
  } else {
    entry.phenotype = value;
  }
  return entry;
}

Result<std::vector<PhenoconversionInput>> Inhibitors(const KnowledgeBase& kb, const std::vector<std::string>& names) {
  std::vector<PhenoconversionInput> out;
  if (names.empty()) return out;
  std::vector<std::string> ids;
  for (const std::string& name : names) {
    auto drug = kb.ResolveDrug(name);
    if (!drug) return Fail(drug.error().code, drug.error().message, "--with");
    ids.push_back((*drug)->id);
  }
  auto interactions = LoadInteractionKnowledge(kb);
  if (!interactions) return tl::unexpected<Error>(interactions.error());
  for (const EnzymeInhibition& inhibition : InhibitionsBy(*interactions, ids)) {
    const InhibitorStrength strength = inhibition.strength == PerpetratorStrength::Strong     ? InhibitorStrength::Strong
                                       : inhibition.strength == PerpetratorStrength::Moderate ? InhibitorStrength::Moderate
                                                                                              : InhibitorStrength::Weak;
    out.push_back(PhenoconversionInput{inhibition.drug_id, inhibition.enzyme, strength, inhibition.sources});
  }
  return out;
}

int Print(const std::string& text) {
  std::cout << text;
  return 0;
}

int RunCheck(const KnowledgeBase& kb) {
  const auto problems = CheckPgxKnowledge(kb);
  for (const Error& problem : problems) std::cerr << problem.location << ": " << problem.message << "\n";
  if (!problems.empty()) {
    std::cerr << fmt::format("refract: pgx kb check: {} problem{}\n", problems.size(), problems.size() == 1 ? "" : "s");
    return kExitDataError;
  }
  auto knowledge = LoadPgxKnowledge(kb);
  if (!knowledge) return Report(knowledge.error());
  std::size_t rules = 0;
  for (const PgxDrugRules& drug : knowledge->guidance) rules += drug.rules.size();
  std::cout << fmt::format("pgx kb check: ok: {} genes, {} allele definitions, {} drugs with CPIC guidance ({} rules), {} drug labels\n",
                           knowledge->genes.size(), knowledge->definitions.size(), knowledge->guidance.size(), rules, knowledge->labels.size());
  return 0;
}

int RunVcf(const PgxArgs& args, const KnowledgeBase& kb, const PgxKnowledge& knowledge, const std::vector<PhenoconversionInput>& inhibitors) {
  auto calls = vcf::CallVcf(knowledge, args.vcf, vcf::VcfOptions{args.sample});
  if (!calls) return Report(calls.error());
  if (!args.outside.empty() && calls->samples.size() != 1) {
    return Report(Error{ErrorCode::InvalidInput, "--outside needs --sample when the VCF has several samples", "--outside"});
  }
  const auto& engine = app::Engine();
  if (args.format == "tsv") return Print(vcf::VcfCallsToTsv(*calls));
  if (calls->samples.size() != 1) {
    if (args.format == "json") return Print(vcf::VcfCallsToJson(*calls, knowledge, kb, engine).dump(2) + "\n");
    return Print(vcf::VcfCallsToText(*calls, knowledge, kb, engine));
  }
  // One sample: the calls, any outside calls (CYP2D6) and the guidance that follows from them.
  std::vector<GeneResult> genes;
  for (const AlleleCall& call : calls->samples.front().calls) genes.push_back(GeneResultFromCall(knowledge, call));
  for (std::size_t index = 0; index < args.outside.size(); ++index) {
    auto entry = ParseGenotypeOption(args.outside[index], "--outside", static_cast<int>(index));
    if (!entry) return Report(entry.error());
    entry->source = "outside call";
    auto result = InterpretGenotype(knowledge, *entry, "--outside");
    if (!result) return Report(OptionError(result.error(), "--outside"));
    result->findings.push_back(Finding{"pgx_outside_call", fmt::format("{} from an outside call ({}), not from the VCF", result->gene, result->input),
                                       result->rule, result->sources});
    genes.insert(genes.begin(), std::move(*result));
  }
  const PgxReport report = AssessGeneResults(knowledge, kb, std::move(genes), inhibitors, {});
  if (args.format == "json") {
    nlohmann::json out = vcf::VcfCallsToJson(*calls, knowledge, kb, engine);
    out["report"] = PgxToJson(report, kb, engine);
    return Print(out.dump(2) + "\n");
  }
  return Print(vcf::VcfCallsToText(*calls, knowledge, kb, engine) + "\n" + PgxToText(report, kb, engine));
}

int RunPgx(const PgxArgs& args) {
  auto kb = app::LoadKb(KbDir(args.kb_dir));
  if (!kb) return Report(kb.error());
  if (args.check_kb) return RunCheck(*kb);
  const bool has_value = !args.diplotype.empty() || !args.activity_score.empty() || !args.phenotype.empty();
  if (args.vcf.empty() && args.gene.empty() && args.genotypes.empty()) {
    return Report(Error{ErrorCode::InvalidInput,
                        "give --gene with --diplotype, --activity-score or --phenotype, --genotype GENE=VALUE, or --vcf FILE", "pgx"});
  }
  if (!args.vcf.empty() && (!args.gene.empty() || !args.genotypes.empty())) {
    return Report(Error{ErrorCode::InvalidInput, "give --vcf or --gene/--genotype, not both (use --outside for a CYP2D6 call with --vcf)", "--vcf"});
  }
  if (args.vcf.empty() && (!args.sample.empty() || !args.outside.empty())) {
    return Report(Error{ErrorCode::InvalidInput, fmt::format("{} is for --vcf", args.sample.empty() ? "--outside" : "--sample"),
                        args.sample.empty() ? "--outside" : "--sample"});
  }
  if (!args.gene.empty() && !has_value) {
    return Report(Error{ErrorCode::InvalidInput, "--gene needs --diplotype, --activity-score or --phenotype", "--gene"});
  }
  if (args.gene.empty() && has_value) {
    return Report(Error{ErrorCode::InvalidInput, "--diplotype, --activity-score and --phenotype need --gene", "--gene"});
  }
  auto knowledge = LoadPgxKnowledge(*kb);
  if (!knowledge) return Report(knowledge.error());
  auto inhibitors = Inhibitors(*kb, args.with);
  if (!inhibitors) return Report(inhibitors.error());
  if (!args.vcf.empty()) return RunVcf(args, *kb, *knowledge, *inhibitors);

  std::vector<GenotypeEntry> entries;
  if (!args.gene.empty()) {
    GenotypeEntry entry;
    entry.gene = args.gene;
    entry.diplotype = args.diplotype;
    entry.phenotype = args.phenotype;
    if (!args.activity_score.empty()) {
      std::size_t used = 0;
      double value = 0;
      try {
        value = std::stod(args.activity_score, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != args.activity_score.size()) {
        return Report(Error{ErrorCode::InvalidInput, fmt::format("activity score \"{}\" is not a number", args.activity_score), "--activity-score"});
      }
      entry.activity_score = value;
    }
    entries.push_back(std::move(entry));
  }
  for (std::size_t index = 0; index < args.genotypes.size(); ++index) {
    auto entry = ParseGenotypeOption(args.genotypes[index], "--genotype", static_cast<int>(entries.size()));
    if (!entry) return Report(entry.error());
    entries.push_back(std::move(*entry));
  }
  auto report = AssessPgx(*knowledge, *kb, entries, *inhibitors, {});
  if (!report) return Report(OptionError(report.error(), args.genotypes.empty() ? "" : "--genotype"));
  const auto& engine = app::Engine();
  if (args.format == "json") return Print(PgxToJson(*report, *kb, engine).dump(2) + "\n");
  if (args.format == "tsv") return Print(PgxToTsv(*report));
  return Print(PgxToText(*report, *kb, engine));
}

void AddPgxCommands(CLI::App& app, std::vector<Handler>& handlers) {
  static PgxArgs args;
  auto* pgx = app.add_subcommand("pgx", "pharmacogenomics: genotype or VCF → phenotype → CPIC and label guidance, with phenoconversion");
  pgx->add_option("--gene", args.gene, "gene of the result (CYP2D6, CYP2C19, CYP2B6)");
  pgx->add_option("--diplotype", args.diplotype, "diplotype, e.g. '*1/*4', '*1x2/*4', '*2/*17'");
  pgx->add_option("--activity-score", args.activity_score, "CYP2D6 activity score, e.g. 1.5");
  pgx->add_option("--phenotype", args.phenotype, "phenotype, e.g. poor, 'Intermediate Metabolizer', UM");
  pgx->add_option("--genotype", args.genotypes, "GENE=VALUE (diplotype, CYP2D6 score or phenotype); repeatable, for several genes");
  pgx->add_option("--vcf", args.vcf, "GRCh38 VCF (plain or bgzipped, one or many samples): call CYP2C19 and CYP2B6 per sample");
  pgx->add_option("--sample", args.sample, "call only this sample of the VCF (and give its guidance)");
  pgx->add_option("--outside", args.outside, "GENE=DIPLOTYPE from another caller (CYP2D6), with --vcf for one sample; repeatable");
  pgx->add_option("--with", args.with, "co-medication (any name) whose enzyme inhibition changes the effective phenotype; repeatable");
  pgx->add_option("--format", args.format, "text, json or tsv")->check(CLI::IsMember({"text", "json", "tsv"}));
  pgx->add_option("--kb", args.kb_dir, "use this KB directory");
  pgx->add_flag("--check-kb", args.check_kb, "check the pharmacogenomic KB files (grids, alleles, labels) and exit");
  handlers.push_back(Handler{pgx, [] { return RunPgx(args); }});
}

const RegisterCommands kRegister{&AddPgxCommands};

}  // namespace
}  // namespace refract::cli
