// SPDX-License-Identifier: Apache-2.0
/// Pharmacogenomics for CYP2D6, CYP2C19 and CYP2B6: genotype to phenotype, CPIC and drug-label
/// guidance for every covered drug, phenoconversion by co-medications, star-allele calling from
/// per-position genotypes (the VCF adapter feeds it), and the ties between genotype and history.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/assessment.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/report.h"
#include "refract/core/result.h"

namespace refract {

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

/// CPIC metabolizer phenotypes (standardised terms); CYP2D6 uses only UM, NM, IM, PM.
enum class Phenotype : std::uint8_t { Ultrarapid, Rapid, Normal, LikelyIntermediate, Intermediate, LikelyPoor, Poor, Indeterminate };
inline constexpr std::size_t kPhenotypeCount = 8;

/// Stable key used in the KB and JSON ("likely_intermediate").
[[nodiscard]] std::string_view PhenotypeKey(Phenotype value);

/// Reads a key ("poor"), a CPIC term ("Poor Metabolizer") or an abbreviation ("PM"), any case.
[[nodiscard]] std::optional<Phenotype> ParsePhenotype(std::string_view text);

/// Clinical function of one allele as CPIC assigns it.
enum class AlleleFunction : std::uint8_t { Increased, Normal, Decreased, No, Uncertain, Unknown };
[[nodiscard]] std::string_view AlleleFunctionName(AlleleFunction value);

/// FDA strength class of an enzyme inhibitor.
enum class InhibitorStrength : std::uint8_t { Weak, Moderate, Strong };
[[nodiscard]] std::string_view InhibitorStrengthName(InhibitorStrength value);
[[nodiscard]] std::optional<InhibitorStrength> ParseInhibitorStrength(std::string_view text);

/// CPIC classification of a recommendation.
enum class RecommendationStrength : std::uint8_t { Strong, Moderate, Optional, NoRecommendation };
[[nodiscard]] std::string_view RecommendationStrengthName(RecommendationStrength value);

/// What a recommendation asks the prescriber to do.
enum class GuidanceAction : std::uint8_t { Standard, Adjust, Alternative, Avoid, None };
[[nodiscard]] std::string_view GuidanceActionName(GuidanceAction value);

// ---------------------------------------------------------------------------------------------
// Knowledge (read from kb/pgx)
// ---------------------------------------------------------------------------------------------

/// One star allele and its CPIC function.
struct PgxAllele {
  std::string name;  ///< "*17"
  int number = 0;
  AlleleFunction function = AlleleFunction::Unknown;
  std::optional<double> activity_value;  ///< CYP2D6 only; absent for uncertain or unknown function.
  std::string structural;                ///< Deletion or hybrid: not visible in SNV calls.
};

/// One activity-score bin; the first bin whose bound admits a score gives the phenotype.
struct PgxScoreBin {
  Phenotype phenotype = Phenotype::Indeterminate;
  std::optional<double> max_inclusive;
  std::optional<double> max_exclusive;
  std::string label;
};

/// A pair of allele functions and the phenotype CPIC assigns to it (order-free).
struct PgxFunctionPair {
  AlleleFunction first = AlleleFunction::Unknown;
  AlleleFunction second = AlleleFunction::Unknown;
  Phenotype phenotype = Phenotype::Indeterminate;
};

/// A pharmacogene: its alleles and the rule that turns a diplotype into a phenotype.
struct PgxGeneInfo {
  std::string id;    ///< "pgx.gene.cyp2d6"
  std::string gene;  ///< "CYP2D6"
  std::string kb_path;
  bool activity_score_method = false;
  std::string reference_allele;
  struct PhenotypeTerm {
    Phenotype phenotype = Phenotype::Indeterminate;
    std::string name;
    std::string abbreviation;
  };
  std::vector<PhenotypeTerm> phenotypes;
  std::vector<PgxAllele> alleles;  ///< Sorted by allele number.
  std::vector<PgxScoreBin> bins;
  int unbounded_minimum_copies = 3;
  std::vector<PgxFunctionPair> pairs;
  Phenotype otherwise = Phenotype::Indeterminate;
  std::string rule;
  std::vector<std::string> rule_sources;
  std::vector<std::string> sources;
  bool vcf_callable = false;
  std::string vcf_note;
  std::string definition_id;

  /// The allele by name ("*4"), or null.
  [[nodiscard]] const PgxAllele* FindAllele(std::string_view name) const;
  /// Whether the gene uses this phenotype term at all (CYP2D6 has no "rapid").
  [[nodiscard]] bool HasPhenotype(Phenotype phenotype) const;
  /// CPIC term ("Poor Metabolizer"); the key when the gene does not list it.
  [[nodiscard]] std::string PhenotypeName(Phenotype phenotype) const;
  /// Phenotype of an activity score by the bins (CYP2D6).
  [[nodiscard]] Phenotype PhenotypeOfScore(double score) const;
  /// Phenotype of two allele functions by the function pairs (CYP2C19, CYP2B6).
  [[nodiscard]] Phenotype PhenotypeOfFunctions(AlleleFunction first, AlleleFunction second) const;
};

/// A bitmask of bases: A=1, C=2, G=4, T=8. IUPAC codes are unions.
using BaseMask = std::uint8_t;
/// Mask of one base letter or IUPAC code ("R" = A|G); 0 for anything else.
[[nodiscard]] BaseMask BaseMaskOf(char base);

/// Allele definitions of one gene at its GRCh38 positions (single-nucleotide variants).
struct PgxDefinition {
  std::string id;
  std::string gene;
  std::string kb_path;
  std::string chromosome;  ///< "chr10"
  std::string reference_allele;
  struct Position {
    std::uint32_t position = 0;
    std::string rsid;
    char ref = 'N';
    std::string alts;  ///< One letter per ALT ("AT").
  };
  std::vector<Position> positions;  ///< Increasing.
  struct Allele {
    std::string name;
    std::vector<BaseMask> masks;  ///< One per position: the bases this allele may carry there.
    std::vector<std::size_t> defining;  ///< Positions where it differs from the reference allele.
  };
  std::vector<Allele> alleles;  ///< Reference allele first, then by number.
  std::vector<std::pair<std::string, std::string>> not_defined;  ///< Allele, reason.
  std::vector<std::string> sources;
};

/// The phenotype condition of a rule for one gene. `not_tested` matches a gene with no result.
struct PgxCondition {
  std::string gene;
  std::array<bool, kPhenotypeCount> phenotypes{};
  bool not_tested = false;
  std::optional<double> activity_score_min;    ///< Inclusive.
  std::optional<double> activity_score_below;  ///< Exclusive.
};

/// One CPIC recommendation cell.
struct PgxRule {
  std::string id;
  std::vector<PgxCondition> when;
  RecommendationStrength strength = RecommendationStrength::NoRecommendation;
  GuidanceAction action = GuidanceAction::None;
  std::string recommendation;
  std::string implications;
};

/// CPIC guidance for one drug.
struct PgxDrugRules {
  std::string id;
  std::string kb_path;
  std::string drug_id;
  std::vector<std::string> genes;
  std::string guideline;
  std::string population;
  std::string other_considerations;
  std::vector<PgxRule> rules;
  std::vector<std::string> sources;
};

/// One pharmacogenomic statement of a drug label.
struct PgxLabelStatement {
  std::string id;
  std::string gene;
  bool inhibitor_trigger = false;  ///< False: triggered by the genotype phenotype.
  std::array<bool, kPhenotypeCount> phenotypes{};
  std::array<bool, 3> inhibitor_strengths{};  ///< Indexed by InhibitorStrength.
  std::string text;
  std::optional<double> max_dose_mg_per_day;
  std::optional<double> dose_fraction;
  std::string exception;
  std::vector<std::string> sources;
};

/// Label statements of one drug.
struct PgxLabel {
  std::string id;
  std::string kb_path;
  std::string drug_id;
  std::string label_source;
  std::vector<PgxLabelStatement> statements;
  std::string notes;
  std::vector<std::string> sources;
};

/// How inhibitors change one gene's phenotype.
struct PgxPhenoconversionMethod {
  enum class Kind : std::uint8_t { ScoreMultiplier, PhenotypeShift, None };
  std::string gene;
  Kind kind = Kind::None;
  std::string rule;
  std::string status;  ///< "published_convention" or "refract_convention".
  std::array<double, 3> multipliers{1, 1, 1};  ///< Indexed by InhibitorStrength.
  /// Indexed by InhibitorStrength, then by genotype phenotype; nothing = unchanged.
  std::array<std::array<std::optional<Phenotype>, kPhenotypeCount>, 3> shifts{};
  std::vector<std::string> caveats;
  std::vector<std::string> sources;
};

/// Pseudo-resistance explanations and the testing suggestion thresholds.
struct PgxHistoryRules {
  struct Explanation {
    std::string id;
    std::array<bool, kPhenotypeCount> phenotypes{};
    bool failed = false;
    bool nonresponse = false;
    bool partial = false;
    bool intolerance = false;
    std::string exposure;
    bool requires_actionable_guidance = true;
    std::string text;
    std::vector<std::string> sources;
  };
  std::vector<Explanation> explanations;
  std::string testing_id;
  int min_failed_trials = 0;
  int min_intolerance_trials = 0;
  std::string testing_text;
  std::vector<std::string> testing_sources;
};

/// Everything kb/pgx holds, typed and cross-checked. Immutable after loading.
struct PgxKnowledge {
  std::vector<PgxGeneInfo> genes;  ///< Sorted by gene symbol.
  std::vector<PgxDefinition> definitions;
  std::vector<PgxDrugRules> guidance;  ///< Sorted by drug id.
  std::vector<PgxLabel> labels;        ///< Sorted by drug id.
  std::vector<PgxPhenoconversionMethod> phenoconversion;
  PgxHistoryRules history;

  [[nodiscard]] const PgxGeneInfo* FindGene(std::string_view gene) const;
  [[nodiscard]] const PgxDefinition* FindDefinition(std::string_view gene) const;
  [[nodiscard]] const PgxDrugRules* FindGuidance(std::string_view drug_id) const;
  [[nodiscard]] const PgxLabel* FindLabel(std::string_view drug_id) const;
  [[nodiscard]] const PgxPhenoconversionMethod* FindPhenoconversion(std::string_view gene) const;
};

/// Lists every problem of the KB's pharmacogenomic files, each with its KB location: unknown
/// alleles or phenotypes, unordered bins, guidance grids with a gap or an overlap, label and
/// definition files that do not fit their gene. Empty when the data is consistent.
[[nodiscard]] std::vector<Error> CheckPgxKnowledge(const KnowledgeBase& kb);

/// Builds the typed pharmacogenomic knowledge from the KB.
///
/// Fails with KbReference naming the first problem CheckPgxKnowledge finds (and how many there
/// are) when the files are inconsistent, or when kb/pgx is missing a gene, the phenoconversion
/// method or the history rules.
[[nodiscard]] Result<PgxKnowledge> LoadPgxKnowledge(const KnowledgeBase& kb);

// ---------------------------------------------------------------------------------------------
// Genotype → phenotype, phenoconversion
// ---------------------------------------------------------------------------------------------

/// A CYP2D6 activity score, or a range of them (a lower bound for x≥3 copies, a bin for a phenotype).
struct ScoreRange {
  double low = 0;
  double high = 0;  ///< Infinity for an open upper end.
  [[nodiscard]] bool IsExact() const { return low == high; }
  [[nodiscard]] bool IsOpen() const { return high == std::numeric_limits<double>::infinity(); }
};

/// The activity scores a genotype with this phenotype can have (the CYP2D6 bin on the score grid,
/// e.g. intermediate 0.25–1); nothing for a phenotype the gene's bins do not use.
[[nodiscard]] std::optional<ScoreRange> ScoreRangeOfPhenotype(const PgxGeneInfo& gene, Phenotype phenotype);

/// A co-medication that inhibits an enzyme, as classified by the interaction tables.
struct PhenoconversionInput {
  std::string drug_id;  ///< "drug.paroxetine"
  std::string enzyme;   ///< "CYP2D6"
  InhibitorStrength strength = InhibitorStrength::Weak;
  std::vector<std::string> sources;  ///< Where the strength class comes from.
};

/// One allele of an interpreted diplotype.
struct AlleleCopy {
  std::string name;   ///< "*1"
  std::string copies; ///< "" for one copy, "2", "≥3", "N".
  AlleleFunction function = AlleleFunction::Unknown;
  std::optional<double> activity_value;  ///< Per copy.
  bool known = false;
};

/// An inhibitor considered for a gene.
struct PhenoconversionCause {
  std::string drug_id;
  std::string drug_name;
  InhibitorStrength strength = InhibitorStrength::Weak;
  bool deciding = false;  ///< The strongest one, which sets the effective phenotype.
  std::vector<std::string> sources;
};

/// How a genotype result was given.
enum class GenotypeInputKind : std::uint8_t { None, Diplotype, ActivityScore, Phenotype, Vcf };
[[nodiscard]] std::string_view GenotypeInputKindName(GenotypeInputKind value);

/// One gene interpreted: genotype phenotype and, with co-medications, effective phenotype.
struct GeneResult {
  std::string gene;
  GenotypeInputKind input_kind = GenotypeInputKind::None;
  std::string input;      ///< As given.
  std::string diplotype;  ///< Normalised; one haplotype per side.
  std::vector<std::vector<AlleleCopy>> haplotypes;
  std::optional<ScoreRange> activity_score;  ///< CYP2D6; nothing when not computable.
  std::optional<Phenotype> phenotype;        ///< Nothing when not tested.
  std::optional<ScoreRange> effective_activity_score;
  std::optional<Phenotype> effective_phenotype;
  bool phenoconverted = false;  ///< The effective phenotype differs from the genotype one.
  std::vector<PhenoconversionCause> inhibitors;
  std::string phenoconversion_rule;
  std::string phenoconversion_status;
  std::string rule;
  std::vector<std::string> sources;
  std::vector<Finding> findings;
};

/// Interprets one genotype entry (diplotype, activity score or phenotype).
///
/// A diplotype wins over a score and a score over a phenotype; disagreeing extra fields give a
/// finding. An allele CPIC does not list, or an allele of uncertain function, gives an
/// indeterminate phenotype with a finding. Fails with InvalidInput, located at `location`, when
/// the gene is not covered, the diplotype cannot be read, the score is negative or given for a
/// gene without scores, or the phenotype is not a term of that gene.
[[nodiscard]] Result<GeneResult> InterpretGenotype(const PgxKnowledge& knowledge, const GenotypeEntry& entry, std::string_view location);

/// Applies the KB's phenoconversion method to a gene with the inhibitors of its enzyme.
///
/// The strongest inhibitor decides (weak ones change nothing); every inhibitor is listed. A
/// gene without a result still becomes poor-metabolizer-like with an inhibitor that abolishes
/// activity. Without inhibitors the effective phenotype equals the genotype one.
void ApplyPhenoconversion(const PgxKnowledge& knowledge, const KnowledgeBase& kb, std::span<const PhenoconversionInput> inhibitors,
                          GeneResult& result);

// ---------------------------------------------------------------------------------------------
// Guidance, history, report
// ---------------------------------------------------------------------------------------------

/// A matched CPIC rule.
struct GuidanceMatch {
  std::string rule;
  RecommendationStrength strength = RecommendationStrength::NoRecommendation;
  GuidanceAction action = GuidanceAction::None;
  std::string recommendation;
  std::string implications;
};

/// A triggered label statement.
struct LabelMatch {
  std::string statement;
  std::string gene;
  std::string text;
  std::optional<double> max_dose_mg_per_day;
  std::optional<double> dose_fraction;
  std::string exception;
  std::string triggered_by;  ///< "CYP2D6 poor metabolizer" or "paroxetine (strong CYP2D6 inhibitor)".
  std::vector<std::string> sources;
};

/// The phenotype a drug's guidance was looked up with, per gene.
struct GuidanceBasis {
  std::string gene;
  std::optional<Phenotype> phenotype;  ///< Nothing: not tested.
  std::optional<ScoreRange> activity_score;
  bool effective = false;  ///< Changed by an inhibitor.
};

/// Guidance for one covered drug.
struct DrugGuidance {
  std::string drug_id;
  std::string drug_name;
  std::vector<GuidanceBasis> basis;
  std::string guideline;  ///< Empty for label-only drugs.
  std::vector<GuidanceMatch> cpic;           ///< By the effective phenotypes; two when the score decides between cells.
  std::vector<GuidanceMatch> genotype_only;  ///< By the genotype phenotypes, when an inhibitor changed one.
  std::vector<LabelMatch> label;
  std::string other_considerations;
  std::vector<std::string> sources;
  std::vector<Finding> findings;
};

/// The whole pharmacogenomic assessment of one patient.
struct PgxReport {
  std::vector<GeneResult> genes;     ///< Sorted by gene.
  std::vector<DrugGuidance> drugs;   ///< Sorted by drug name.
  std::vector<Finding> history;      ///< Pseudo-resistance and dose findings, in trial order.
  std::optional<Finding> testing;    ///< Suggestion to test untested genes.
  std::vector<Finding> findings;
  std::vector<std::string> sources;  ///< Every source id named anywhere, sorted.
};

/// Assesses genotypes, co-medication inhibitors and the assessed trials.
///
/// Genes without an entry are "not tested"; every drug with guidance or a label statement for a
/// tested (or phenoconverted) gene is covered. Trials tie genotype to history: failures in fast
/// and intolerance in slow metabolizers where CPIC recommends an action, label dose caps exceeded,
/// and a testing suggestion when untested genes touch enough failed or poorly tolerated trials.
/// History uses the genotype phenotypes: co-medications during past trials are not known here.
/// Fails with InvalidInput when a genotype entry cannot be read (located at `genotypes[k]`).
[[nodiscard]] Result<PgxReport> AssessPgx(const PgxKnowledge& knowledge, const KnowledgeBase& kb, std::span<const GenotypeEntry> genotypes,
                                          std::span<const PhenoconversionInput> inhibitors, std::span<const TrialAssessment> trials);

/// AssessPgx for genes already interpreted (VCF calls, outside calls): applies phenoconversion,
/// guidance, history findings and the testing suggestion. Genes may be given in any order; a
/// gene given twice keeps its first result.
[[nodiscard]] PgxReport AssessGeneResults(const PgxKnowledge& knowledge, const KnowledgeBase& kb, std::vector<GeneResult> genes,
                                          std::span<const PhenoconversionInput> inhibitors, std::span<const TrialAssessment> trials);

/// Guidance for every covered drug given interpreted gene results (used by AssessPgx and VCF calls).
[[nodiscard]] std::vector<DrugGuidance> GuidanceFor(const PgxKnowledge& knowledge, const KnowledgeBase& kb, std::span<const GeneResult> genes,
                                                    std::span<const PhenoconversionInput> inhibitors);

/// The canonical JSON form (refract.pgx/v1), with the engine and KB identity.
[[nodiscard]] nlohmann::json PgxToJson(const PgxReport& report, const KnowledgeBase& kb, const EngineInfo& engine);
/// The report's body without engine identity and citations: { genes, drugs, history, testing, findings }.
[[nodiscard]] nlohmann::json PgxReportJson(const PgxReport& report);
/// A plain-text rendering for a terminal.
[[nodiscard]] std::string PgxToText(const PgxReport& report, const KnowledgeBase& kb, const EngineInfo& engine);
/// One row per (gene, drug, recommendation), tab-separated, with a header row.
[[nodiscard]] std::string PgxToTsv(const PgxReport& report);

// ---------------------------------------------------------------------------------------------
// Star-allele calling from per-position genotypes (PharmCAT-style named allele matching)
// ---------------------------------------------------------------------------------------------

/// One sample's genotype at one definition position. A zero mask is a missing allele: the
/// position was absent from the VCF or not called. Missing is never taken as reference.
struct PositionGenotype {
  BaseMask first = 0;
  BaseMask second = 0;
  bool phased = false;
};

/// Outcome of calling one gene for one sample.
enum class CallStatus : std::uint8_t {
  Called,     ///< One diplotype, or several that share one phenotype.
  Ambiguous,  ///< Several diplotypes with different phenotypes (unphased or missing data).
  NoMatch,    ///< No combination of named alleles explains the bases seen.
  NotCalled   ///< No definition position has data, or the sample is not diploid there.
};
[[nodiscard]] std::string_view CallStatusName(CallStatus value);

/// A candidate diplotype of a call.
struct DiplotypeCandidate {
  std::string first;
  std::string second;
  Phenotype phenotype = Phenotype::Indeterminate;
};

/// The call of one gene in one sample.
struct AlleleCall {
  std::string gene;
  CallStatus status = CallStatus::NotCalled;
  std::vector<DiplotypeCandidate> candidates;  ///< Sorted; empty unless Called or Ambiguous.
  std::size_t candidate_count = 0;             ///< Before truncation of the list.
  std::optional<Phenotype> phenotype;          ///< Shared by every candidate; Indeterminate when they differ.
  std::vector<std::uint32_t> missing_positions;
  std::vector<std::string> unexplained;        ///< "94775489:A" bases no allele explains.
  bool unphased = false;                       ///< Phase was enumerated.
  std::vector<Finding> findings;
};

/// Matches haplotypes of one gene against its named allele definitions.
class AlleleMatcher {
 public:
  /// Prepares the matcher for a gene callable from VCF. Fails with NotFound for a gene without
  /// definitions (CYP2D6: use an outside call) and KbReference when it has more than 64 alleles.
  [[nodiscard]] static Result<AlleleMatcher> Build(const PgxKnowledge& knowledge, std::string_view gene);

  /// Calls one sample from its genotypes, one per definition position (in order).
  ///
  /// Every phasing of unphased heterozygous positions is tried; missing positions match any
  /// allele and are listed, and the alleles they could hide make the call ambiguous rather than
  /// normal. Never throws; input of the wrong length gives NotCalled with a finding.
  [[nodiscard]] AlleleCall Call(std::span<const PositionGenotype> genotypes) const;

  [[nodiscard]] const PgxDefinition& definition() const { return *definition_; }
  [[nodiscard]] const PgxGeneInfo& gene() const { return *gene_; }

 private:
  AlleleMatcher() = default;
  const PgxDefinition* definition_ = nullptr;
  const PgxGeneInfo* gene_ = nullptr;
  /// accepts_[position * 16 + base mask] = bitset of alleles that accept that single base there.
  std::vector<std::uint64_t> accepts_;
  std::uint64_t all_alleles_ = 0;
};

/// The gene result of a VCF call, for guidance: a determinate phenotype when the call has one.
[[nodiscard]] GeneResult GeneResultFromCall(const PgxKnowledge& knowledge, const AlleleCall& call);

}  // namespace refract
