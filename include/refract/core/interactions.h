// SPDX-License-Identifier: Apache-2.0
/// Regimen safety: drug-drug interactions (pharmacodynamic groups, CYP enzyme tables), MAOI
/// washouts, dose caps and drug-patient rules, checked over the whole dated regimen.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/assessment.h"
#include "refract/core/date.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/result.h"

namespace refract {

/// Interaction severity, lowest first; the KB's `rule.ddi.severity_scale` maps it to vendor grades.
enum class InteractionSeverity { Minor = 1, Moderate = 2, Major = 3, Contraindicated = 4 };
[[nodiscard]] std::string_view InteractionSeverityName(InteractionSeverity value);

/// FDA strength class of an inhibitor or inducer.
enum class PerpetratorStrength { Weak = 1, Moderate = 2, Strong = 3 };
[[nodiscard]] std::string_view PerpetratorStrengthName(PerpetratorStrength value);

/// FDA sensitivity class of a substrate; `Substrate` is a pathway FDA does not classify.
enum class SubstrateSensitivity { Sensitive, ModerateSensitive, Substrate };
[[nodiscard]] std::string_view SubstrateSensitivityName(SubstrateSensitivity value);

/// One inhibition of an enzyme by a drug, as the enzyme tables state it. The single source of truth
/// for CYP inhibition: pharmacogenomic phenoconversion reads it through InhibitionsBy().
struct EnzymeInhibition {
  std::string drug_id;
  std::string enzyme;     ///< "CYP2D6".
  std::string enzyme_id;  ///< "enzyme.cyp2d6".
  PerpetratorStrength strength = PerpetratorStrength::Weak;
  std::optional<int> persists_after_stop_days;  ///< Effect lasting after the last dose (fluoxetine).
  bool unverified = false;                      ///< Class not re-read in the FDA table.
  std::vector<std::string> sources;
};

/// A substrate-specific rule from a label or guideline that replaces the PK matrix cell.
struct PkLabelRule {
  bool induction = false;
  std::vector<PerpetratorStrength> strengths;
  InteractionSeverity severity = InteractionSeverity::Minor;
  std::string mechanism;
  std::string action;
  std::vector<std::string> sources;
};

struct EnzymePerpetrator {
  const Drug* drug = nullptr;
  PerpetratorStrength strength = PerpetratorStrength::Weak;
  std::optional<int> persists_after_stop_days;
  bool unverified = false;
  std::string note;
  std::vector<std::string> sources;
};

struct EnzymeSubstrate {
  const Drug* drug = nullptr;
  SubstrateSensitivity sensitivity = SubstrateSensitivity::Substrate;
  bool activation = false;  ///< Prodrug: the enzyme forms the active drug.
  std::string note;
  std::vector<std::string> sources;
  std::vector<PkLabelRule> label_rules;
};

/// One enzyme table (kb/enzymes/*.json).
struct Enzyme {
  std::string id;
  std::string name;
  std::string path;
  std::vector<EnzymePerpetrator> inhibitors;
  std::vector<EnzymePerpetrator> inducers;
  std::vector<EnzymeSubstrate> substrates;
  std::vector<std::string> sources;
};

/// A member of an interaction group; `level` grades it inside the group (e.g. "sri", "high").
struct GroupMember {
  const Drug* drug = nullptr;
  std::string level;
  std::optional<double> below_mg_per_day;  ///< Below this dose the member counts at `level_below`.
  std::string level_below;
  std::vector<std::string> sources;
};

/// Drugs sharing a property the rules name (kb/interactions/groups/*.json).
struct DrugGroup {
  std::string id;
  std::string name;
  std::vector<std::string> levels;
  std::vector<GroupMember> members;
  std::vector<std::string> sources;
  /// (drug, index into members), sorted by drug address: MemberOf's lookup.
  std::vector<std::pair<const Drug*, std::size_t>> member_index;
};

/// A patient or regimen condition used to lower a dose cap, escalate a rule or trigger a patient rule.
struct RiskFactor {
  enum class Type { AgeAtLeast, AgeAbove, Sex, Condition, LabBelow, VitalAtLeast, GenotypePhenotype, InhibitorInRegimen, GroupInRegimen };
  Type type = Type::AgeAtLeast;
  int years = 0;
  std::string sex;
  std::vector<std::string> names;
  std::string lab_or_vital;
  double value = 0;
  std::vector<std::string> units;
  std::string gene;
  std::vector<std::string> phenotypes;
  std::string enzyme_id;
  std::vector<PerpetratorStrength> strengths;
  const DrugGroup* group = nullptr;
};

struct RuleSide {
  const DrugGroup* group = nullptr;
  std::vector<std::string> levels;  ///< Empty: every member.
};

/// A rule between two groups (kb/interactions/rules, kind ddi_rule).
struct PairRule {
  std::string id;
  std::string category;
  RuleSide a;
  RuleSide b;
  InteractionSeverity severity = InteractionSeverity::Minor;
  std::optional<InteractionSeverity> severity_when_b_started_after_a;
  std::optional<int> cross_taper_max_overlap_days;
  InteractionSeverity cross_taper_severity = InteractionSeverity::Minor;
  std::optional<InteractionSeverity> escalate_to;
  std::vector<RiskFactor> escalate_factors;
  std::string mechanism;
  std::string action;
  std::string evidence;
  std::vector<std::string> sources;
};

struct WashoutEntry {
  int min_days = 0;
  std::vector<std::string> sources;
};

/// Minimum days after stopping a drug before an interacting one may start (kind ddi_washout).
struct WashoutRule {
  std::string id;
  std::vector<const PairRule*> rules;
  InteractionSeverity severity = InteractionSeverity::Minor;
  std::string action;  ///< Template with {started}, {stopped}, {earliest}, {days}.
  std::optional<int> default_min_days;
  std::string stopped_side;  ///< "a", "b" or empty for either.
  std::map<std::string, WashoutEntry, std::less<>> after_stopping;
  std::vector<std::string> sources;
};

/// Several members of one group at once (serotonergic load; kind ddi_load_rule).
struct LoadRule {
  std::string id;
  std::string category;
  const DrugGroup* group = nullptr;
  std::map<std::string, int, std::less<>> points;
  int min_members = 0;
  int min_points = 0;
  InteractionSeverity severity = InteractionSeverity::Minor;
  std::string mechanism;
  std::string action;
  std::string evidence;
  std::vector<std::string> sources;
};

/// A drug with a patient condition (kind ddi_patient_rule).
struct PatientRule {
  std::string id;
  std::string category;
  RuleSide drug;
  std::vector<RiskFactor> all_of;
  InteractionSeverity severity = InteractionSeverity::Minor;
  std::string mechanism;
  std::string action;
  std::string evidence;
  std::vector<std::string> sources;
};

/// A maximum daily dose lowered by patient or regimen factors (kind ddi_dose_cap).
struct DoseCap {
  std::string id;
  std::string category;
  const Drug* drug = nullptr;
  double max_mg_per_day = 0;
  struct Reduced {
    double max_mg_per_day = 0;
    std::vector<RiskFactor> any_of;
  };
  std::vector<Reduced> reduced;
  InteractionSeverity severity_above = InteractionSeverity::Minor;
  InteractionSeverity severity_dose_unknown = InteractionSeverity::Minor;
  std::string mechanism;
  std::string action;  ///< Template with {cap}.
  std::string evidence;
  std::vector<std::string> sources;
};

/// Inhibitor or inducer strength x substrate sensitivity (kind ddi_pk_matrix).
struct PkMatrix {
  struct Cell {
    bool induction = false;
    PerpetratorStrength strength = PerpetratorStrength::Weak;
    SubstrateSensitivity sensitivity = SubstrateSensitivity::Substrate;
    bool activation = false;
    InteractionSeverity severity = InteractionSeverity::Minor;
  };
  std::string id;
  std::vector<Cell> cells;
  std::string mechanism_inhibition;
  std::string mechanism_induction;
  std::string mechanism_activation;
  std::string action_inhibition;
  std::string action_induction;
  std::string evidence;
  std::vector<std::string> sources;
};

/// One level of the severity scale with its mapping to grades clinicians know.
struct SeverityLevel {
  InteractionSeverity severity = InteractionSeverity::Minor;
  std::string meaning;
  std::string alert;
  std::vector<std::pair<std::string, std::string>> maps_to;
};

/// Everything the interaction checker reads from the KB, indexed. Immutable after loading.
class InteractionKnowledge {
 public:
  InteractionKnowledge() = default;
  // Rules point into the knowledge's own tables: copying would leave them pointing at the original.
  InteractionKnowledge(const InteractionKnowledge&) = delete;
  InteractionKnowledge& operator=(const InteractionKnowledge&) = delete;
  InteractionKnowledge(InteractionKnowledge&&) = default;
  InteractionKnowledge& operator=(InteractionKnowledge&&) = default;
  ~InteractionKnowledge() = default;

  [[nodiscard]] const std::vector<Enzyme>& enzymes() const { return enzymes_; }
  [[nodiscard]] const std::vector<DrugGroup>& groups() const { return groups_; }
  [[nodiscard]] const std::vector<PairRule>& pair_rules() const { return pair_rules_; }
  [[nodiscard]] const std::vector<WashoutRule>& washouts() const { return washouts_; }
  [[nodiscard]] const std::vector<LoadRule>& load_rules() const { return load_rules_; }
  [[nodiscard]] const std::vector<PatientRule>& patient_rules() const { return patient_rules_; }
  [[nodiscard]] const std::vector<DoseCap>& dose_caps() const { return dose_caps_; }
  [[nodiscard]] const PkMatrix& pk_matrix() const { return pk_matrix_; }
  [[nodiscard]] const std::vector<SeverityLevel>& severity_scale() const { return severity_scale_; }
  [[nodiscard]] const std::string& severity_scale_id() const { return severity_scale_id_; }
  [[nodiscard]] const DrugGroup* FindGroup(std::string_view id) const;
  /// The KB the knowledge was read from (drugs and components are looked up there).
  [[nodiscard]] const KnowledgeBase& kb() const { return *kb_; }
  /// The level of `drug` in `group` (its own membership, else that of a component), or null when not a member.
  [[nodiscard]] const GroupMember* MemberOf(const DrugGroup& group, const Drug& drug) const;

 private:
  friend class InteractionKnowledgeBuilder;
  std::vector<Enzyme> enzymes_;
  std::vector<DrugGroup> groups_;
  std::vector<PairRule> pair_rules_;
  std::vector<WashoutRule> washouts_;
  std::vector<LoadRule> load_rules_;
  std::vector<PatientRule> patient_rules_;
  std::vector<DoseCap> dose_caps_;
  PkMatrix pk_matrix_;
  std::vector<SeverityLevel> severity_scale_;
  std::string severity_scale_id_;
  const KnowledgeBase* kb_ = nullptr;
};

/// Reads and cross-checks the interaction files of a loaded KB (kinds enzyme, ddi_group, ddi_rule,
/// ddi_washout, ddi_load_rule, ddi_patient_rule, ddi_dose_cap, ddi_pk_matrix, ddi_severity_scale).
///
/// The KB loader has already checked each file's schema and that drug and source ids resolve; this
/// adds what only this module knows: group and enzyme ids resolve, rule levels exist in their group,
/// washouts name pair rules, exactly one PK matrix and severity scale exist, a drug is listed once per
/// table. Fails with KbReference naming "kb/<file>#<pointer>" and how many problems there are in all.
/// The returned object points into `kb`, which must outlive it.
[[nodiscard]] Result<InteractionKnowledge> LoadInteractionKnowledge(const KnowledgeBase& kb);

/// Every problem LoadInteractionKnowledge would report, for `refract kb check`.
[[nodiscard]] std::vector<Error> CheckInteractionKnowledge(const KnowledgeBase& kb);

/// Every inhibition by the given drugs (KB ids; a combination's components count too), sorted by
/// drug id then enzyme. Unknown ids give nothing. Strength is as stated in the enzyme tables.
[[nodiscard]] std::vector<EnzymeInhibition> InhibitionsBy(const InteractionKnowledge& knowledge,
                                                          std::span<const std::string> drug_ids);

struct Regimen;

/// The inhibitions in effect in a regimen on `as_of`: current and proposed drugs, and stopped drugs
/// whose inhibition lasts (`persists_after_stop_days`, e.g. fluoxetine for 35 days). One entry per
/// drug and enzyme, sorted by enzyme, strongest first. For phenoconversion.
[[nodiscard]] std::vector<EnzymeInhibition> InhibitionsInRegimen(const InteractionKnowledge& knowledge, const Regimen& regimen, Date as_of);

/// What the interaction rules know about the patient besides the drugs.
struct PatientFacts {
  std::optional<int> age_years;
  std::string sex;
  std::vector<std::string> conditions;  ///< Lower-case names of active conditions and diagnoses.
  std::vector<LabResult> labs;
  std::vector<VitalSign> vitals;
  std::vector<std::pair<std::string, std::string>> phenotypes;  ///< (gene, phenotype) as recorded.
};

/// One drug of the regimen, past, current or proposed.
struct RegimenEntry {
  std::string input_name;
  const Drug* drug = nullptr;  ///< Null: not in the KB; reported, never dropped.
  std::string origin;          ///< "medications[2]", "other_medications[0]", "procedures[1]", "proposed", "argument 1".
  std::optional<Date> start;
  std::optional<Date> end;
  bool ongoing = false;
  bool proposed = false;
  std::optional<double> mg_per_day;  ///< Dose in force on the as-of date, or the last one.
  std::string suggestion;            ///< For unknown names: the KB's "did you mean" message.
};

/// The regimen to check and the patient it belongs to.
struct Regimen {
  std::vector<RegimenEntry> entries;
  PatientFacts patient;
};

/// Every drug in the record: medication courses, esketamine/ketamine given as procedures or courses,
/// and other medications (unknown names kept with drug null). Dates as recorded; `as_of` picks the
/// dose in force and the patient's age.
[[nodiscard]] Regimen RegimenFromPatient(const KnowledgeBase& kb, const PatientRecord& patient, Date as_of);

/// Resolves names as given on a command line; each becomes a current drug with no dates. Unknown
/// names stay in the regimen with drug null and the KB's suggestion.
[[nodiscard]] Regimen RegimenFromNames(const KnowledgeBase& kb, std::span<const std::string> names);

/// Adds `drug` as a proposed addition starting on `as_of` ("what if I add lithium?").
void AddProposed(Regimen& regimen, const Drug& drug, std::string input_name, std::optional<double> mg_per_day);

enum class InteractionTiming { Current, Proposed, Washout, Past };
[[nodiscard]] std::string_view InteractionTimingName(InteractionTiming value);

/// A drug as it takes part in a finding.
struct InvolvedDrug {
  std::string drug_id;
  std::string inn;
  std::string input_name;
  std::string origin;
  std::optional<Date> start;
  std::optional<Date> end;
  bool ongoing = false;
  bool proposed = false;
  std::optional<double> mg_per_day;
};

/// One explained interaction finding: what, how bad, why, what to do, who and when, rule and sources.
struct InteractionFinding {
  std::string rule;
  std::string category;
  std::string code;  ///< interaction, cross_taper, washout, pharmacokinetic, load, patient, dose_cap.
  InteractionSeverity severity = InteractionSeverity::Minor;
  InteractionTiming timing = InteractionTiming::Current;
  std::string message;
  std::string mechanism;
  std::string action;
  std::string evidence;
  std::vector<InvolvedDrug> drugs;
  std::optional<Date> overlap_from;
  std::optional<Date> overlap_until;  ///< Empty while the overlap continues.
  std::optional<Date> earliest_start;
  std::vector<std::string> factors;  ///< Patient or regimen facts that raised the severity or lowered a cap.
  std::vector<std::string> notes;
  std::vector<std::string> sources;
  std::optional<double> limit_mg_per_day;  ///< dose_cap findings: the maximum for this patient.
};

/// A name the KB does not know: its interactions were not checked.
struct UnresolvedDrug {
  std::string input_name;
  std::string origin;
  std::string message;
};

/// The result of checking one regimen on one date.
struct InteractionReport {
  Date as_of;
  std::vector<InvolvedDrug> checked;  ///< Every resolved drug that is current or proposed.
  std::vector<InteractionFinding> findings;  ///< Most severe first, then by rule and drugs.
  std::vector<UnresolvedDrug> unresolved;
  std::vector<std::string> notes;
};

/// Checks every pair of drugs in the regimen, the washouts between stopped and later drugs, dose caps,
/// drug-patient rules and the serotonergic load, on `as_of`.
///
/// Pure and deterministic. Current combinations are reported at every severity; combinations and
/// washouts wholly in the past only when contraindicated (dev.0066). A course without an end date that
/// is not marked ongoing counts as current, with a note (dev.0065).
///
/// With CheckScope::ProposedOnly only the findings whose drugs include a proposed entry are worked
/// out (the serotonergic load is always computed): the what-if of one addition, at a fraction of the
/// cost of the whole regimen. Those findings are identical to the ones a full check gives.
/// CheckScope::ProposedDoseCaps works out only the dose-cap findings of proposed entries (the search
/// for a dose the caps allow); they too are identical to a full check's.
enum class CheckScope : std::uint8_t { All, ProposedOnly, ProposedDoseCaps };
[[nodiscard]] InteractionReport CheckRegimen(const InteractionKnowledge& knowledge, const Regimen& regimen, Date as_of,
                                             CheckScope scope = CheckScope::All);

/// Alerts for the assessment: contraindicated findings that are current, proposed or a washout
/// become critical, major current ones warnings, unknown drugs info. Past findings give no alert.
[[nodiscard]] std::vector<Alert> InteractionAlerts(const InteractionReport& report);

/// The report as JSON: { as_of, checked[], interactions[], unresolved[], notes[], severity_scale }.
[[nodiscard]] nlohmann::json InteractionsToJson(const InteractionKnowledge& knowledge, const InteractionReport& report);

/// The report without the severity scale: { as_of, checked[], interactions[], unresolved[], notes[] }.
[[nodiscard]] nlohmann::json InteractionReportJson(const InteractionReport& report);

/// The report as plain text, most severe first; every finding names its rule and sources.
[[nodiscard]] std::string RenderInteractionsText(const InteractionReport& report);

}  // namespace refract
