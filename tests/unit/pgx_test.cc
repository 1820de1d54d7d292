// SPDX-License-Identifier: Apache-2.0
// Pharmacogenomics: KB checks, genotype → phenotype, phenoconversion, guidance, history and the
// named-allele matcher. Clinical facts are read from the real kb/; tests never restate the
// numbers the engine reads from it, only the outcomes CPIC defines.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "refract/app/app.h"
#include "refract/core/pgx.h"

namespace refract {
namespace {

const std::filesystem::path kSource = REFRACT_SOURCE_DIR;

std::vector<KbFile> RealKbFiles() {
  auto files = app::ReadKbDirectory(kSource / "kb");
  return files ? *files : std::vector<KbFile>{};
}

const KnowledgeBase& Kb() {
  static const KnowledgeBase kb = [] {
    auto loaded = LoadKnowledgeBase(RealKbFiles(), "kb");
    if (!loaded) {
      std::fprintf(stderr, "kb/ does not load: %s: %s\n", loaded.error().location.c_str(), loaded.error().message.c_str());
      std::abort();
    }
    return std::move(*loaded);
  }();
  return kb;
}

const PgxKnowledge& Pgx() {
  static const PgxKnowledge knowledge = [] {
    auto loaded = LoadPgxKnowledge(Kb());
    if (!loaded) {
      std::fprintf(stderr, "kb/pgx does not load: %s: %s\n", loaded.error().location.c_str(), loaded.error().message.c_str());
      std::abort();
    }
    return std::move(*loaded);
  }();
  return knowledge;
}

GenotypeEntry Diplotype(std::string gene, std::string diplotype) {
  GenotypeEntry entry;
  entry.gene = std::move(gene);
  entry.diplotype = std::move(diplotype);
  return entry;
}

GeneResult Interpret(const GenotypeEntry& entry) {
  auto result = InterpretGenotype(Pgx(), entry, "genotypes[0]");
  EXPECT_TRUE(result) << (result ? "" : result.error().message);
  return result ? *result : GeneResult{};
}

std::string Key(const std::optional<Phenotype>& phenotype) { return phenotype ? std::string(PhenotypeKey(*phenotype)) : "not tested"; }

bool HasFinding(const std::vector<Finding>& findings, std::string_view code) {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& finding) { return finding.code == code; });
}

const Finding* FindFinding(const std::vector<Finding>& findings, std::string_view code) {
  for (const Finding& finding : findings) {
    if (finding.code == code) return &finding;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// KB
// ---------------------------------------------------------------------------------------------

TEST(PgxKnowledge, RealKbIsConsistent) {
  const auto problems = CheckPgxKnowledge(Kb());
  for (const Error& problem : problems) ADD_FAILURE() << problem.location << ": " << problem.message;
  EXPECT_EQ(Pgx().genes.size(), 3U);
  EXPECT_NE(Pgx().FindDefinition("CYP2C19"), nullptr);
  EXPECT_EQ(Pgx().FindDefinition("CYP2D6"), nullptr) << "CYP2D6 is an outside call only";
  EXPECT_NE(Pgx().FindGuidance("drug.sertraline"), nullptr);
  EXPECT_NE(Pgx().FindLabel("drug.aripiprazole"), nullptr);
}

// Applies one textual change to a KB file and returns the pgx problems of the result.
std::vector<Error> ProblemsAfter(const std::string& path, const std::string& from, const std::string& to) {
  auto files = RealKbFiles();
  bool replaced = false;
  for (KbFile& file : files) {
    if (file.path != path) continue;
    const auto at = file.content.find(from);
    if (at == std::string::npos) break;
    file.content.replace(at, from.size(), to);
    replaced = true;
  }
  EXPECT_TRUE(replaced) << from << " not found in " << path;
  auto kb = LoadKnowledgeBase(files, "test");
  EXPECT_TRUE(kb) << (kb ? "" : kb.error().message);
  return kb ? CheckPgxKnowledge(*kb) : std::vector<Error>{};
}

TEST(PgxKnowledge, FindsAGapInAGuidanceGrid) {
  const auto problems = ProblemsAfter("pgx/guidance/paroxetine.json", "\"phenotypes\": [\n            \"ultrarapid\"\n          ]",
                                      "\"phenotypes\": [\n            \"poor\"\n          ]");
  ASSERT_FALSE(problems.empty());
  EXPECT_EQ(problems[0].message, "no rule covers CYP2D6 ultrarapid");
  EXPECT_EQ(problems[0].location, "kb/pgx/guidance/paroxetine.json#/rules");
  EXPECT_EQ(problems[1].message, "rules pgx.guidance.paroxetine.pm and pgx.guidance.paroxetine.um both cover CYP2D6 poor");
}

TEST(PgxKnowledge, FindsAnActivityValueMissingFromAScoredAllele) {
  const auto problems = ProblemsAfter("pgx/genes/cyp2d6.json", "\"name\": \"*2\",\n      \"function\": \"normal\",\n      \"activity_value\": 1\n",
                                      "\"name\": \"*2\",\n      \"function\": \"normal\"\n");
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].message, "allele *2 has normal function but no activity value");
  EXPECT_EQ(problems[0].location, "kb/pgx/genes/cyp2d6.json#/alleles/1");
}

TEST(PgxKnowledge, FindsADefinitionOfAnAlleleWithoutFunction) {
  const auto problems = ProblemsAfter("pgx/definitions/cyp2c19.json", "\"name\": \"*39\"", "\"name\": \"*99\"");
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].message, "CYP2C19*99 has no function in the gene file");
}

TEST(PgxKnowledge, FindsAPhenotypeTheGeneDoesNotUse) {
  const auto problems = ProblemsAfter("pgx/labels/vortioxetine.json", "\"phenotypes\": [\n        \"poor\"\n      ]",
                                      "\"phenotypes\": [\n        \"rapid\"\n      ]");
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].message, "CYP2D6 has no phenotype \"rapid\"");
  EXPECT_EQ(problems[0].location, "kb/pgx/labels/vortioxetine.json#/statements/0/phenotypes/0");
}

TEST(PgxKnowledge, LoadFailsWithTheFirstProblemAndTheCount) {
  auto files = RealKbFiles();
  for (KbFile& file : files) {
    if (file.path == "pgx/guidance/venlafaxine.json") file.content.replace(file.content.find("\"action\": \"none\""), 16, "\"action\": \"avoid\"");
  }
  auto kb = LoadKnowledgeBase(files, "test");
  ASSERT_TRUE(kb);
  auto knowledge = LoadPgxKnowledge(*kb);
  ASSERT_FALSE(knowledge);
  EXPECT_EQ(knowledge.error().message, "a rule has action \"none\" exactly when its strength is \"no_recommendation\"");
  EXPECT_EQ(knowledge.error().location, "kb/pgx/guidance/venlafaxine.json#/rules/1");
}

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

TEST(PgxPhenotype, ParsesKeysTermsAndAbbreviations) {
  EXPECT_EQ(ParsePhenotype("poor"), Phenotype::Poor);
  EXPECT_EQ(ParsePhenotype("Poor Metabolizer"), Phenotype::Poor);
  EXPECT_EQ(ParsePhenotype("CYP2C19 Likely Intermediate Metabolizer"), Phenotype::LikelyIntermediate);
  EXPECT_EQ(ParsePhenotype("likely-poor"), Phenotype::LikelyPoor);
  EXPECT_EQ(ParsePhenotype("UM"), Phenotype::Ultrarapid);
  EXPECT_EQ(ParsePhenotype("ultra rapid metaboliser"), std::nullopt);
  EXPECT_EQ(ParsePhenotype("Ultrarapid Metaboliser"), Phenotype::Ultrarapid);
  EXPECT_EQ(ParsePhenotype("fast"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Genotype → phenotype
// ---------------------------------------------------------------------------------------------

struct DiplotypeCase {
  const char* gene;
  const char* diplotype;
  const char* phenotype;
  double score;  // negative: no score
};

class DiplotypePhenotype : public testing::TestWithParam<DiplotypeCase> {};

TEST_P(DiplotypePhenotype, FollowsCpic) {
  const auto& param = GetParam();
  const GeneResult result = Interpret(Diplotype(param.gene, param.diplotype));
  EXPECT_EQ(Key(result.phenotype), param.phenotype) << param.gene << " " << param.diplotype;
  if (param.score >= 0) {
    ASSERT_TRUE(result.activity_score);
    EXPECT_DOUBLE_EQ(result.activity_score->low, param.score);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cpic, DiplotypePhenotype,
    testing::Values(DiplotypeCase{"CYP2D6", "*1/*1", "normal", 2}, DiplotypeCase{"CYP2D6", "*1/*4", "intermediate", 1},
                    DiplotypeCase{"CYP2D6", "*1x2/*4", "normal", 2}, DiplotypeCase{"CYP2D6", "*1/*1x2", "ultrarapid", 3},
                    DiplotypeCase{"CYP2D6", "*1/*41", "normal", 1.25}, DiplotypeCase{"CYP2D6", "*4/*41", "intermediate", 0.25},
                    DiplotypeCase{"CYP2D6", "*4/*5", "poor", 0}, DiplotypeCase{"CYP2D6", "*10/*10", "intermediate", 0.5},
                    DiplotypeCase{"CYP2D6", "*1x2/*17", "ultrarapid", 2.5}, DiplotypeCase{"CYP2D6", "*41x3/*1", "normal", 1.75},
                    DiplotypeCase{"CYP2D6", "*4xN/*4", "poor", 0}, DiplotypeCase{"CYP2D6", "*36+*10/*4", "intermediate", 0.25},
                    DiplotypeCase{"CYP2D6", "*22/*1", "indeterminate", -1}, DiplotypeCase{"CYP2C19", "*1/*1", "normal", -1},
                    DiplotypeCase{"CYP2C19", "*38/*38", "normal", -1}, DiplotypeCase{"CYP2C19", "*1/*17", "rapid", -1},
                    DiplotypeCase{"CYP2C19", "*17/*17", "ultrarapid", -1}, DiplotypeCase{"CYP2C19", "*2/*17", "intermediate", -1},
                    DiplotypeCase{"CYP2C19", "*1/*9", "likely_intermediate", -1}, DiplotypeCase{"CYP2C19", "*2/*9", "likely_poor", -1},
                    DiplotypeCase{"CYP2C19", "*2/*3", "poor", -1}, DiplotypeCase{"CYP2C19", "*1/*12", "indeterminate", -1},
                    DiplotypeCase{"CYP2B6", "*1/*1", "normal", -1}, DiplotypeCase{"CYP2B6", "*1/*4", "rapid", -1},
                    DiplotypeCase{"CYP2B6", "*4/*4", "ultrarapid", -1}, DiplotypeCase{"CYP2B6", "*1/*6", "intermediate", -1},
                    DiplotypeCase{"CYP2B6", "*6/*6", "poor", -1}, DiplotypeCase{"CYP2B6", "*6/*18", "poor", -1},
                    DiplotypeCase{"CYP2B6", "*1/*22", "indeterminate", -1}));

TEST(PgxGenotype, CopyNumberAboveTwoIsALowerBound) {
  const GeneResult result = Interpret(Diplotype("CYP2D6", "*1x≥3/*4"));
  EXPECT_EQ(Key(result.phenotype), "ultrarapid");
  ASSERT_TRUE(result.activity_score);
  EXPECT_TRUE(result.activity_score->IsOpen());
  EXPECT_EQ(result.diplotype, "*1x≥3/*4");
  EXPECT_EQ(Key(Interpret(Diplotype("CYP2D6", "*1x>=3/*4")).phenotype), "ultrarapid");
}

TEST(PgxGenotype, UnknownCopyNumberThatChangesThePhenotypeIsIndeterminate) {
  const GeneResult result = Interpret(Diplotype("CYP2D6", "*1xN/*4"));
  EXPECT_EQ(Key(result.phenotype), "indeterminate");
  const Finding* finding = FindFinding(result.findings, "pgx_copy_number_unknown");
  ASSERT_NE(finding, nullptr);
  EXPECT_EQ(finding->message,
            "CYP2D6 *1xN/*4: activity score ≥2 spans Normal Metabolizer and more; give the copy number (x2 or x≥3) to assign a phenotype");
  EXPECT_EQ(finding->rule, "pgx.rule.cyp2d6.activity_score");
}

TEST(PgxGenotype, UnknownAlleleIsIndeterminateNotAnError) {
  const GeneResult result = Interpret(Diplotype("CYP2C19", "*1/*99"));
  EXPECT_EQ(Key(result.phenotype), "indeterminate");
  const Finding* finding = FindFinding(result.findings, "pgx_unknown_allele");
  ASSERT_NE(finding, nullptr);
  EXPECT_EQ(finding->message, "CYP2C19*99 is not in CPIC's allele function table: phenotype indeterminate");
}

TEST(PgxGenotype, SubAllelesAndLegacySuffixesUseTheCoreAllele) {
  const GeneResult result = Interpret(Diplotype("CYP2D6", "*2.001/*4A"));
  EXPECT_EQ(result.diplotype, "*2/*4");
  EXPECT_EQ(Key(result.phenotype), "intermediate");
  EXPECT_TRUE(HasFinding(result.findings, "pgx_suballele"));
}

TEST(PgxGenotype, CopyNumberOfAFunctionPairGeneIsNotCharacterised) {
  const GeneResult result = Interpret(Diplotype("CYP2C19", "*1x2/*2"));
  EXPECT_EQ(Key(result.phenotype), "indeterminate");
  const Finding* finding = FindFinding(result.findings, "pgx_structure_unsupported");
  ASSERT_NE(finding, nullptr);
  EXPECT_EQ(finding->message, "CYP2C19 copy-number variants (*1x2) are not characterised by CPIC: phenotype indeterminate");
}

TEST(PgxGenotype, ActivityScoreAndPhenotypeInputs) {
  GenotypeEntry score;
  score.gene = "CYP2D6";
  score.activity_score = 1.0;
  EXPECT_EQ(Key(Interpret(score).phenotype), "intermediate");
  score.activity_score = 2.5;
  EXPECT_EQ(Key(Interpret(score).phenotype), "ultrarapid");
  GenotypeEntry phenotype;
  phenotype.gene = "CYP2C19";
  phenotype.phenotype = "Poor Metabolizer";
  EXPECT_EQ(Key(Interpret(phenotype).phenotype), "poor");
}

TEST(PgxGenotype, OldLabPhenotypeThatDisagreesIsReported) {
  GenotypeEntry entry = Diplotype("CYP2D6", "*1/*4");
  entry.phenotype = "normal";
  entry.activity_score = 1.5;
  const GeneResult result = Interpret(entry);
  EXPECT_EQ(Key(result.phenotype), "intermediate");
  ASSERT_NE(FindFinding(result.findings, "pgx_phenotype_mismatch"), nullptr);
  EXPECT_EQ(FindFinding(result.findings, "pgx_score_mismatch")->message,
            "reported activity score 1.5 differs from 1 computed from *1/*4 with current CPIC values; the computed score is used");
}

TEST(PgxGenotype, InputErrorsNameTheProblem) {
  auto bad = InterpretGenotype(Pgx(), Diplotype("CYP2D6", "*1-*4"), "genotypes[2]");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "diplotype \"*1-*4\" is not of the form *A/*B (for example *1/*4, *1x2/*4 or *36+*10/*4)");
  EXPECT_EQ(bad.error().location, "genotypes[2]/diplotype");
  auto gene = InterpretGenotype(Pgx(), Diplotype("CYP2D7", "*1/*1"), "genotypes[0]");
  ASSERT_FALSE(gene);
  EXPECT_EQ(gene.error().message, "gene \"CYP2D7\" is not covered (did you mean \"CYP2D6\"?)");
  GenotypeEntry rapid;
  rapid.gene = "CYP2D6";
  rapid.phenotype = "rapid";
  auto phenotype = InterpretGenotype(Pgx(), rapid, "genotypes[0]");
  ASSERT_FALSE(phenotype);
  EXPECT_EQ(phenotype.error().message, "CYP2D6 has no phenotype \"rapid\" (expected one of: ultrarapid, normal, intermediate, poor, indeterminate)");
  GenotypeEntry score;
  score.gene = "CYP2B6";
  score.activity_score = 1;
  auto no_score = InterpretGenotype(Pgx(), score, "genotypes[0]");
  ASSERT_FALSE(no_score);
  EXPECT_EQ(no_score.error().message, "an activity score is defined for CYP2D6 only, not for CYP2B6");
}

// ---------------------------------------------------------------------------------------------
// Phenoconversion (worked examples of the method note, with current CPIC allele values)
// ---------------------------------------------------------------------------------------------

PhenoconversionInput Inhibitor(std::string drug, std::string enzyme, InhibitorStrength strength) {
  return PhenoconversionInput{std::move(drug), std::move(enzyme), strength, {}};
}

GeneResult Converted(const GenotypeEntry& entry, std::vector<PhenoconversionInput> inhibitors) {
  GeneResult result = Interpret(entry);
  ApplyPhenoconversion(Pgx(), Kb(), inhibitors, result);
  return result;
}

struct ConversionCase {
  const char* diplotype;
  const char* drug;
  InhibitorStrength strength;
  double effective_score;
  const char* effective_phenotype;
};

class Cyp2d6Phenoconversion : public testing::TestWithParam<ConversionCase> {};

TEST_P(Cyp2d6Phenoconversion, MultipliesTheScoreByTheStrongestInhibitor) {
  const auto& param = GetParam();
  const GeneResult result = Converted(Diplotype("CYP2D6", param.diplotype), {Inhibitor(param.drug, "CYP2D6", param.strength)});
  ASSERT_TRUE(result.effective_activity_score);
  EXPECT_DOUBLE_EQ(result.effective_activity_score->low, param.effective_score);
  EXPECT_EQ(Key(result.effective_phenotype), param.effective_phenotype);
}

INSTANTIATE_TEST_SUITE_P(MethodNote, Cyp2d6Phenoconversion,
                         testing::Values(ConversionCase{"*1/*1", "drug.paroxetine", InhibitorStrength::Strong, 0, "poor"},
                                         ConversionCase{"*1/*2", "drug.duloxetine", InhibitorStrength::Moderate, 1.0, "intermediate"},
                                         ConversionCase{"*1/*4", "drug.duloxetine", InhibitorStrength::Moderate, 0.5, "intermediate"},
                                         ConversionCase{"*1/*41", "drug.duloxetine", InhibitorStrength::Moderate, 0.625, "intermediate"},
                                         ConversionCase{"*1/*1x2", "drug.bupropion", InhibitorStrength::Strong, 0, "poor"},
                                         ConversionCase{"*1/*1", "drug.sertraline", InhibitorStrength::Weak, 2, "normal"},
                                         ConversionCase{"*4/*4", "drug.fluoxetine", InhibitorStrength::Strong, 0, "poor"}));

TEST(PgxPhenoconversion, ReportsGenotypeEffectivePhenotypeAndTheDrug) {
  const GeneResult result = Converted(Diplotype("CYP2D6", "*1/*1"), {Inhibitor("drug.paroxetine", "CYP2D6", InhibitorStrength::Strong)});
  EXPECT_EQ(Key(result.phenotype), "normal");
  EXPECT_TRUE(result.phenoconverted);
  ASSERT_EQ(result.inhibitors.size(), 1U);
  EXPECT_TRUE(result.inhibitors[0].deciding);
  EXPECT_EQ(result.inhibitors[0].drug_name, "paroxetine");
  const Finding* finding = FindFinding(result.findings, "pgx_phenoconversion");
  ASSERT_NE(finding, nullptr);
  EXPECT_EQ(finding->message,
            "CYP2D6 genotype Normal Metabolizer (activity score 2); effective Poor Metabolizer (activity score 0) while taking paroxetine "
            "(strong CYP2D6 inhibitor)");
  EXPECT_EQ(finding->rule, "pgx.rule.phenoconversion.cyp2d6");
}

TEST(PgxPhenoconversion, TheStrongestInhibitorDecidesAndTheAssumptionIsStated) {
  const GeneResult result = Converted(Diplotype("CYP2D6", "*1/*1"), {Inhibitor("drug.duloxetine", "CYP2D6", InhibitorStrength::Moderate),
                                                                     Inhibitor("drug.bupropion", "CYP2D6", InhibitorStrength::Strong)});
  EXPECT_EQ(Key(result.effective_phenotype), "poor");
  EXPECT_EQ(result.inhibitors.front().drug_id, "drug.bupropion");
  EXPECT_NE(FindFinding(result.findings, "pgx_phenoconversion")->message.find("2 inhibitors: the strongest decides"), std::string::npos);
}

TEST(PgxPhenoconversion, UntestedGeneBecomesPoorMetabolizerLikeWithAStrongInhibitor) {
  GeneResult untested;
  untested.gene = "CYP2D6";
  const std::vector<PhenoconversionInput> inhibitors = {Inhibitor("drug.paroxetine", "CYP2D6", InhibitorStrength::Strong)};
  ApplyPhenoconversion(Pgx(), Kb(), inhibitors, untested);
  EXPECT_FALSE(untested.phenotype);
  EXPECT_EQ(Key(untested.effective_phenotype), "poor");
}

TEST(PgxPhenoconversion, PhenotypeOnlyInputIsConvertedOverItsScoreRange) {
  GenotypeEntry normal;
  normal.gene = "CYP2D6";
  normal.phenotype = "normal";
  EXPECT_EQ(Key(Converted(normal, {Inhibitor("drug.duloxetine", "CYP2D6", InhibitorStrength::Moderate)}).effective_phenotype), "intermediate");
  GenotypeEntry ultrarapid;
  ultrarapid.gene = "CYP2D6";
  ultrarapid.phenotype = "ultrarapid";
  const GeneResult result = Converted(ultrarapid, {Inhibitor("drug.duloxetine", "CYP2D6", InhibitorStrength::Moderate)});
  EXPECT_EQ(Key(result.effective_phenotype), "indeterminate");
  EXPECT_EQ(FindFinding(result.findings, "pgx_phenoconversion_range")->message,
            "effective CYP2D6 activity score ≥1.25 spans Normal Metabolizer to Ultrarapid Metabolizer");
}

TEST(PgxPhenoconversion, Cyp2c19ShiftIsARefractConvention) {
  const GeneResult moderate = Converted(Diplotype("CYP2C19", "*1/*1"), {Inhibitor("drug.omeprazole", "CYP2C19", InhibitorStrength::Moderate)});
  EXPECT_EQ(Key(moderate.effective_phenotype), "intermediate");
  EXPECT_EQ(moderate.phenoconversion_status, "refract_convention");
  EXPECT_NE(FindFinding(moderate.findings, "pgx_phenoconversion")->message.find("(refract convention, not CPIC)"), std::string::npos);
  const GeneResult strong = Converted(Diplotype("CYP2C19", "*1/*17"), {Inhibitor("drug.fluvoxamine", "CYP2C19", InhibitorStrength::Strong)});
  EXPECT_EQ(Key(strong.effective_phenotype), "poor");
}

TEST(PgxPhenoconversion, Cyp2b6InhibitorsAreListedOnly) {
  const GeneResult result = Converted(Diplotype("CYP2B6", "*1/*1"), {Inhibitor("drug.ticlopidine", "CYP2B6", InhibitorStrength::Strong)});
  EXPECT_EQ(Key(result.effective_phenotype), "normal");
  EXPECT_FALSE(result.phenoconverted);
  EXPECT_TRUE(HasFinding(result.findings, "pgx_inhibitor_listed"));
}

// ---------------------------------------------------------------------------------------------
// Guidance
// ---------------------------------------------------------------------------------------------

PgxReport Assess(std::vector<GenotypeEntry> genotypes, std::vector<PhenoconversionInput> inhibitors = {},
                 std::vector<TrialAssessment> trials = {}) {
  for (std::size_t index = 0; index < genotypes.size(); ++index) genotypes[index].input_index = static_cast<int>(index);
  auto report = AssessPgx(Pgx(), Kb(), genotypes, inhibitors, trials);
  EXPECT_TRUE(report) << (report ? "" : report.error().message);
  return report ? *report : PgxReport{};
}

const DrugGuidance* Drug(const PgxReport& report, std::string_view name) {
  for (const DrugGuidance& drug : report.drugs) {
    if (drug.drug_name == name) return &drug;
  }
  return nullptr;
}

TEST(PgxGuidance, CitalopramInAPoorMetabolizerHasCpicAndTheLabelCap) {
  const PgxReport report = Assess({Diplotype("CYP2C19", "*2/*2")});
  const DrugGuidance* citalopram = Drug(report, "citalopram");
  ASSERT_NE(citalopram, nullptr);
  ASSERT_EQ(citalopram->cpic.size(), 1U);
  EXPECT_EQ(citalopram->cpic[0].rule, "pgx.guidance.citalopram.pm");
  EXPECT_EQ(citalopram->cpic[0].strength, RecommendationStrength::Strong);
  EXPECT_EQ(citalopram->cpic[0].action, GuidanceAction::Alternative);
  ASSERT_EQ(citalopram->label.size(), 1U);
  EXPECT_EQ(citalopram->label[0].statement, "pgx.label.citalopram.cyp2c19_poor");
  EXPECT_EQ(citalopram->label[0].triggered_by, "CYP2C19 Poor Metabolizer (genotype)");
  EXPECT_EQ(Drug(report, "vortioxetine"), nullptr) << "CYP2D6 drugs are not covered when only CYP2C19 was tested";
}

TEST(PgxGuidance, EveryCoveredDrugOfTheGeneIsListed) {
  const PgxReport report = Assess({Diplotype("CYP2D6", "*4/*4")});
  std::vector<std::string> names;
  for (const DrugGuidance& drug : report.drugs) names.push_back(drug.drug_name);
  const std::vector<std::string> expected = {"amitriptyline", "aripiprazole", "brexpiprazole", "clomipramine", "desipramine", "doxepin", "fluvoxamine",
                                             "imipramine", "nortriptyline", "paroxetine", "trimipramine", "venlafaxine", "vortioxetine"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(Drug(report, "aripiprazole")->label.at(0).statement, "pgx.label.aripiprazole.cyp2d6_poor");
  EXPECT_EQ(Drug(report, "vortioxetine")->label.at(0).max_dose_mg_per_day, 10);
}

TEST(PgxGuidance, ActivityScoreChoosesTheNortriptylineCell) {
  GenotypeEntry low;
  low.gene = "CYP2D6";
  low.activity_score = 0.5;
  EXPECT_EQ(Drug(Assess({low}), "nortriptyline")->cpic.at(0).rule, "pgx.guidance.nortriptyline.im_low");
  GenotypeEntry high;
  high.gene = "CYP2D6";
  high.activity_score = 1.0;
  EXPECT_EQ(Drug(Assess({high}), "nortriptyline")->cpic.at(0).rule, "pgx.guidance.nortriptyline.im_high");
  GenotypeEntry phenotype;
  phenotype.gene = "CYP2D6";
  phenotype.phenotype = "intermediate";
  const PgxReport report = Assess({phenotype});
  const DrugGuidance* both = Drug(report, "nortriptyline");
  ASSERT_EQ(both->cpic.size(), 2U);
  EXPECT_TRUE(HasFinding(both->findings, "pgx_score_decides"));
}

TEST(PgxGuidance, TwoGeneDrugsUseBothGenes) {
  const PgxReport report = Assess({Diplotype("CYP2D6", "*1/*1"), Diplotype("CYP2C19", "*2/*2")});
  EXPECT_EQ(Drug(report, "amitriptyline")->cpic.at(0).rule, "pgx.guidance.amitriptyline.d6nm_c19pm");
  EXPECT_EQ(Drug(report, "nortriptyline")->cpic.at(0).rule, "pgx.guidance.nortriptyline.nm");
  EXPECT_EQ(Drug(report, "sertraline")->cpic.at(0).rule, "pgx.guidance.sertraline.c19pm_b6untested");
}

TEST(PgxGuidance, PhenoconvertedGuidanceShowsTheGenotypeRecommendationToo) {
  const PgxReport report = Assess({Diplotype("CYP2D6", "*1/*1")}, {Inhibitor("drug.paroxetine", "CYP2D6", InhibitorStrength::Strong)});
  const DrugGuidance* vortioxetine = Drug(report, "vortioxetine");
  ASSERT_NE(vortioxetine, nullptr);
  EXPECT_EQ(vortioxetine->cpic.at(0).rule, "pgx.guidance.vortioxetine.pm");
  EXPECT_EQ(vortioxetine->genotype_only.at(0).rule, "pgx.guidance.vortioxetine.nm");
  ASSERT_EQ(vortioxetine->label.size(), 1U);
  EXPECT_EQ(vortioxetine->label[0].statement, "pgx.label.vortioxetine.cyp2d6_strong_inhibitor");
  EXPECT_EQ(vortioxetine->label[0].triggered_by, "paroxetine (strong CYP2D6 inhibitor)");
  EXPECT_TRUE(vortioxetine->basis.at(0).effective);
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

TrialAssessment Trial(int index, const char* drug_id, Outcome outcome, std::optional<bool> failed, std::optional<double> dose) {
  TrialAssessment trial;
  trial.index = index;
  trial.drug = Kb().FindDrug(drug_id);
  EXPECT_NE(trial.drug, nullptr) << drug_id;
  trial.outcome = outcome;
  trial.failed = failed;
  trial.max_dose_mg_per_day = dose;
  return trial;
}

TEST(PgxHistory, FailureInAFastMetabolizerMayBePharmacokinetic) {
  const PgxReport report = Assess({Diplotype("CYP2C19", "*17/*17")}, {}, {Trial(1, "drug.escitalopram", Outcome::Nonresponse, true, 20)});
  ASSERT_EQ(report.history.size(), 1U);
  EXPECT_EQ(report.history[0].code, "pgx_possible_pseudo_resistance");
  EXPECT_EQ(report.history[0].rule, "pgx.history.lower_exposure");
  EXPECT_EQ(report.history[0].message,
            "trial 1: escitalopram 20 mg/day failed in a CYP2C19 ultrarapid metabolizer (*17/*17): faster metabolism lowers drug exposure at "
            "ordinary doses, so the failure may be pharmacokinetic (pseudo-resistance) rather than true non-response. CPIC (strong): Consider an "
            "alternative antidepressant not predominantly metabolized by CYP2C19. If citalopram or escitalopram is used and efficacy is inadequate "
            "at the usual maintenance dose, titrate to a higher maintenance dose.");
}

TEST(PgxHistory, NoFindingWhereCpicRecommendsStandardDosing) {
  const PgxReport report = Assess({Diplotype("CYP2C19", "*1/*17")}, {}, {Trial(1, "drug.sertraline", Outcome::Nonresponse, true, 150)});
  EXPECT_TRUE(report.history.empty());
}

TEST(PgxHistory, IntoleranceInASlowMetabolizerAndALabelCapExceeded) {
  const PgxReport report = Assess({Diplotype("CYP2C19", "*2/*2")}, {}, {Trial(2, "drug.citalopram", Outcome::Intolerance, false, 40)});
  ASSERT_EQ(report.history.size(), 2U);
  EXPECT_EQ(report.history[0].code, "pgx_possible_pk_intolerance");
  EXPECT_EQ(report.history[1].code, "pgx_label_dose_exceeded");
  EXPECT_EQ(report.history[1].message,
            "trial 2: citalopram reached 40 mg/day in a CYP2C19 poor metabolizer (*2/*2): above the label maximum of 20 mg/day for this genotype");
}

TEST(PgxHistory, LabelOnlyDrugIntoleranceInAPoorMetabolizer) {
  const PgxReport report = Assess({Diplotype("CYP2D6", "*4/*4")}, {}, {Trial(3, "drug.aripiprazole", Outcome::Intolerance, false, 10)});
  ASSERT_EQ(report.history.size(), 1U);
  EXPECT_EQ(report.history[0].code, "pgx_possible_pk_intolerance");
  EXPECT_EQ(report.history[0].rule, "pgx.history.higher_exposure");
  EXPECT_EQ(report.history[0].message.substr(0, 78), "trial 3: aripiprazole 10 mg/day was not tolerated in a CYP2D6 poor metabolizer");
}

TEST(PgxHistory, TestingIsSuggestedWhenNothingWorks) {
  const PgxReport report = Assess({}, {},
                                  {Trial(1, "drug.escitalopram", Outcome::Nonresponse, true, 20), Trial(2, "drug.sertraline", Outcome::Nonresponse, true, 150),
                                   Trial(3, "drug.bupropion", Outcome::Nonresponse, true, 300)});
  ASSERT_TRUE(report.testing);
  EXPECT_EQ(report.testing->rule, "pgx.history.testing");
  EXPECT_EQ(report.testing->message,
            "Pharmacogenomic testing may explain this history and guide the next choice: 2 failed adequate trials (escitalopram 20 mg/day, "
            "sertraline 150 mg/day) of drugs with CPIC genotype guidance; not tested: CYP2C19");
}

TEST(PgxHistory, TestingIsSuggestedWhenNothingIsTolerated) {
  const PgxReport report = Assess({Diplotype("CYP2C19", "*1/*1")}, {},
                                  {Trial(1, "drug.paroxetine", Outcome::Intolerance, false, 20), Trial(2, "drug.venlafaxine", Outcome::Intolerance, false, 75)});
  ASSERT_TRUE(report.testing);
  EXPECT_NE(report.testing->message.find("2 trials stopped for intolerance at ordinary doses (paroxetine 20 mg/day, venlafaxine 75 mg/day)"),
            std::string::npos);
  EXPECT_NE(report.testing->message.find("not tested: CYP2D6"), std::string::npos);
}

TEST(PgxHistory, NoTestingSuggestionOnceTested) {
  const PgxReport report = Assess({Diplotype("CYP2C19", "*1/*1"), Diplotype("CYP2B6", "*1/*1")}, {},
                                  {Trial(1, "drug.escitalopram", Outcome::Nonresponse, true, 20), Trial(2, "drug.sertraline", Outcome::Nonresponse, true, 150)});
  EXPECT_FALSE(report.testing);
}

// ---------------------------------------------------------------------------------------------
// Named-allele matcher
// ---------------------------------------------------------------------------------------------

class Genotypes {
 public:
  explicit Genotypes(const char* gene) : definition_(*Pgx().FindDefinition(gene)) {
    for (const auto& position : definition_.positions) {
      const BaseMask reference = BaseMaskOf(position.ref);
      row_.push_back(PositionGenotype{reference, reference, false});
    }
  }
  Genotypes& Set(std::uint32_t position, char first, char second, bool phased = false) {
    row_.at(Index(position)) = PositionGenotype{BaseMaskOf(first), BaseMaskOf(second), phased};
    return *this;
  }
  Genotypes& Missing(std::uint32_t position) {
    row_.at(Index(position)) = PositionGenotype{};
    return *this;
  }
  [[nodiscard]] const std::vector<PositionGenotype>& row() const { return row_; }

 private:
  std::size_t Index(std::uint32_t position) const {
    for (std::size_t index = 0; index < definition_.positions.size(); ++index) {
      if (definition_.positions[index].position == position) return index;
    }
    ADD_FAILURE() << position << " is not a definition position";
    return 0;
  }
  const PgxDefinition& definition_;
  std::vector<PositionGenotype> row_;
};

AlleleCall Call(const char* gene, const Genotypes& genotypes) {
  auto matcher = AlleleMatcher::Build(Pgx(), gene);
  EXPECT_TRUE(matcher);
  return matcher ? matcher->Call(genotypes.row()) : AlleleCall{};
}

std::vector<std::string> Diplotypes(const AlleleCall& call) {
  std::vector<std::string> out;
  for (const DiplotypeCandidate& candidate : call.candidates) out.push_back(candidate.first + "/" + candidate.second);
  return out;
}

// GRCh38 CYP2C19 positions named in CPIC's definition table.
constexpr std::uint32_t kRs12248560 = 94761900;  // *17 (and *4)
constexpr std::uint32_t kRs28399504 = 94762706;  // *4
constexpr std::uint32_t kRs4244285 = 94781859;   // *2
constexpr std::uint32_t kRs12769205 = 94775367;  // *2, *35
constexpr std::uint32_t kRs3758581 = 94842866;   // *1 and most named alleles

TEST(PgxMatcher, AllReferenceIsStar38OnGrch38) {
  const AlleleCall call = Call("CYP2C19", Genotypes("CYP2C19"));
  EXPECT_EQ(call.status, CallStatus::Called);
  EXPECT_EQ(Diplotypes(call), std::vector<std::string>{"*38/*38"});
  EXPECT_EQ(Key(call.phenotype), "normal");
}

TEST(PgxMatcher, CallsStar1Star17) {
  const AlleleCall call = Call("CYP2C19", Genotypes("CYP2C19").Set(kRs3758581, 'G', 'G').Set(kRs12248560, 'C', 'T'));
  EXPECT_EQ(Diplotypes(call), std::vector<std::string>{"*1/*17"});
  EXPECT_EQ(Key(call.phenotype), "rapid");
}

TEST(PgxMatcher, UnphasedHeterozygotesTryEveryPhasing) {
  const AlleleCall call = Call("CYP2C19", Genotypes("CYP2C19").Set(kRs3758581, 'G', 'G').Set(kRs12248560, 'C', 'T').Set(kRs28399504, 'A', 'G'));
  EXPECT_EQ(call.status, CallStatus::Called);
  EXPECT_EQ(Diplotypes(call), (std::vector<std::string>{"*1/*4", "*4/*17"}));
  EXPECT_EQ(Key(call.phenotype), "intermediate");
  EXPECT_TRUE(call.unphased);
  EXPECT_EQ(FindFinding(call.findings, "pgx_vcf_ambiguous_same_phenotype")->message,
            "unphased heterozygous positions fit 2 diplotypes: *1/*4 (Intermediate Metabolizer), *4/*17 (Intermediate Metabolizer); all give the same "
            "phenotype");
}

TEST(PgxMatcher, PhasedHeterozygotesGiveOneDiplotype) {
  const AlleleCall call =
      Call("CYP2C19", Genotypes("CYP2C19").Set(kRs3758581, 'G', 'G', true).Set(kRs12248560, 'T', 'C', true).Set(kRs28399504, 'A', 'G', true));
  EXPECT_EQ(Diplotypes(call), std::vector<std::string>{"*4/*17"});
}

TEST(PgxMatcher, MissingKeyPositionIsNeverTakenAsReference) {
  const AlleleCall call = Call("CYP2C19", Genotypes("CYP2C19").Set(kRs3758581, 'G', 'G').Missing(kRs12248560));
  EXPECT_EQ(call.status, CallStatus::Ambiguous);
  EXPECT_EQ(Diplotypes(call), (std::vector<std::string>{"*1/*1", "*1/*17", "*17/*17"}));
  EXPECT_EQ(Key(call.phenotype), "indeterminate");
  EXPECT_EQ(call.missing_positions, std::vector<std::uint32_t>{kRs12248560});
  EXPECT_EQ(FindFinding(call.findings, "pgx_vcf_missing_positions")->message,
            "1 of 34 CYP2C19 definition positions are missing from the VCF (not assumed reference): 94761900 (rs12248560); alleles defined "
            "there cannot be ruled out: *4, *17");
}

TEST(PgxMatcher, MissingPositionThatCannotChangeThePhenotypeStillCalls) {
  const AlleleCall call = Call("CYP2C19", Genotypes("CYP2C19").Missing(kRs3758581).Set(kRs4244285, 'G', 'A').Set(kRs12769205, 'A', 'G'));
  EXPECT_EQ(call.status, CallStatus::Called);
  EXPECT_EQ(Key(call.phenotype), "intermediate");
  EXPECT_EQ(Diplotypes(call), (std::vector<std::string>{"*1/*2", "*2/*38"}));
}

TEST(PgxMatcher, UnexplainedVariantIsNotCalledNormal) {
  const AlleleCall call = Call("CYP2C19", Genotypes("CYP2C19").Set(kRs4244285, 'A', 'A'));
  EXPECT_EQ(call.status, CallStatus::NoMatch);
  EXPECT_FALSE(call.phenotype);
  EXPECT_EQ(call.unexplained, std::vector<std::string>{"94781859:A"});
  EXPECT_EQ(FindFinding(call.findings, "pgx_vcf_no_match")->message,
            "no pair of CPIC CYP2C19 alleles explains the bases seen (94781859:A): not called, and not assumed normal");
}

TEST(PgxMatcher, NothingReadIsNotCalled) {
  Genotypes genotypes("CYP2C19");
  for (const auto& position : Pgx().FindDefinition("CYP2C19")->positions) genotypes.Missing(position.position);
  const AlleleCall call = Call("CYP2C19", genotypes);
  EXPECT_EQ(call.status, CallStatus::NotCalled);
  EXPECT_EQ(call.findings.at(0).message, "none of the 34 CYP2C19 definition positions has a genotype in the VCF: CYP2C19 not called");
}

TEST(PgxMatcher, Cyp2b6UnphasedStar6IsStar1Star6OrStar4Star9) {
  const AlleleCall call = Call("CYP2B6", Genotypes("CYP2B6").Set(41006936, 'G', 'T').Set(41009358, 'A', 'G'));
  EXPECT_EQ(Diplotypes(call), (std::vector<std::string>{"*1/*6", "*4/*9"}));
  EXPECT_EQ(Key(call.phenotype), "intermediate");
}

TEST(PgxMatcher, Cyp2d6IsAnOutsideCallOnly) {
  auto matcher = AlleleMatcher::Build(Pgx(), "CYP2D6");
  ASSERT_FALSE(matcher);
  EXPECT_EQ(matcher.error().code, ErrorCode::NotFound);
  EXPECT_EQ(matcher.error().message.substr(0, 30), "CYP2D6 is not called from VCF:");
}

TEST(PgxMatcher, EveryDefinedAlleleIsCalledFromItsOwnDefinitionHomozygous) {
  for (const char* gene : {"CYP2C19", "CYP2B6"}) {
    const PgxDefinition& definition = *Pgx().FindDefinition(gene);
    auto matcher = AlleleMatcher::Build(Pgx(), gene);
    ASSERT_TRUE(matcher);
    for (const auto& allele : definition.alleles) {
      std::vector<PositionGenotype> row;
      bool wobble = false;
      for (const BaseMask mask : allele.masks) {
        // An IUPAC position takes its first base; such alleles may also fit a more specific allele.
        BaseMask base = mask;
        while ((base & (base - 1)) != 0) base = static_cast<BaseMask>(base & (base - 1));
        wobble = wobble || base != mask;
        row.push_back(PositionGenotype{base, base, true});
      }
      const AlleleCall call = matcher->Call(row);
      const std::vector<std::string> called = Diplotypes(call);
      const std::string expected = allele.name + "/" + allele.name;
      EXPECT_NE(std::find(called.begin(), called.end(), expected), called.end()) << gene << allele.name;
      if (!wobble) {
        EXPECT_EQ(called.size(), 1U) << gene << allele.name;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Oracle (skips cleanly without ../shared/reference)
// ---------------------------------------------------------------------------------------------

TEST(PgxOracle, EngineAgreesWithEveryCpicDiplotypePhenotype) {
  const auto path = kSource / ".." / "shared" / "reference" / "pgx" / "diplotype_phenotypes.tsv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found: the oracle is optional";
  std::ifstream stream(path);
  std::string line;
  std::getline(stream, line);
  int rows = 0;
  while (std::getline(stream, line)) {
    std::vector<std::string> fields;
    std::stringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, '\t')) fields.push_back(cell);
    if (fields.size() < 4) continue;
    ++rows;
    const GeneResult result = Interpret(Diplotype(fields[0], fields[1]));
    const auto expected = ParsePhenotype(fields[2]);
    ASSERT_TRUE(expected) << fields[2];
    EXPECT_EQ(Key(result.phenotype), Key(expected)) << fields[0] << " " << fields[1];
  }
  EXPECT_GT(rows, 5000);
}

}  // namespace
}  // namespace refract
