// SPDX-License-Identifier: Apache-2.0
// What next: knowledge loading and checks, drivers, option eligibility, monitoring, patient summary.
#include "refract/core/next_steps.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "refract/core/text.h"

namespace refract {
namespace {

using nlohmann::json;

// ----------------------------------------------------------------------------- JSON access
// Every file passed its schema before these run; a missing value falls back to empty.
std::string Str(const json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_string() ? found->get<std::string>() : std::string();
}
std::vector<std::string> Strings(const json& node, const char* key) {
  std::vector<std::string> out;
  const auto found = node.find(key);
  if (found == node.end() || !found->is_array()) return out;
  for (const auto& item : *found) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}
std::optional<int> OptInt(const json& node, const char* key) {
  const auto found = node.find(key);
  if (found == node.end() || !found->is_number()) return std::nullopt;
  return found->get<int>();
}
std::optional<double> OptNum(const json& node, const char* key) {
  const auto found = node.find(key);
  if (found == node.end() || !found->is_number()) return std::nullopt;
  return found->get<double>();
}
bool Bool(const json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_boolean() && found->get<bool>();
}
const json& Child(const json& node, const char* key) {
  static const json kEmpty = json::object();
  const auto found = node.find(key);
  return found != node.end() ? *found : kEmpty;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& character : out) character = static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
  return out;
}

std::string CompactUnit(std::string_view unit) {
  std::string out;
  for (const char character : Lower(unit)) {
    if (character != ' ') out.push_back(character);
  }
  return out;
}

bool IsWordChar(char character) { return std::isalnum(static_cast<unsigned char>(character)) != 0; }

// A term matches at the start of a word ("osa" in "sleep apnea (osa)", not in "mucosal";
// "hyperthyroid" in "hyperthyroidism").
bool ContainsWord(std::string_view haystack, std::string_view term) {
  const std::string text = Lower(haystack);
  const std::string needle = Lower(term);
  if (needle.empty()) return false;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    const bool start_ok = at == 0 || !IsWordChar(text[at - 1]);
    const std::size_t end = at + needle.size();
    (void)end;
    if (start_ok) return true;
  }
  return false;
}

bool Contains(const std::vector<std::string>& list, std::string_view value) { return std::find(list.begin(), list.end(), value) != list.end(); }

std::vector<std::string> Merge(std::vector<std::string> left, const std::vector<std::string>& right) {
  left.insert(left.end(), right.begin(), right.end());
  std::sort(left.begin(), left.end());
  left.erase(std::unique(left.begin(), left.end()), left.end());
  return left;
}

NextStepClause ParseClause(const json& node) {
  NextStepClause clause;
  clause.type = Str(node, "type");
  clause.id = Str(node, "id");
  clause.status = Str(node, "status");
  clause.scope = Str(node, "scope");
  clause.scale = Str(node, "scale");
  clause.lab = Lower(Str(node, "lab"));
  clause.sex = Str(node, "sex");
  clause.flag = Str(node, "flag");
  clause.driver = Str(node, "driver");
  clause.kind = Str(node, "kind");
  clause.min_severity = Str(node, "min_severity");
  clause.text = Str(node, "text");
  clause.deviation = Str(node, "deviation");
  clause.confirm = Str(node, "confirm");
  clause.kinds = Strings(node, "kinds");
  clause.statuses = Strings(node, "statuses");
  clause.values = Strings(node, "values");
  clause.terms = Strings(node, "terms");
  clause.codes = Strings(node, "codes");
  clause.phenotypes = Strings(node, "phenotypes");
  for (const auto& range : Child(node, "ranges")) {
    clause.ranges.push_back(NextStepClause::Range{CompactUnit(Str(range, "unit")), OptNum(range, "low"), OptNum(range, "high")});
  }
  clause.count = OptInt(node, "count");
  clause.months = OptInt(node, "months");
  clause.min_age = OptInt(node, "min_age");
  clause.max_age = OptInt(node, "max_age");
  clause.systolic = OptNum(node, "systolic");
  clause.diastolic = OptNum(node, "diastolic");
  clause.unverified = Bool(node, "unverified");
  clause.sources = Strings(node, "sources");
  return clause;
}

SourcedText ParseSourcedText(const json& node) { return SourcedText{Str(node, "text"), Strings(node, "sources")}; }

// ----------------------------------------------------------------------------- knowledge checks

class KnowledgeReader {
 public:
  explicit KnowledgeReader(const KnowledgeBase& kb) : kb_(kb) {}

  void Read(NextStepsKnowledge& out) {
    const auto driver_files = kb_.FilesOfKind("next_step_drivers");
    if (driver_files.size() != 1) Add(fmt::format("expected exactly one file of kind next_step_drivers, found {}", driver_files.size()), "kb/next_steps/");
    for (const auto& [path, node] : driver_files) ReadDrivers(path, *node, out);
    const auto rule_files = kb_.FilesOfKind("next_step_rules");
    if (rule_files.size() != 1) Add(fmt::format("expected exactly one file of kind next_step_rules, found {}", rule_files.size()), "kb/next_steps/");
    for (const auto& [path, node] : rule_files) ReadRules(*node, out);
    for (const auto& [path, node] : kb_.FilesOfKind("monitoring_plan")) ReadPlan(path, *node, out);
    for (const auto& [path, node] : kb_.FilesOfKind("treatment_option")) ReadOption(path, *node, out);
    if (out.options.empty()) Add("no file of kind treatment_option", "kb/next_steps/options/");
    const auto crisis = kb_.FilesOfKind("mbc_crisis_lines");
    if (crisis.empty()) Add("no file of kind mbc_crisis_lines: the patient summary needs a crisis line", "kb/rules/");
    for (const auto& [path, node] : crisis) {
      out.crisis_rule = Str(*node, "id");
      out.crisis_default_locale = Str(*node, "default_locale");
      for (const auto& line : Child(*node, "lines")) {
        out.crisis_lines.push_back(NextStepsKnowledge::CrisisLine{Str(line, "locale"), Str(line, "text"), Str(line, "emergency"), Strings(line, "sources")});
      }
    }
    std::stable_sort(out.options.begin(), out.options.end(), [](const OptionDefinition& left, const OptionDefinition& right) {
      return left.order != right.order ? left.order < right.order : left.id < right.id;
    });
    std::sort(out.plans.begin(), out.plans.end(), [](const MonitoringPlanDefinition& left, const MonitoringPlanDefinition& right) { return left.id < right.id; });
    CrossCheck(out);
  }

  [[nodiscard]] std::vector<Error> TakeErrors() { return std::move(errors_); }

 private:
  void Add(std::string message, std::string location) { errors_.push_back(Error{ErrorCode::KbReference, std::move(message), std::move(location)}); }

  void ReadDrivers(const std::string& path, const json& node, NextStepsKnowledge& out) {
    out.drivers_rule = Str(node, "id");
    out.drivers_sources = Strings(node, "sources");
    std::size_t index = 0;
    for (const auto& entry : Child(node, "drivers")) {
      DriverDefinition driver;
      driver.id = Str(entry, "id");
      driver.name = Str(entry, "name");
      driver.group = Str(entry, "group");
      driver.looks_for = Str(entry, "looks_for");
      for (const auto& check : Child(entry, "checks")) driver.checks.push_back(ParseClause(check));
      driver.question = Str(Child(entry, "settle"), "question");
      driver.test = Str(Child(entry, "settle"), "test");
      driver.often_next = Strings(entry, "often_next");
      driver.patient_text = Str(entry, "patient_text");
      driver.unverified = Bool(entry, "unverified");
      driver.year = OptInt(entry, "year").value_or(0);
      driver.sources = Strings(entry, "sources");
      if (out.FindDriver(driver.id) != nullptr) Add(fmt::format("driver \"{}\" is defined twice", driver.id), fmt::format("kb/{}#/drivers/{}/id", path, index));
      for (std::size_t check_idx = 0; check_idx < driver.checks.size(); ++check_idx) {
        const NextStepClause& check = driver.checks[check_idx];
        const std::string where = fmt::format("kb/{}#/drivers/{}/checks/{}", path, index, check_idx);
        if (check.type == "screen_positive" && !ScaleExists(check.scale)) Add(fmt::format("unknown scale \"{}\"", check.scale), where + "/scale");
        if (check.type == "lab_outside" && check.ranges.empty()) Add("a lab_outside check needs ranges", where);
      }
      out.drivers.push_back(std::move(driver));
      ++index;
    }
  }

  void ReadRules(const json& node, NextStepsKnowledge& out) {
    out.rules_id = Str(node, "id");
    out.status_order = Strings(node, "status_order");
    out.ranking = ParseSourcedText(Child(node, "ranking"));
    out.tolerance = ParseSourcedText(Child(node, "tolerance"));
    out.already_tried = ParseSourcedText(Child(node, "already_tried"));
    out.off_label = ParseSourcedText(Child(node, "off_label"));
    const json& star = Child(node, "star_d");
    out.star_d.scale = Str(star, "scale");
    out.star_d.text = Str(star, "text");
    out.star_d.caveat = Str(star, "caveat");
    out.star_d.sources = Strings(star, "sources");
    for (const auto& level : Child(star, "levels")) out.star_d.levels.emplace_back(OptInt(level, "level").value_or(0), OptNum(level, "remission_percent").value_or(0));
    const json& monitoring = Child(node, "monitoring");
    out.match_window_days = OptInt(monitoring, "match_window_days").value_or(0);
    out.display_past_days = OptInt(monitoring, "display_past_days").value_or(0);
    out.display_ahead_days = OptInt(monitoring, "display_ahead_days").value_or(0);
    out.max_patient_options = OptInt(monitoring, "max_patient_options").value_or(0);
    out.patient_text = Child(node, "patient");
  }

  void ReadPlan(const std::string& path, const json& node, NextStepsKnowledge& out) {
    MonitoringPlanDefinition plan;
    plan.id = Str(node, "id");
    plan.name = Str(node, "name");
    plan.drugs = Strings(Child(node, "applies_to"), "drugs");
    plan.procedures = Strings(Child(node, "applies_to"), "procedures");
    for (const auto& item : Child(node, "items")) {
      MonitoringItemDefinition definition;
      definition.id = Str(item, "id");
      definition.what = Str(item, "what");
      definition.label = Str(item, "label");
      for (const auto& day : Child(item, "days")) definition.days.push_back(day.get<int>());
      definition.repeat_every_days = OptInt(item, "repeat_every_days");
      definition.repeat_from_day = OptInt(item, "repeat_from_day");
      definition.repeat_until_day = OptInt(item, "repeat_until_day");
      definition.lab = Lower(Str(item, "lab"));
      definition.vital = Str(item, "vital");
      definition.note = Str(item, "note");
      definition.unverified = Bool(item, "unverified") || Bool(node, "unverified");
      definition.sources = Strings(item, "sources");
      if (definition.repeat_every_days && !definition.repeat_until_day) Add("repeat_every_days needs repeat_until_day", fmt::format("kb/{}#/items", path));
      plan.items.push_back(std::move(definition));
    }
    for (const auto& step : Child(node, "session")) {
      plan.session.push_back(SessionStep{OptInt(step, "minute").value_or(0), Str(step, "what"), Bool(step, "unverified"), Strings(step, "sources")});
    }
    plan.notes = Str(node, "notes");
    plan.sources = Strings(node, "sources");
    out.plans.push_back(std::move(plan));
  }

  void ReadOption(const std::string& path, const json& node, NextStepsKnowledge& out) {
    if (node.contains("retired")) return;
    OptionDefinition option;
    option.id = Str(node, "id");
    option.name = Str(node, "name");
    option.patient_name = Str(node, "patient_name");
    option.patient_text = Str(node, "patient_text");
    option.category = Str(node, "category");
    option.order = OptInt(node, "order").value_or(0);
    option.usual_after_failed_trials = OptInt(node, "usual_after_failed_trials").value_or(0);
    const json& indication = Child(node, "indication");
    for (const auto& requirement : Child(indication, "requires")) {
      IndicationRequirement group;
      group.text = Str(requirement, "text");
      for (const auto& clause : Child(requirement, "any_of")) group.any_of.push_back(ParseClause(clause));
      option.indication.push_back(std::move(group));
    }
    option.indication_text = Str(indication, "text");
    option.indication_sources = Strings(indication, "sources");
    const json& constraints = Child(node, "constraints");
    option.min_age_years = OptInt(constraints, "min_age_years").value_or(0);
    option.pregnancy = Str(constraints, "pregnancy");
    option.breastfeeding = Str(constraints, "breastfeeding");
    option.bipolar = Str(constraints, "bipolar");
    option.constraint_sources = Strings(constraints, "sources");
    for (const auto& entry : Child(node, "contraindications")) {
      const json& match = Child(entry, "match");
      option.contraindications.push_back(OptionContraindication{Str(entry, "id"), Str(entry, "text"), Strings(match, "conditions"), Strings(match, "diagnoses"),
                                                                Strings(match, "procedures"), Strings(match, "adverse_reaction_drugs"), Strings(match, "reactions"),
                                                                Strings(entry, "sources")});
    }
    for (const auto& entry : Child(node, "warnings")) option.warnings.push_back(ParseClause(entry));
    for (const auto& entry : Child(node, "guideline")) {
      option.guideline.push_back(GuidelinePosition{Str(entry, "guideline"), Str(entry, "position"), Bool(entry, "unverified"), Strings(entry, "sources")});
    }
    option.action = Str(node, "action");
    option.drugs = Strings(node, "drugs");
    option.within_class = Bool(node, "within_class");
    option.procedure_kind = Str(node, "procedure_kind");
    option.psychotherapy_kind = Str(node, "psychotherapy_kind");
    option.rapid_acting = Bool(node, "rapid_acting");
    option.off_label = Bool(node, "off_label");
    option.requires_specialist = Bool(node, "requires_specialist");
    option.defer_when_drivers = Strings(node, "defer_when_drivers");
    option.monitoring = Strings(node, "monitoring");
    const json& star = Child(node, "star_d");
    option.star_d_applies = Bool(star, "applies");
    if (star.contains("arm")) {
      const json& arm = star["arm"];
      option.star_d_arm = Finding{"star_d_arm", Str(arm, "text"), option.id, Strings(arm, "sources")};
    }
    option.notes = Str(node, "notes");
    option.year = OptInt(node, "year").value_or(0);
    option.sources = Strings(node, "sources");
    const std::string where = "kb/" + path;
    for (const std::string& drug : option.drugs) {
      if (kb_.FindDrug(drug) == nullptr) Add(fmt::format("unknown drug \"{}\"", drug), where + "#/drugs");
    }
    if ((option.action == "add" || option.action == "switch") && option.drugs.empty() && !option.within_class) {
      Add("an option that adds or switches a drug needs drugs[] or within_class", where + "#/drugs");
    }
    if (out.FindOption(option.id) != nullptr) Add(fmt::format("option \"{}\" is defined twice", option.id), where + "#/id");
    out.options.push_back(std::move(option));
  }

  [[nodiscard]] bool ScaleExists(std::string_view id) const {
    for (const auto& [path, node] : kb_.FilesOfKind("scale")) {
      if (Str(*node, "id") == id) return true;
    }
    return false;
  }

  void CrossCheck(const NextStepsKnowledge& out) {
    for (const OptionDefinition& option : out.options) {
      const std::string where = fmt::format("kb/next_steps/options ({})", option.id);
      for (const std::string& driver : option.defer_when_drivers) {
        if (out.FindDriver(driver) == nullptr) Add(fmt::format("unknown driver \"{}\"", driver), where + "#/defer_when_drivers");
      }
      for (const std::string& plan : option.monitoring) {
        if (out.FindPlan(plan) == nullptr) Add(fmt::format("unknown monitoring plan \"{}\"", plan), where + "#/monitoring");
      }
      for (const IndicationRequirement& group : option.indication) {
        for (const NextStepClause& clause : group.any_of) {
          if (clause.type == "driver" && out.FindDriver(clause.driver) == nullptr) Add(fmt::format("unknown driver \"{}\"", clause.driver), where + "#/indication");
        }
      }
    }
    for (const MonitoringPlanDefinition& plan : out.plans) {
      for (const std::string& drug : plan.drugs) {
        if (kb_.FindDrug(drug) == nullptr) Add(fmt::format("unknown drug \"{}\"", drug), fmt::format("kb/next_steps/monitoring ({})#/applies_to/drugs", plan.id));
      }
    }
    if (out.star_d.levels.empty()) Add("star_d.levels is empty", "kb/next_steps/rules.json#/star_d/levels");
  }

  const KnowledgeBase& kb_;
  std::vector<Error> errors_;
};

// ----------------------------------------------------------------------------- evaluation context

int StatusRank(OptionStatus status) { return static_cast<int>(status); }
OptionStatus Worse(OptionStatus left, OptionStatus right) { return StatusRank(left) >= StatusRank(right) ? left : right; }
OptionStatus Better(OptionStatus left, OptionStatus right) { return StatusRank(left) <= StatusRank(right) ? left : right; }

enum class Tri { No, Yes, Unknown };

long AbsDays(long days) { return days < 0 ? -days : days; }

std::string Ordinal(int value) {
  const int mod100 = value % 100;
  const char* suffix = "th";
  if (mod100 < 11 || mod100 > 13) {
    if (value % 10 == 1) suffix = "st";
    if (value % 10 == 2) suffix = "nd";
    if (value % 10 == 3) suffix = "rd";
  }
  return fmt::format("{}{}", value, suffix);
}

std::string DrugName(const Drug* drug) { return drug == nullptr ? std::string("unknown drug") : drug->inn; }

class Evaluator {
 public:
  Evaluator(const NextStepsKnowledge& knowledge, const KnowledgeBase& kb, const PatientRecord& patient, const Assessment& assessment)
      : kn_(knowledge), kb_(kb), patient_(patient), assessment_(assessment), as_of_(assessment.as_of) {}

  NextSteps Run() {
    Prepare();
    NextSteps out;
    out.patient_id = patient_.id;
    out.ranking_rule = kn_.ranking;
    out.as_of = as_of_;
    for (const Alert& alert : assessment_.alerts) {
      if (alert.severity == AlertSeverity::Critical) out.alerts.push_back(alert);
    }
    std::stable_sort(out.alerts.begin(), out.alerts.end(), [](const Alert& left, const Alert& right) {
      return (left.finding.code == "suicide_risk") > (right.finding.code == "suicide_risk");
    });
    for (const DriverDefinition& driver : kn_.drivers) out.drivers.push_back(EvaluateDriver(driver));
    drivers_ = &out.drivers;
    for (const OptionDefinition& option : kn_.options) out.options.push_back(EvaluateOption(option));
    Rank(out.options);
    out.monitoring = Monitoring(out.options);
    out.patient = Summary(out);
    out.findings = notes_;
    std::vector<std::string> sources;
    auto add = [&sources](const std::vector<std::string>& list) { sources.insert(sources.end(), list.begin(), list.end()); };
    for (const Alert& alert : out.alerts) add(alert.finding.sources);
    for (const DriverResult& driver : out.drivers) {
      add(driver.sources);
      for (const DatedFinding& evidence : driver.evidence) add(evidence.finding.sources);
    }
    for (const OptionResult& option : out.options) {
      add(option.sources);
      for (const auto* list : {&option.reasons, &option.guideline, &option.expected_remission}) {
        for (const Finding& finding : *list) add(finding.sources);
      }
      for (const CandidateResult& candidate : option.candidates) {
        for (const Finding& finding : candidate.reasons) add(finding.sources);
      }
    }
    for (const MonitoringResult& plan : out.monitoring) add(plan.sources);
    add(out.patient.sources);
    for (const Finding& finding : out.findings) add(finding.sources);
    out.sources = Merge({}, sources);
    return out;
  }

 private:
  // --------------------------------------------------------------- facts
  void Prepare() {
    if (patient_.age_years) age_ = patient_.age_years;
    if (!age_ && patient_.birth_date) age_ = WholeYearsBetween(*patient_.birth_date, as_of_);
    failed_current_ = assessment_.trd.failed_adequate_trials;
    undecided_ = static_cast<int>(assessment_.trd.undecided_trial_indices.size());
    std::set<std::string> failed_any;
    for (const TrialAssessment& trial : assessment_.trials) {
      if (trial.failed.value_or(false) && trial.drug != nullptr && trial.drug->counts_as == CountsAs::Antidepressant) failed_any.insert(trial.drug->id);
    }
    failed_any_ = static_cast<int>(failed_any.size());
    for (const Alert& alert : assessment_.alerts) {
      if (alert.finding.code == "suicide_risk") suicide_alert_ = true;
    }
    for (const TrialAssessment& trial : assessment_.trials) {
      if (IsCurrentAntidepressant(trial)) current_ad_.push_back(&trial);
    }
    bipolar_ = assessment_.trd.status == TrdStatus::NotApplicable || patient_.history_bipolar || patient_.history_mania_or_hypomania;
    for (const Diagnosis& diagnosis : patient_.diagnoses) {
      if ((diagnosis.kind == "bipolar_i" || diagnosis.kind == "bipolar_ii" || diagnosis.kind == "cyclothymia") && diagnosis.status != "ruled_out" && diagnosis.status != "resolved") {
        bipolar_ = true;
      }
    }
    regimen_ = RegimenFromPatient(kb_, patient_, as_of_);
    baseline_ = CheckRegimen(kn_.interactions, regimen_, as_of_);
    if (kn_.pgx) {
      std::vector<PhenoconversionInput> inhibitors;
      for (const EnzymeInhibition& inhibition : InhibitionsInRegimen(kn_.interactions, regimen_, as_of_)) {
        const InhibitorStrength strength = inhibition.strength == PerpetratorStrength::Strong     ? InhibitorStrength::Strong
                                           : inhibition.strength == PerpetratorStrength::Moderate ? InhibitorStrength::Moderate
                                                                                                  : InhibitorStrength::Weak;
        inhibitors.push_back(PhenoconversionInput{inhibition.drug_id, inhibition.enzyme, strength, inhibition.sources});
      }
      auto report = AssessPgx(*kn_.pgx, kb_, patient_.genotypes, inhibitors, assessment_.trials);
      if (report) {
        pgx_ = std::move(*report);
      } else {
        notes_.push_back(Finding{"pgx_not_assessed", fmt::format("pharmacogenomic guidance not attached: {}", report.error().message), "", {}});
      }
    }
  }

  [[nodiscard]] bool IsCurrent(const std::optional<Date>& end, bool ongoing) const { return ongoing || (end && *end >= as_of_); }

  [[nodiscard]] bool IsCurrentAntidepressant(const TrialAssessment& trial) const {
    return trial.drug != nullptr && trial.drug->counts_as == CountsAs::Antidepressant && trial.role != CourseRole::Augmentation && trial.start <= as_of_ &&
           IsCurrent(trial.end, trial.ongoing);
  }

  [[nodiscard]] std::string DateText(const std::optional<Date>& date) const { return date ? FormatDate(*date) : std::string("date not recorded"); }

  [[nodiscard]] bool ConditionMatches(const std::vector<std::string>& terms, bool include_resolved, std::string* matched, std::optional<Date>* onset = nullptr) const {
    for (std::size_t index = 0; index < patient_.conditions.size(); ++index) {
      const Condition& condition = patient_.conditions[index];
      if (!include_resolved && condition.status == "resolved") continue;
      for (const std::string& term : terms) {
        if (!ContainsWord(condition.name, term)) continue;
        if (matched != nullptr) *matched = condition.name;
        if (onset != nullptr && patient_.raw.contains("conditions")) {
          const json& raw = patient_.raw["conditions"];
          if (index < raw.size() && raw[index].contains("onset")) *onset = ParseDate(raw[index]["onset"].get<std::string>());
        }
        return true;
      }
    }
    return false;
  }

  [[nodiscard]] const Diagnosis* DiagnosisMatching(const std::vector<std::string>& kinds, const std::vector<std::string>& statuses) const {
    for (const Diagnosis& diagnosis : patient_.diagnoses) {
      const std::string status = diagnosis.status.empty() ? std::string("active") : diagnosis.status;
      if (Contains(kinds, diagnosis.kind) && (statuses.empty() || Contains(statuses, status))) return &diagnosis;
    }
    return nullptr;
  }

  [[nodiscard]] std::optional<bool> HistoryFlag(const std::string& flag) const {
    const json& history = Child(patient_.raw, "history");
    const auto found = history.find(flag);
    if (found == history.end() || !found->is_boolean()) return std::nullopt;
    return found->get<bool>();
  }

  [[nodiscard]] std::optional<int> PreviousEpisodes() const {
    if (const auto value = OptInt(Child(patient_.raw, "history"), "previous_episodes")) return value;
    if (const auto number = OptInt(Child(patient_.raw, "episode"), "episode_number")) return *number - 1;
    return std::nullopt;
  }

  [[nodiscard]] std::optional<int> EpisodeMonths() const {
    if (!patient_.episode_start) return std::nullopt;
    return WholeMonthsBetween(*patient_.episode_start, as_of_);
  }

  [[nodiscard]] const VitalSign* LatestBloodPressure() const {
    const VitalSign* latest = nullptr;
    for (const VitalSign& vital : patient_.vitals) {
      if (vital.kind != "blood_pressure" || vital.date > as_of_ || (!vital.systolic && !vital.diastolic)) continue;
      if (latest == nullptr || vital.date >= latest->date) latest = &vital;
    }
    return latest;
  }

  [[nodiscard]] const LabResult* LatestLab(const std::string& name) const {
    const LabResult* latest = nullptr;
    for (const LabResult& lab : patient_.labs) {
      if (Lower(lab.name) != name || lab.date > as_of_) continue;
      if (latest == nullptr || lab.date >= latest->date) latest = &lab;
    }
    return latest;
  }

  [[nodiscard]] const ScaleResult* LatestScreen(const std::string& scale) const {
    const ScaleResult* latest = nullptr;
    for (const ScaleResult& result : assessment_.measurement.administrations) {
      if (result.scale_id != scale || result.date > as_of_) continue;
      if (latest == nullptr || result.date >= latest->date) latest = &result;
    }
    return latest;
  }

  // --------------------------------------------------------------- drivers
  struct CheckOutcome {
    bool has_data = false;
    std::vector<DatedFinding> found;
    std::vector<DatedFinding> checked;
  };

  DatedFinding Evidence(const DriverDefinition& driver, const NextStepClause& check, std::string message, std::optional<Date> date) const {
    std::vector<std::string> sources = check.sources.empty() ? driver.sources : check.sources;
    if (check.unverified) message += " (threshold marked unverified in the KB)";
    if (!check.deviation.empty()) message += fmt::format(" [{}]", check.deviation);
    return DatedFinding{Finding{check.type, std::move(message), driver.id, std::move(sources)}, date};
  }

  CheckOutcome RunCheck(const DriverDefinition& driver, const NextStepClause& check) const {
    CheckOutcome out;
    const std::string& type = check.type;
    if (type == "trial_inadequate") {
      for (const TrialAssessment& trial : assessment_.trials) {
        if (trial.episode != EpisodePlacement::Current || trial.drug == nullptr || trial.drug->counts_as != CountsAs::Antidepressant) continue;
        out.has_data = true;
        const bool current = IsCurrent(trial.end, trial.ongoing);
        if ((check.scope == "current") != current) continue;
        // An ongoing course is not yet judged by the criteria; its dose in force can already be below the minimum.
        if (current && trial.min_adequate_dose_mg_per_day && !trial.doses.empty() && trial.doses.back().mg_per_day < *trial.min_adequate_dose_mg_per_day) {
          out.found.push_back(Evidence(driver, check, fmt::format("trial {} ({}, current): {} mg/day is below the adequate dose {} mg/day", trial.index, DrugName(trial.drug), FormatNumber(trial.doses.back().mg_per_day),
                                                             FormatNumber(*trial.min_adequate_dose_mg_per_day)), trial.doses.back().from));
          continue;
        }
        if (trial.adequacy != Adequacy::Inadequate) continue;
        for (const Finding& reason : trial.adequacy_reasons) {
          if (reason.code == "adherence_below_threshold") continue;
          out.found.push_back(Evidence(driver, check, fmt::format("trial {} ({}{}): {}", trial.index, DrugName(trial.drug), current ? ", current" : "", reason.message), trial.start));
          break;
        }
      }
    } else if (type == "trial_in_progress") {
      for (const TrialAssessment& trial : assessment_.trials) {
        if (trial.episode != EpisodePlacement::Current) continue;
        out.has_data = true;
        for (const Finding& reason : trial.adequacy_reasons) {
          if (reason.code == "in_progress") out.found.push_back(Evidence(driver, check, fmt::format("trial {} ({}): {}", trial.index, DrugName(trial.drug), reason.message), trial.start));
        }
      }
    } else if (type == "adherence") {
      for (const TrialAssessment& trial : assessment_.trials) {
        if (trial.episode != EpisodePlacement::Current) continue;
        if (trial.adherence != Adherence::Unknown || trial.adherence_percent) out.has_data = true;
        const bool below = std::any_of(trial.adequacy_reasons.begin(), trial.adequacy_reasons.end(), [](const Finding& reason) { return reason.code == "adherence_below_threshold"; });
        if (trial.adherence == Adherence::Poor || trial.adherence == Adherence::Partial || below) {
          const std::string percent = trial.adherence_percent ? fmt::format(", {}% of doses", FormatNumber(*trial.adherence_percent)) : std::string();
          out.found.push_back(Evidence(driver, check, fmt::format("trial {} ({}): adherence {}{}", trial.index, DrugName(trial.drug), AdherenceName(trial.adherence), percent), trial.start));
        }
      }
    } else if (type == "daily_log_missed_doses") {
      const auto& log = assessment_.measurement.daily_log;
      if (log && log->doses_missed) {
        out.has_data = true;
        if (*log->doses_missed > 0) {
          out.found.push_back(Evidence(driver, check, fmt::format("daily log {} to {}: {} missed dose(s)", FormatDate(log->from), FormatDate(log->to), *log->doses_missed), log->to));
        }
      }
    } else if (type == "screen_positive") {
      if (const ScaleResult* result = LatestScreen(check.scale)) {
        out.has_data = true;
        const std::string total = result->total ? FormatNumber(*result->total) : std::string("no total");
        DatedFinding evidence = Evidence(driver, check, fmt::format("{} on {}: screen {} ({})", result->short_name, FormatDate(result->date), result->screen, total), result->date);
        (result->screen == "positive" ? out.found : out.checked).push_back(std::move(evidence));
      }
    } else if (type == "diagnosis") {
      if (!patient_.diagnoses.empty()) out.has_data = true;
      if (const Diagnosis* diagnosis = DiagnosisMatching(check.kinds, check.statuses)) {
        out.found.push_back(Evidence(driver, check, fmt::format("diagnosis {} ({})", diagnosis->name.empty() ? diagnosis->kind : diagnosis->name, diagnosis->status.empty() ? "active" : diagnosis->status), std::nullopt));
      }
    } else if (type == "history_flag") {
      if (const auto value = HistoryFlag(check.flag)) {
        out.has_data = true;
        if (*value) out.found.push_back(Evidence(driver, check, fmt::format("history: {}", check.flag), std::nullopt));
      }
    } else if (type == "substance_use") {
      if (!patient_.history_substance_use.empty() && patient_.history_substance_use != "unknown") {
        out.has_data = true;
        if (Contains(check.values, patient_.history_substance_use)) out.found.push_back(Evidence(driver, check, fmt::format("history: substance use {}", patient_.history_substance_use), std::nullopt));
      }
    } else if (type == "side_effect_terms") {
      const json& medications = Child(patient_.raw, "medications");
      for (std::size_t index = 0; index < medications.size(); ++index) {
        const json& effects = Child(medications[index], "side_effects");
        if (!effects.is_array()) continue;
        out.has_data = true;
        for (const auto& effect : effects) {
          if (!effect.is_string()) continue;
          const std::string text = effect.get<std::string>();
          const bool hit = std::any_of(check.terms.begin(), check.terms.end(), [&text](const std::string& term) { return ContainsWord(text, term); });
          if (!hit) continue;
          const std::optional<Date> start = medications[index].contains("start") ? ParseDate(medications[index]["start"].get<std::string>()) : std::nullopt;
          out.found.push_back(Evidence(driver, check, fmt::format("medications[{}] ({}): side effect \"{}\"", index, Str(medications[index], "drug"), text), start));
        }
      }
    } else if (type == "condition") {
      if (!patient_.conditions.empty()) out.has_data = true;
      std::string matched;
      std::optional<Date> onset;
      if (ConditionMatches(check.terms, false, &matched, &onset)) out.found.push_back(Evidence(driver, check, fmt::format("condition: {}", matched), onset));
    } else if (type == "lab_outside") {
      if (!check.sex.empty() && patient_.sex != check.sex) return out;
      if (const LabResult* lab = LatestLab(check.lab)) {
        const std::string unit = CompactUnit(lab->unit);
        const auto range = std::find_if(check.ranges.begin(), check.ranges.end(), [&unit](const NextStepClause::Range& candidate) { return candidate.unit == unit; });
        if (range == check.ranges.end()) {
          out.checked.push_back(Evidence(driver, check, fmt::format("{} {} {} on {}: unit not interpretable by this rule", lab->name, FormatNumber(lab->value), lab->unit, FormatDate(lab->date)), lab->date));
          return out;
        }
        out.has_data = true;
        const bool low = range->low && lab->value < *range->low;
        const bool high = range->high && lab->value > *range->high;
        const std::string bound = low ? fmt::format("below {}", FormatNumber(*range->low)) : high ? fmt::format("above {}", FormatNumber(*range->high)) : std::string("within range");
        DatedFinding evidence = Evidence(driver, check, fmt::format("{} {} {} on {}: {}", lab->name, FormatNumber(lab->value), lab->unit, FormatDate(lab->date), bound), lab->date);
        (low || high ? out.found : out.checked).push_back(std::move(evidence));
      }
    } else if (type == "interaction_findings") {
      out.has_data = !baseline_.checked.empty();
      const int minimum = check.min_severity == "contraindicated" ? 4 : check.min_severity == "major" ? 3 : check.min_severity == "moderate" ? 2 : 1;
      for (const InteractionFinding& finding : baseline_.findings) {
        if (finding.timing != InteractionTiming::Current || static_cast<int>(finding.severity) < minimum) continue;
        if (!check.codes.empty() && !Contains(check.codes, finding.code)) continue;
        std::vector<std::string> sources = finding.sources;
        out.found.push_back(DatedFinding{Finding{"interaction", fmt::format("{} ({}): {}", InteractionSeverityName(finding.severity), finding.rule, finding.message), finding.rule, sources}, finding.overlap_from});
      }
    } else if (type == "pgx_history") {
      out.has_data = !patient_.genotypes.empty();
      if (pgx_) {
        for (const Finding& finding : pgx_->history) out.found.push_back(DatedFinding{finding, std::nullopt});
      }
    } else if (type == "pgx_phenotype") {
      out.has_data = !patient_.genotypes.empty();
      if (pgx_) {
        for (const GeneResult& gene : pgx_->genes) {
          const std::optional<Phenotype> phenotype = gene.effective_phenotype ? gene.effective_phenotype : gene.phenotype;
          if (!phenotype || !Contains(check.phenotypes, std::string(PhenotypeKey(*phenotype)))) continue;
          out.found.push_back(DatedFinding{Finding{"pgx_phenotype", fmt::format("{} {}{}", gene.gene, PhenotypeKey(*phenotype), gene.phenoconverted ? " (phenoconverted by a co-medication)" : ""), gene.rule, gene.sources}, std::nullopt});
        }
      }
    } else if (type == "pgx_testing") {
      out.has_data = !patient_.genotypes.empty();
      if (pgx_ && pgx_->testing) out.found.push_back(DatedFinding{*pgx_->testing, std::nullopt});
    } else if (type == "failed_trials_at_least") {
      out.has_data = !assessment_.trials.empty();
      if (check.count && failed_current_ >= *check.count) out.found.push_back(Evidence(driver, check, fmt::format("{} failed adequate trials in this episode (rule: {} or more)", failed_current_, *check.count), std::nullopt));
    } else if (type == "episode_months_at_least") {
      if (const auto months = EpisodeMonths()) {
        out.has_data = true;
        if (check.months && *months >= *check.months) out.found.push_back(Evidence(driver, check, fmt::format("episode since {}: {} months (rule: {} or more)", FormatDate(*patient_.episode_start), *months, *check.months), patient_.episode_start));
      }
    } else if (type == "age_sex_window") {
      if (age_ && !patient_.sex.empty() && patient_.sex != "unknown") {
        out.has_data = true;
        if (patient_.sex == check.sex && check.min_age && check.max_age && *age_ >= *check.min_age && *age_ <= *check.max_age) {
          out.found.push_back(Evidence(driver, check, fmt::format("{}, age {}: in the usual age range of the menopausal transition ({}-{})", patient_.sex, *age_, *check.min_age, *check.max_age), std::nullopt));
        }
      }
    }
    return out;
  }

  DriverResult EvaluateDriver(const DriverDefinition& driver) const {
    DriverResult result;
    result.id = driver.id;
    result.name = driver.name;
    result.group = driver.group;
    result.looks_for = driver.looks_for;
    result.question = driver.question;
    result.test = driver.test;
    result.often_next = driver.often_next;
    result.patient_text = driver.patient_text;
    result.unverified = driver.unverified;
    result.rule = driver.id;
    result.sources = driver.sources;
    bool any_data = false;
    bool present = false;
    bool possible = false;
    std::vector<DatedFinding> checked;
    for (const NextStepClause& check : driver.checks) {
      CheckOutcome outcome = RunCheck(driver, check);
      any_data = any_data || outcome.has_data;
      if (!outcome.found.empty()) (check.status == "present" ? present : possible) = true;
      for (DatedFinding& evidence : outcome.found) result.evidence.push_back(std::move(evidence));
      for (DatedFinding& evidence : outcome.checked) checked.push_back(std::move(evidence));
    }
    if (present) {
      result.status = DriverStatus::Present;
    } else if (possible) {
      result.status = DriverStatus::Possible;
    } else if (any_data) {
      result.status = DriverStatus::NotFound;
      result.evidence = std::move(checked);
    } else {
      result.status = DriverStatus::Unknown;
      result.evidence.push_back(DatedFinding{Finding{"unknown", fmt::format("no data in the record: {} ({})", driver.question, driver.test), driver.id, driver.sources}, std::nullopt});
    }
    return result;
  }

  [[nodiscard]] const DriverResult* FindDriverResult(std::string_view id) const {
    if (drivers_ == nullptr) return nullptr;
    for (const DriverResult& driver : *drivers_) {
      if (driver.id == id) return &driver;
    }
    return nullptr;
  }

  // --------------------------------------------------------------- options
  Tri EvaluateClause(const NextStepClause& clause, std::string& detail) const {
    const std::string& type = clause.type;
    if (type == "always") return Tri::Yes;
    if (type == "current_antidepressant") {
      if (current_ad_.empty()) {
        detail = "no current antidepressant in the record";
        return Tri::No;
      }
      detail = fmt::format("current antidepressant: {}", DrugName(current_ad_.front()->drug));
      return Tri::Yes;
    }
    if (type == "inadequate_response_current") {
      bool unknown = false;
      for (const TrialAssessment* trial : current_ad_) {
        if (trial->failed.value_or(false) || trial->outcome == Outcome::Nonresponse || trial->outcome == Outcome::Partial) {
          detail = fmt::format("{}: outcome {}", DrugName(trial->drug), OutcomeName(trial->outcome));
          return Tri::Yes;
        }
        if (trial->outcome == Outcome::Unknown) unknown = true;
      }
      if (unknown) detail = "the outcome of the current antidepressant is not recorded";
      return unknown ? Tri::Unknown : Tri::No;
    }
    if (type == "failed_trials_at_least") {
      const int need = clause.count.value_or(0);
      const bool any = clause.scope == "any_episode";
      const int have = any ? failed_any_ : failed_current_;
      detail = fmt::format("{} failed adequate trial(s) {} (needs {})", have, any ? "in all episodes" : "in this episode", need);
      if (have >= need) return Tri::Yes;
      if (have + undecided_ >= need) {
        detail += fmt::format("; {} trial(s) still undecided could change this", undecided_);
        return Tri::Unknown;
      }
      return Tri::No;
    }
    if (type == "psychotic_features") {
      detail = patient_.psychotic_features.value_or(false) ? "psychotic features in this episode" : "no psychotic features recorded";
      return patient_.psychotic_features.value_or(false) ? Tri::Yes : Tri::No;
    }
    if (type == "suicide_alert") {
      detail = suicide_alert_ ? "suicide-risk alert active" : "no suicide-risk alert";
      return suicide_alert_ ? Tri::Yes : Tri::No;
    }
    if (type == "episode_severity") {
      detail = patient_.episode_severity.empty() ? std::string("episode severity not recorded") : fmt::format("episode severity {}", patient_.episode_severity);
      return Contains(clause.values, patient_.episode_severity) ? Tri::Yes : Tri::No;
    }
    if (type == "episode_months_at_least") {
      const auto months = EpisodeMonths();
      if (!months) {
        detail = "episode start not recorded";
        return Tri::Unknown;
      }
      detail = fmt::format("episode of {} months (needs {})", *months, clause.months.value_or(0));
      return *months >= clause.months.value_or(0) ? Tri::Yes : Tri::No;
    }
    if (type == "previous_episodes_at_least") {
      const auto previous = PreviousEpisodes();
      if (!previous) {
        detail = "number of previous episodes not recorded";
        return Tri::Unknown;
      }
      detail = fmt::format("{} previous episode(s)", *previous);
      return *previous >= clause.count.value_or(0) ? Tri::Yes : Tri::No;
    }
    if (type == "driver") {
      const DriverResult* driver = FindDriverResult(clause.driver);
      if (driver == nullptr) return Tri::Unknown;
      detail = fmt::format("{}: {}", driver->name, DriverStatusName(driver->status));
      if (Contains(clause.statuses, std::string(DriverStatusName(driver->status)))) return Tri::Yes;
      return driver->status == DriverStatus::Unknown ? Tri::Unknown : Tri::No;
    }
    if (type == "condition") {
      std::string matched;
      if (ConditionMatches(clause.terms, false, &matched)) {
        detail = fmt::format("condition: {}", matched);
        return Tri::Yes;
      }
      return Tri::No;
    }
    if (type == "prior_procedure_response") {
      for (const ProcedureAssessment& procedure : assessment_.procedures) {
        if (procedure.kind == clause.kind && (procedure.outcome == Outcome::Response || procedure.outcome == Outcome::Remission)) {
          detail = fmt::format("previous {} from {}: {}", procedure.kind, FormatDate(procedure.start), OutcomeName(procedure.outcome));
          return Tri::Yes;
        }
      }
      return Tri::No;
    }
    return Tri::Unknown;
  }

  void AddReason(OptionResult& result, OptionStatus status, std::string code, std::string message, std::string rule, std::vector<std::string> sources) const {
    result.status = Worse(result.status, status);
    result.reasons.push_back(Finding{std::move(code), std::move(message), std::move(rule), std::move(sources)});
  }

  [[nodiscard]] bool WarningApplies(const NextStepClause& warning, std::string& detail) const {
    const std::string& type = warning.type;
    if (type == "bp_above") {
      const VitalSign* bp = LatestBloodPressure();
      if (bp == nullptr) return false;
      const bool above = (warning.systolic && bp->systolic && *bp->systolic > *warning.systolic) || (warning.diastolic && bp->diastolic && *bp->diastolic > *warning.diastolic);
      detail = fmt::format("blood pressure {}/{} mmHg on {}", bp->systolic ? FormatNumber(*bp->systolic) : "?", bp->diastolic ? FormatNumber(*bp->diastolic) : "?", FormatDate(bp->date));
      return above;
    }
    if (type == "bp_missing") return LatestBloodPressure() == nullptr;
    if (type == "substance_use") {
      detail = fmt::format("substance use: {}", patient_.history_substance_use);
      return Contains(warning.values, patient_.history_substance_use);
    }
    if (type == "history_flag") {
      detail = fmt::format("history: {}", warning.flag);
      return HistoryFlag(warning.flag).value_or(false);
    }
    if (type == "condition") {
      std::string matched;
      if (!ConditionMatches(warning.terms, false, &matched)) return false;
      detail = fmt::format("condition: {}", matched);
      return true;
    }
    if (type == "diagnosis") {
      const Diagnosis* diagnosis = DiagnosisMatching(warning.kinds, {"active", "suspected"});
      if (diagnosis != nullptr) detail = fmt::format("diagnosis: {}", diagnosis->kind);
      return diagnosis != nullptr;
    }
    if (type == "suicide_alert") {
      detail = "suicide-risk alert active";
      return suicide_alert_;
    }
    if (type == "failed_trials_below") {
      detail = fmt::format("{} failed adequate trial(s) in this episode", failed_current_);
      return failed_current_ < warning.count.value_or(0);
    }
    return false;
  }

  [[nodiscard]] std::optional<std::string> ContraindicationMatch(const OptionContraindication& contraindication) const {
    std::string matched;
    if (ConditionMatches(contraindication.conditions, true, &matched)) return fmt::format("condition: {}", matched);
    if (const Diagnosis* diagnosis = DiagnosisMatching(contraindication.diagnoses, {"active", "in_remission", "suspected"})) return fmt::format("diagnosis: {}", diagnosis->kind);
    for (const Procedure& procedure : patient_.procedures) {
      if (Contains(contraindication.procedures, procedure.kind)) return fmt::format("procedure: {} from {} (implanted device)", procedure.kind, FormatDate(procedure.start));
    }
    for (const AdverseReaction& reaction : patient_.adverse_reactions) {
      if (reaction.drug == nullptr || !Contains(contraindication.adverse_reaction_drugs, reaction.drug->id)) continue;
      const bool kind = contraindication.reactions.empty() ||
                        std::any_of(contraindication.reactions.begin(), contraindication.reactions.end(), [&reaction](const std::string& term) { return ContainsWord(reaction.reaction, term); });
      if (kind) return fmt::format("adverse reaction to {}: {}{}", reaction.drug->inn, reaction.reaction, reaction.date ? " on " + FormatDate(*reaction.date) : std::string());
    }
    return std::nullopt;
  }

  std::vector<const Drug*> Candidates(const OptionDefinition& option, OptionResult& result) const {
    std::vector<const Drug*> out;
    if (option.within_class) {
      std::set<std::string> classes;
      for (const TrialAssessment* trial : current_ad_) classes.insert(trial->drug->class_id);
      for (const Drug& drug : kb_.drugs()) {
        if (drug.counts_as != CountsAs::Antidepressant || classes.count(drug.class_id) == 0 || !drug.components.empty()) continue;
        if (!Contains(drug.markets, "US") && !drug.markets.empty()) continue;
        out.push_back(&drug);
      }
      if (out.empty() && !classes.empty()) {
        AddReason(result, OptionStatus::NotEligible, "no_candidate", "no other drug of the current antidepressant's class is in the catalogue", option.id, option.sources);
      }
      return out;
    }
    for (const std::string& id : option.drugs) {
      if (const Drug* drug = kb_.FindDrug(id)) out.push_back(drug);
    }
    return out;
  }

  [[nodiscard]] bool TakingNow(const Drug& drug) const {
    for (const RegimenEntry& entry : regimen_.entries) {
      if (entry.drug == &drug && !entry.proposed && (!entry.start || *entry.start <= as_of_) && IsCurrent(entry.end, entry.ongoing || !entry.end)) return true;
    }
    return false;
  }

  CandidateResult EvaluateCandidate(const OptionDefinition& option, const Drug& drug) const {
    CandidateResult candidate;
    candidate.drug_id = drug.id;
    candidate.drug_name = drug.inn;
    auto reason = [&candidate](OptionStatus status, std::string code, std::string message, std::string rule, std::vector<std::string> sources) {
      candidate.status = Worse(candidate.status, status);
      candidate.reasons.push_back(Finding{std::move(code), std::move(message), std::move(rule), std::move(sources)});
    };
    if (TakingNow(drug)) {
      reason(OptionStatus::NotEligible, "already_taking", fmt::format("{} is already taken now", drug.inn), option.id, option.sources);
      return candidate;
    }
    for (const TrialAssessment& trial : assessment_.trials) {
      if (trial.drug != &drug || trial.episode != EpisodePlacement::Current || !trial.failed.value_or(false)) continue;
      const std::string dates = fmt::format("{} to {}", FormatDate(trial.start), DateText(trial.end));
      std::string text = kn_.already_tried.text;
      const std::size_t at_drug = text.find("{drug}");
      if (at_drug != std::string::npos) text.replace(at_drug, 6, drug.inn);
      const std::size_t at_dates = text.find("{dates}");
      if (at_dates != std::string::npos) text.replace(at_dates, 7, dates);
      reason(OptionStatus::Conditional, "already_tried", text, kn_.rules_id, kn_.already_tried.sources);
    }
    for (const TachyphylaxisResult& loss : assessment_.measurement.tachyphylaxis) {
      const TrialAssessment* trial = nullptr;
      for (const TrialAssessment& candidate_trial : assessment_.trials) {
        if (candidate_trial.index == loss.trial) trial = &candidate_trial;
      }
      if (trial == nullptr || trial->drug == nullptr) continue;
      if (trial->drug != &drug && trial->drug->class_id != drug.class_id) continue;
      std::string text = kn_.tolerance.text;
      const std::size_t at = text.find("{drug}");
      if (at != std::string::npos) text.replace(at, 6, trial->drug->inn);
      reason(OptionStatus::Conditional, "tolerance", fmt::format("{} (lost from {})", text, FormatDate(loss.loss_from)), kn_.rules_id, kn_.tolerance.sources);
    }
    // Interactions: a switch stops the current antidepressants the day before; an addition keeps them.
    // The same drug is often a candidate of several options with the same action (a switch within the
    // class and a switch to an SNRI): its regimen check is made once.
    const std::string memo_key = option.action + "|" + drug.id;
    auto memo = checked_additions_.find(memo_key);
    if (memo == checked_additions_.end()) {
      Regimen regimen = regimen_;
      if (option.action == "switch") {
        for (RegimenEntry& entry : regimen.entries) {
          if (entry.drug == nullptr || entry.drug->counts_as != CountsAs::Antidepressant || entry.origin.rfind("medications", 0) != 0) continue;
          if (entry.end && *entry.end < as_of_) continue;
          entry.ongoing = false;
          entry.end = AddDays(as_of_, -1);
        }
      }
      AddProposed(regimen, drug, drug.inn, std::nullopt);
      memo = checked_additions_.emplace(memo_key, CheckRegimen(kn_.interactions, regimen, as_of_, CheckScope::ProposedOnly)).first;
    }
    const InteractionReport& report = memo->second;
    for (const InteractionFinding& finding : report.findings) {
      const bool involves = std::any_of(finding.drugs.begin(), finding.drugs.end(), [&drug](const InvolvedDrug& involved) { return involved.proposed && involved.drug_id == drug.id; });
      if (!involves) continue;
      OptionStatus status = OptionStatus::Eligible;
      if (finding.severity == InteractionSeverity::Contraindicated) status = OptionStatus::NotEligible;
      if (finding.severity == InteractionSeverity::Major) status = OptionStatus::Conditional;
      std::string message = fmt::format("{} interaction ({}): {}", InteractionSeverityName(finding.severity), finding.code, finding.message);
      if (!finding.action.empty()) message += fmt::format("; {}", finding.action);
      if (finding.earliest_start) message += fmt::format("; earliest start {}", FormatDate(*finding.earliest_start));
      reason(status, "interaction", std::move(message), finding.rule, finding.sources);
    }
    for (const UnresolvedDrug& unresolved : report.unresolved) {
      // A name the KB does not know (often a vitamin or a drug no rule needs) is named, not held against the option.
      reason(OptionStatus::Eligible, "interaction_unchecked", fmt::format("{} ({}) is not in the KB: its interactions with {} were not checked", unresolved.input_name, unresolved.origin, drug.inn), kn_.rules_id, {});
    }
    if (pgx_) {
      for (const DrugGuidance& guidance : pgx_->drugs) {
        if (guidance.drug_id != drug.id) continue;
        for (const GuidanceMatch& match : guidance.cpic) {
          const bool act = match.action == GuidanceAction::Avoid || match.action == GuidanceAction::Alternative || match.action == GuidanceAction::Adjust;
          reason(act ? OptionStatus::Conditional : OptionStatus::Eligible, "pgx", fmt::format("{} ({}): {}", guidance.guideline.empty() ? "CPIC" : guidance.guideline, GuidanceActionName(match.action), match.recommendation), match.rule, guidance.sources);
        }
        for (const LabelMatch& label : guidance.label) {
          reason(OptionStatus::Conditional, "pgx_label", fmt::format("label ({}): {}", label.triggered_by, label.text), label.statement, label.sources);
        }
      }
    }
    return candidate;
  }

  void DoseOptimization(const OptionDefinition& option, OptionResult& result) const {
    for (const TrialAssessment* trial : current_ad_) {
      const std::optional<double> dose = trial->doses.empty() ? std::nullopt : std::optional<double>(trial->doses.back().mg_per_day);
      if (!dose) {
        AddReason(result, OptionStatus::Conditional, "dose_unknown", fmt::format("{}: current dose not recorded", DrugName(trial->drug)), option.id, option.sources);
        continue;
      }
      const std::optional<double> maximum = trial->drug != nullptr ? trial->drug->max_dose_mg_per_day : std::nullopt;
      // The patient's own maximum (dose caps for age, genotype, liver disease, co-medication) may be
      // below the label's: ask the regimen check what a higher dose of this course would meet.
      if (const InteractionFinding* cap = PatientDoseCap(*trial)) {
        if (*dose >= *cap->limit_mg_per_day) {
          AddReason(result, OptionStatus::NotEligible, "at_patient_maximum",
                    fmt::format("{} {} mg/day is at the maximum for this patient, {} mg/day ({})", DrugName(trial->drug), FormatNumber(*dose),
                                FormatNumber(*cap->limit_mg_per_day), fmt::join(cap->factors, "; ")),
                    cap->rule, cap->sources);
          continue;
        }
        result.reasons.push_back(Finding{"dose_room",
                                         fmt::format("{} now {} mg/day (maximum for this patient {} mg/day: {})", DrugName(trial->drug), FormatNumber(*dose),
                                                     FormatNumber(*cap->limit_mg_per_day), fmt::join(cap->factors, "; ")),
                                         cap->rule, cap->sources});
        continue;
      }
      if (maximum && *dose >= *maximum) {
        AddReason(result, OptionStatus::NotEligible, "at_maximum", fmt::format("{} {} mg/day is at the labelled maximum {} mg/day", DrugName(trial->drug), FormatNumber(*dose), FormatNumber(*maximum)), option.id,
                  trial->drug->max_dose_sources);
        continue;
      }
      const std::string room = maximum ? fmt::format(" (labelled maximum {} mg/day)", FormatNumber(*maximum)) : std::string();
      result.reasons.push_back(Finding{"dose_room", fmt::format("{} now {} mg/day{}", DrugName(trial->drug), FormatNumber(*dose), room), option.id, trial->drug != nullptr ? trial->drug->max_dose_sources : option.sources});
    }
  }

  // The dose-cap finding a course would meet at any higher dose, when a cap for this patient lies
  // below the drug's labelled maximum; null when none does.
  const InteractionFinding* PatientDoseCap(const TrialAssessment& trial) const {
    if (trial.drug == nullptr) return nullptr;
    const std::string origin = fmt::format("medications[{}]", trial.input_index);
    Regimen raised = regimen_;
    bool found = false;
    for (RegimenEntry& entry : raised.entries) {
      if (entry.origin != origin) continue;
      entry.mg_per_day = std::numeric_limits<double>::max();
      found = true;
    }
    if (!found) return nullptr;
    auto [memo, inserted] = dose_caps_.try_emplace(origin);
    if (inserted) memo->second = CheckRegimen(kn_.interactions, raised, as_of_);
    const std::optional<double> maximum = trial.drug->max_dose_mg_per_day;
    for (const InteractionFinding& finding : memo->second.findings) {
      if (finding.code != "dose_cap" || !finding.limit_mg_per_day || finding.factors.empty()) continue;
      if (finding.drugs.empty() || finding.drugs.front().origin != origin) continue;
      if (maximum && *finding.limit_mg_per_day >= *maximum) continue;
      return &finding;
    }
    return nullptr;
  }

  void AlreadyTriedNonDrug(const OptionDefinition& option, OptionResult& result) const {
    if (!option.procedure_kind.empty()) {
      for (const ProcedureAssessment& procedure : assessment_.procedures) {
        if (procedure.kind != option.procedure_kind) continue;
        if (IsCurrent(procedure.end, procedure.ongoing)) {
          AddReason(result, OptionStatus::NotEligible, "already_receiving", fmt::format("{} in progress since {}", procedure.kind, FormatDate(procedure.start)), option.id, option.sources);
        } else if (procedure.episode == EpisodePlacement::Current && procedure.failed.value_or(false)) {
          AddReason(result, OptionStatus::Conditional, "already_tried", fmt::format("{} tried in this episode ({} to {}) without adequate response", procedure.kind, FormatDate(procedure.start), DateText(procedure.end)), kn_.rules_id,
                    kn_.already_tried.sources);
        }
      }
    }
    if (!option.psychotherapy_kind.empty()) {
      const json& courses = Child(Child(patient_.raw, "history"), "psychotherapy");
      for (const auto& course : courses) {
        if (Str(course, "kind") != option.psychotherapy_kind) continue;
        const std::string outcome = Str(course, "outcome");
        const std::string start = Str(course, "start");
        const std::string end = Str(course, "end");
        if (end.empty() && !start.empty()) {
          AddReason(result, OptionStatus::Conditional, "already_receiving", fmt::format("{} recorded from {} without an end", option.psychotherapy_kind, start), option.id, option.sources);
        } else if (outcome == "nonresponse" || outcome == "partial") {
          AddReason(result, OptionStatus::Conditional, "already_tried", fmt::format("{} tried ({} to {}): outcome {}", option.psychotherapy_kind, start.empty() ? "?" : start, end.empty() ? "?" : end, outcome), kn_.rules_id,
                    kn_.already_tried.sources);
        }
      }
    }
  }

  OptionResult EvaluateOption(const OptionDefinition& option) const {
    OptionResult result;
    result.id = option.id;
    result.name = option.name;
    result.patient_name = option.patient_name;
    result.patient_text = option.patient_text;
    result.category = option.category;
    result.monitoring = option.monitoring;
    result.requires_specialist = option.requires_specialist;
    result.rule = option.id;
    result.sources = option.sources;
    // 1. Age, pregnancy, breastfeeding, bipolarity.
    if (option.min_age_years > 0) {
      if (!age_) {
        AddReason(result, OptionStatus::Conditional, "age_unknown", fmt::format("age not recorded: the option is for ages {} and over", option.min_age_years), option.id, option.constraint_sources);
      } else if (*age_ < option.min_age_years) {
        AddReason(result, OptionStatus::NotEligible, "age", fmt::format("age {}: the option is for ages {} and over", *age_, option.min_age_years), option.id, option.constraint_sources);
      }
    }
    auto policy = [&](const std::string& value, bool applies, const char* what) {
      if (!applies || value == "no_restriction" || value.empty()) return;
      const OptionStatus status = value == "contraindicated" ? OptionStatus::NotEligible : OptionStatus::Conditional;
      const std::string wording = value == "contraindicated" ? "should not be used" : value == "avoid" ? "is generally avoided" : "needs specialist weighing of risks and benefits";
      AddReason(result, status, what, fmt::format("{}: this option {} ({})", what, wording, value), option.id, option.constraint_sources);
    };
    policy(option.pregnancy, patient_.pregnant.value_or(false), "pregnancy");
    policy(option.breastfeeding, patient_.breastfeeding.value_or(false), "breastfeeding");
    if (bipolar_ && option.bipolar == "not_indicated") {
      AddReason(result, OptionStatus::NotEligible, "bipolar", "the record shows bipolar disorder or mania/hypomania: this option is for unipolar depression", option.id, Merge(option.constraint_sources, assessment_.trd.sources));
    } else if (bipolar_ && option.bipolar == "caution") {
      AddReason(result, OptionStatus::Conditional, "bipolar", "the record shows bipolar disorder or mania/hypomania: risk of switching into mania; use with a mood stabiliser and specialist input", option.id, option.constraint_sources);
    }
    // 2. Contraindications.
    for (const OptionContraindication& contraindication : option.contraindications) {
      if (const auto match = ContraindicationMatch(contraindication)) {
        AddReason(result, OptionStatus::NotEligible, "contraindication", fmt::format("contraindicated: {} ({})", contraindication.text, *match), option.id + "#" + contraindication.id, contraindication.sources);
      }
    }
    // 3. Indication.
    for (const IndicationRequirement& group : option.indication) {
      Tri overall = Tri::No;
      std::vector<std::string> details;
      const NextStepClause* held_by = nullptr;
      for (const NextStepClause& clause : group.any_of) {
        std::string detail;
        const Tri value = EvaluateClause(clause, detail);
        if (!detail.empty()) details.push_back(detail);
        if (value == Tri::Yes) {
          overall = Tri::Yes;
          details = {detail};
          held_by = &clause;
          break;
        }
        if (value == Tri::Unknown) overall = Tri::Unknown;
      }
      std::string joined;
      for (const std::string& detail : details) joined += (joined.empty() ? "" : "; ") + detail;
      if (overall == Tri::Yes) {
        result.reasons.push_back(Finding{"indication_met", joined.empty() ? fmt::format("indication met: {}", group.text) : fmt::format("indication met: {} ({})", group.text, joined), option.id, option.indication_sources});
        if (held_by != nullptr && !held_by->confirm.empty()) {
          AddReason(result, OptionStatus::Conditional, "indication_confirm", fmt::format("indication met only by {}: {}", joined, held_by->confirm), option.id, option.indication_sources);
        }
      } else if (overall == Tri::Unknown) {
        AddReason(result, OptionStatus::Deferred, "indication_undecided", fmt::format("cannot tell yet: {} ({})", group.text, joined), option.id, option.indication_sources);
      } else {
        AddReason(result, OptionStatus::NotEligible, "indication_not_met", fmt::format("indication not met: {} ({})", group.text, joined), option.id, option.indication_sources);
      }
    }
    // 4. Drivers to address first.
    for (const std::string& id : option.defer_when_drivers) {
      const DriverResult* driver = FindDriverResult(id);
      if (driver == nullptr || driver->status != DriverStatus::Present) continue;
      const std::string first = driver->evidence.empty() ? std::string() : fmt::format(" ({})", driver->evidence.front().finding.message);
      AddReason(result, OptionStatus::Deferred, "address_first", fmt::format("address first: {}{}", driver->name, first), driver->id, driver->sources);
    }
    // 5. Labelled warnings and off-label use.
    for (const NextStepClause& warning : option.warnings) {
      std::string detail;
      if (!WarningApplies(warning, detail)) continue;
      std::string message = detail.empty() ? warning.text : fmt::format("{} ({})", warning.text, detail);
      if (warning.unverified) message += " (threshold marked unverified in the KB)";
      AddReason(result, OptionStatus::Conditional, "warning", std::move(message), option.id + "#" + warning.id, warning.sources);
    }
    if (option.off_label) AddReason(result, OptionStatus::Conditional, "off_label", kn_.off_label.text, kn_.rules_id, kn_.off_label.sources);
    if (option.requires_specialist) result.reasons.push_back(Finding{"specialist", "usually given or started by a specialist service", option.id, option.sources});
    // 6. Tried before, dose room, drug candidates with interactions and PGx.
    AlreadyTriedNonDrug(option, result);
    if (option.action == "adjust") DoseOptimization(option, result);
    const std::vector<const Drug*> drugs = Candidates(option, result);
    if (!drugs.empty()) {
      OptionStatus best = OptionStatus::NotEligible;
      for (const Drug* drug : drugs) {
        CandidateResult candidate = EvaluateCandidate(option, *drug);
        best = Better(best, candidate.status);
        result.candidates.push_back(std::move(candidate));
      }
      if (best != OptionStatus::Eligible) {
        std::string names;
        for (const CandidateResult& candidate : result.candidates) names += (names.empty() ? "" : ", ") + fmt::format("{} {}", candidate.drug_name, OptionStatusName(candidate.status));
        AddReason(result, best, "candidates", fmt::format("best candidate drug is {}: {}", OptionStatusName(best), names), option.id, option.sources);
      }
    }
    // 7. Guideline positions and expected remission.
    for (const GuidelinePosition& position : option.guideline) {
      result.guideline.push_back(Finding{"guideline", fmt::format("{}: {}{}", position.guideline, position.position, position.unverified ? " (unverified)" : ""), option.id, position.sources});
    }
    if (option.star_d_applies && !kn_.star_d.levels.empty()) {
      const int level = std::min(failed_current_ + 1, kn_.star_d.levels.back().first);
      for (const auto& [step, percent] : kn_.star_d.levels) {
        if (step != level) continue;
        std::string text = kn_.star_d.text;
        for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"{level}", std::to_string(step)}, {"{percent}", FormatNumber(percent)}, {"{scale}", kn_.star_d.scale}}) {
          const std::size_t at = text.find(key);
          if (at != std::string::npos) text.replace(at, key.size(), value);
        }
        result.expected_remission.push_back(Finding{"star_d_level", fmt::format("{} {}", text, kn_.star_d.caveat), kn_.rules_id, kn_.star_d.sources});
      }
      if (option.star_d_arm) result.expected_remission.push_back(*option.star_d_arm);
    }
    return result;
  }

  void Rank(std::vector<OptionResult>& options) const {
    struct Key {
      int status;
      int rapid;
      int step;
      int line;
      int order;
    };
    std::map<std::string, Key> keys;
    std::map<std::string, const OptionDefinition*> definitions;
    for (const OptionResult& option : options) {
      const OptionDefinition* definition = kn_.FindOption(option.id);
      definitions[option.id] = definition;
      const bool first_line = std::any_of(definition->guideline.begin(), definition->guideline.end(), [](const GuidelinePosition& position) { return position.position.rfind("first-line", 0) == 0; });
      keys[option.id] = Key{StatusRank(option.status), suicide_alert_ && definition->rapid_acting ? 0 : 1, definition->usual_after_failed_trials <= failed_current_ ? 0 : 1, first_line ? 0 : 1,
                            definition->order};
    }
    std::stable_sort(options.begin(), options.end(), [&keys](const OptionResult& left, const OptionResult& right) {
      const Key& a = keys.at(left.id);
      const Key& b = keys.at(right.id);
      return std::tie(a.status, a.rapid, a.step, a.line, a.order) < std::tie(b.status, b.rapid, b.step, b.line, b.order);
    });
    for (std::size_t index = 0; index < options.size(); ++index) {
      OptionResult& option = options[index];
      const Key& key = keys.at(option.id);
      const OptionDefinition* definition = definitions.at(option.id);
      option.rank = static_cast<int>(index) + 1;
      std::vector<std::string> parts{fmt::format("listed {}: status {}", Ordinal(option.rank), OptionStatusName(option.status))};
      if (key.rapid == 0) parts.push_back("rapid-acting option placed first because a suicide-risk alert is active");
      parts.push_back(fmt::format("guidelines usually place it after {} failed trial(s); this patient has {}{}", definition->usual_after_failed_trials, failed_current_,
                                  key.step == 0 ? " (reached)" : " (not yet reached, so listed later)"));
      if (key.line == 0) parts.push_back("a first-line guideline position");
      std::string text;
      for (const std::string& part : parts) text += (text.empty() ? "" : "; ") + part;
      option.ranking = text;
    }
  }

  // --------------------------------------------------------------- monitoring
  [[nodiscard]] std::optional<Date> Recorded(const MonitoringItemDefinition& item, Date date) const {
    const long window = kn_.match_window_days;
    std::optional<Date> best;
    auto consider = [&](Date when) {
      if (AbsDays(DaysBetween(date, when)) <= window && when <= as_of_ && (!best || AbsDays(DaysBetween(date, when)) < AbsDays(DaysBetween(date, *best)))) best = when;
    };
    if (!item.lab.empty()) {
      for (const LabResult& lab : patient_.labs) {
        if (Lower(lab.name) == item.lab) consider(lab.date);
      }
    }
    if (!item.vital.empty()) {
      for (const VitalSign& vital : patient_.vitals) {
        if (vital.kind == item.vital) consider(vital.date);
      }
    }
    return best;
  }

  MonitoringResult BuildPlan(const MonitoringPlanDefinition& plan, Date start, std::string basis, std::string treatment) const {
    MonitoringResult result;
    result.plan = plan.id;
    result.name = plan.name;
    result.basis = std::move(basis);
    result.treatment = std::move(treatment);
    result.start = start;
    result.session = plan.session;
    result.notes = plan.notes;
    result.sources = plan.sources;
    const Date from = AddDays(as_of_, -kn_.display_past_days);
    const Date until = AddDays(as_of_, kn_.display_ahead_days);
    for (const MonitoringItemDefinition& item : plan.items) {
      std::vector<int> days = item.days;
      if (item.repeat_every_days && item.repeat_until_day) {
        const int first = item.repeat_from_day.value_or(days.empty() ? 0 : days.back() + *item.repeat_every_days);
        for (int day = first; day <= *item.repeat_until_day; day += *item.repeat_every_days) days.push_back(day);
      }
      std::sort(days.begin(), days.end());
      days.erase(std::unique(days.begin(), days.end()), days.end());
      for (const int day : days) {
        const Date date = AddDays(start, day);
        if (date < from || date > until) continue;
        MonitoringEntry entry;
        entry.date = date;
        entry.day = day;
        entry.item = item.id;
        entry.what = item.what;
        entry.label = item.label;
        entry.timing = date < as_of_ ? "past" : date == as_of_ ? "due" : "upcoming";
        entry.recorded_on = Recorded(item, date);
        entry.note = item.note;
        entry.unverified = item.unverified;
        entry.sources = item.sources;
        result.checklist.push_back(std::move(entry));
      }
    }
    std::stable_sort(result.checklist.begin(), result.checklist.end(), [](const MonitoringEntry& left, const MonitoringEntry& right) { return left.date < right.date; });
    return result;
  }

  std::vector<MonitoringResult> Monitoring(const std::vector<OptionResult>& options) const {
    std::vector<MonitoringResult> out;
    std::set<std::string> current_plans;
    for (const MonitoringPlanDefinition& plan : kn_.plans) {
      for (const Course& course : patient_.courses) {
        if (course.drug == nullptr || !Contains(plan.drugs, course.drug->id) || course.start > as_of_ || !IsCurrent(course.end, course.ongoing)) continue;
        out.push_back(BuildPlan(plan, course.start, "current", course.drug->inn));
        current_plans.insert(plan.id);
      }
      for (const Procedure& procedure : patient_.procedures) {
        if (!Contains(plan.procedures, procedure.kind) || procedure.start > as_of_ || !IsCurrent(procedure.end, procedure.ongoing)) continue;
        out.push_back(BuildPlan(plan, procedure.start, "current", procedure.kind));
        current_plans.insert(plan.id);
      }
    }
    std::map<std::string, std::vector<std::string>> proposed;
    for (const OptionResult& option : options) {
      if (option.status != OptionStatus::Eligible && option.status != OptionStatus::Conditional) continue;
      for (const std::string& plan : option.monitoring) {
        if (current_plans.count(plan) == 0) proposed[plan].push_back(option.id);
      }
    }
    for (const auto& [id, for_options] : proposed) {
      const MonitoringPlanDefinition* plan = kn_.FindPlan(id);
      if (plan == nullptr) continue;
      MonitoringResult result = BuildPlan(*plan, as_of_, "if_started", "");
      std::string names;
      for (const std::string& option : for_options) names += (names.empty() ? "" : ", ") + kn_.FindOption(option)->name;
      result.treatment = names;
      result.for_options = for_options;
      out.push_back(std::move(result));
    }
    return out;
  }

  // --------------------------------------------------------------- patient summary
  [[nodiscard]] std::string PatientText(const char* key) const { return Str(kn_.patient_text, key); }

  PatientSummary Summary(const NextSteps& next) const {
    PatientSummary summary;
    summary.reading_level = PatientText("reading_level");
    summary.suicide_alert = suicide_alert_;
    if (suicide_alert_) summary.suicide_message = PatientText("suicide_first");
    summary.intro = PatientText("intro");
    auto fill = [](std::string text, int count) {
      const std::size_t at = text.find("{count}");
      if (at != std::string::npos) text.replace(at, 7, std::to_string(count));
      return text;
    };
    switch (assessment_.trd.status) {
      case TrdStatus::Meets:
        summary.status = fill(PatientText("trd_meets"), failed_current_);
        break;
      case TrdStatus::DoesNotMeet:
        summary.status = failed_current_ == 0   ? PatientText("trd_not_yet_none")
                         : failed_current_ == 1 ? PatientText("trd_not_yet_one")
                                                : fill(PatientText("trd_not_yet"), failed_current_);
        break;
      case TrdStatus::Indeterminate:
        summary.status = PatientText("trd_unknown");
        break;
      case TrdStatus::NotApplicable:
        summary.status = PatientText("trd_not_applicable");
        break;
    }
    summary.why_heading = PatientText("why_heading");
    summary.why_general = PatientText("why_general");
    for (const DriverResult& driver : next.drivers) {
      if (driver.status == DriverStatus::Present || driver.status == DriverStatus::Possible) summary.why.push_back(driver.patient_text);
    }
    summary.options_heading = PatientText("options_heading");
    for (const OptionResult& option : next.options) {
      if (option.status != OptionStatus::Eligible && option.status != OptionStatus::Conditional) continue;
      if (static_cast<int>(summary.options.size()) >= kn_.max_patient_options) break;
      summary.options.push_back(fmt::format("{}: {}", option.patient_name, option.patient_text));
    }
    if (summary.options.empty()) summary.options.push_back(PatientText("options_none"));
    summary.questions_heading = PatientText("questions_heading");
    summary.questions = Strings(kn_.patient_text, "questions");
    summary.safety = PatientText("safety");
    summary.crisis_heading = PatientText("crisis_heading");
    summary.crisis_intro = PatientText("crisis_intro");
    const std::string locale = assessment_.measurement.locale.empty() ? kn_.crisis_default_locale : assessment_.measurement.locale;
    const NextStepsKnowledge::CrisisLine* line = nullptr;
    for (const auto& candidate : kn_.crisis_lines) {
      if (candidate.locale == locale) line = &candidate;
    }
    for (const auto& candidate : kn_.crisis_lines) {
      if (line == nullptr && candidate.locale == kn_.crisis_default_locale) line = &candidate;
    }
    summary.sources = Strings(kn_.patient_text, "sources");
    if (line != nullptr) {
      summary.crisis_line = line->text;
      summary.emergency = line->emergency;
      summary.sources = Merge(summary.sources, line->sources);
    }
    return summary;
  }

  const NextStepsKnowledge& kn_;
  const KnowledgeBase& kb_;
  const PatientRecord& patient_;
  const Assessment& assessment_;
  Date as_of_;
  std::optional<int> age_;
  int failed_current_ = 0;
  int failed_any_ = 0;
  int undecided_ = 0;
  bool suicide_alert_ = false;
  bool bipolar_ = false;
  std::vector<const TrialAssessment*> current_ad_;
  Regimen regimen_;
  mutable std::map<std::string, InteractionReport> checked_additions_;  ///< By "action|drug id".
  mutable std::map<std::string, InteractionReport> dose_caps_;          ///< By course origin, with the dose raised.
  InteractionReport baseline_;
  std::optional<PgxReport> pgx_;
  const std::vector<DriverResult>* drivers_ = nullptr;
  std::vector<Finding> notes_;
};

// ----------------------------------------------------------------------------- rendering helpers

json FindingJson(const Finding& finding) {
  return json{{"code", finding.code}, {"message", finding.message}, {"rule", finding.rule}, {"sources", finding.sources}};
}

json FindingsJson(const std::vector<Finding>& findings) {
  json out = json::array();
  for (const Finding& finding : findings) out.push_back(FindingJson(finding));
  return out;
}

}  // namespace

// ----------------------------------------------------------------------------- public

const DriverDefinition* NextStepsKnowledge::FindDriver(std::string_view id) const {
  const auto found = std::find_if(drivers.begin(), drivers.end(), [id](const DriverDefinition& driver) { return driver.id == id; });
  return found != drivers.end() ? &*found : nullptr;
}

const OptionDefinition* NextStepsKnowledge::FindOption(std::string_view id) const {
  const auto found = std::find_if(options.begin(), options.end(), [id](const OptionDefinition& option) { return option.id == id; });
  return found != options.end() ? &*found : nullptr;
}

const MonitoringPlanDefinition* NextStepsKnowledge::FindPlan(std::string_view id) const {
  const auto found = std::find_if(plans.begin(), plans.end(), [id](const MonitoringPlanDefinition& plan) { return plan.id == id; });
  return found != plans.end() ? &*found : nullptr;
}

std::string_view DriverStatusName(DriverStatus value) {
  switch (value) {
    case DriverStatus::Present: return "present";
    case DriverStatus::Possible: return "possible";
    case DriverStatus::NotFound: return "not_found";
    case DriverStatus::Unknown: return "unknown";
  }
  return "unknown";
}

std::string_view OptionStatusName(OptionStatus value) {
  switch (value) {
    case OptionStatus::Eligible: return "eligible";
    case OptionStatus::Conditional: return "conditional";
    case OptionStatus::Deferred: return "deferred";
    case OptionStatus::NotEligible: return "not_eligible";
  }
  return "not_eligible";
}

std::vector<Error> CheckNextStepsKnowledge(const KnowledgeBase& kb) {
  NextStepsKnowledge scratch;
  KnowledgeReader reader(kb);
  reader.Read(scratch);
  return reader.TakeErrors();
}

Result<NextStepsKnowledge> LoadNextStepsKnowledge(const KnowledgeBase& kb) {
  NextStepsKnowledge out;
  KnowledgeReader reader(kb);
  reader.Read(out);
  std::vector<Error> errors = reader.TakeErrors();
  if (!errors.empty()) {
    Error first = errors.front();
    if (errors.size() > 1) first.message += fmt::format(" (and {} more problem(s))", errors.size() - 1);
    return tl::unexpected(std::move(first));
  }
  auto interactions = LoadInteractionKnowledge(kb);
  if (!interactions) return tl::unexpected(interactions.error());
  out.interactions = std::move(*interactions);
  if (!kb.FilesOfKind("pgx_gene").empty()) {
    auto pgx = LoadPgxKnowledge(kb);
    if (!pgx) return tl::unexpected(pgx.error());
    out.pgx = std::move(*pgx);
  }
  return out;
}

NextSteps EvaluateNextSteps(const NextStepsKnowledge& knowledge, const KnowledgeBase& kb, const PatientRecord& patient, const Assessment& assessment) {
  return Evaluator(knowledge, kb, patient, assessment).Run();
}

nlohmann::json NextStepsToJson(const NextSteps& next) {
  json out = json::object();
  json alerts = json::array();
  for (const Alert& alert : next.alerts) {
    json entry = FindingJson(alert.finding);
    entry["severity"] = AlertSeverityName(alert.severity);
    alerts.push_back(std::move(entry));
  }
  out["alerts"] = std::move(alerts);
  out["as_of"] = FormatDate(next.as_of);
  out["ranking_rule"] = json{{"text", next.ranking_rule.text}, {"sources", next.ranking_rule.sources}};
  out["patient_id"] = next.patient_id;
  json drivers = json::array();
  for (const DriverResult& driver : next.drivers) {
    json evidence = json::array();
    for (const DatedFinding& item : driver.evidence) {
      json entry = FindingJson(item.finding);
      entry["date"] = item.date ? json(FormatDate(*item.date)) : json(nullptr);
      evidence.push_back(std::move(entry));
    }
    json entry{{"id", driver.id},        {"name", driver.name},           {"group", driver.group}, {"status", DriverStatusName(driver.status)},
               {"looks_for", driver.looks_for}, {"evidence", std::move(evidence)}, {"often_next", driver.often_next}, {"rule", driver.rule},
               {"sources", driver.sources}, {"unverified", driver.unverified}};
    entry["settle"] = json{{"question", driver.question}, {"test", driver.test}};
    drivers.push_back(std::move(entry));
  }
  out["drivers"] = std::move(drivers);
  json options = json::array();
  for (const OptionResult& option : next.options) {
    json candidates = json::array();
    for (const CandidateResult& candidate : option.candidates) {
      candidates.push_back(json{{"drug", candidate.drug_id}, {"name", candidate.drug_name}, {"status", OptionStatusName(candidate.status)}, {"reasons", FindingsJson(candidate.reasons)}});
    }
    options.push_back(json{{"id", option.id},
                           {"name", option.name},
                           {"category", option.category},
                           {"status", OptionStatusName(option.status)},
                           {"rank", option.rank},
                           {"ranking", option.ranking},
                           {"reasons", FindingsJson(option.reasons)},
                           {"candidates", std::move(candidates)},
                           {"guideline", FindingsJson(option.guideline)},
                           {"expected_remission", FindingsJson(option.expected_remission)},
                           {"monitoring", option.monitoring},
                           {"requires_specialist", option.requires_specialist},
                           {"rule", option.rule},
                           {"sources", option.sources}});
  }
  out["options"] = std::move(options);
  json monitoring = json::array();
  for (const MonitoringResult& plan : next.monitoring) {
    json session = json::array();
    for (const SessionStep& step : plan.session) session.push_back(json{{"minute", step.minute}, {"what", step.what}, {"unverified", step.unverified}, {"sources", step.sources}});
    json checklist = json::array();
    for (const MonitoringEntry& entry : plan.checklist) {
      checklist.push_back(json{{"date", FormatDate(entry.date)},
                               {"day", entry.day},
                               {"item", entry.item},
                               {"what", entry.what},
                               {"label", entry.label},
                               {"timing", entry.timing},
                               {"recorded_on", entry.recorded_on ? json(FormatDate(*entry.recorded_on)) : json(nullptr)},
                               {"note", entry.note},
                               {"unverified", entry.unverified},
                               {"sources", entry.sources}});
    }
    monitoring.push_back(json{{"plan", plan.plan},
                              {"name", plan.name},
                              {"basis", plan.basis},
                              {"treatment", plan.treatment},
                              {"start", FormatDate(plan.start)},
                              {"for_options", plan.for_options},
                              {"session", std::move(session)},
                              {"checklist", std::move(checklist)},
                              {"notes", plan.notes},
                              {"sources", plan.sources}});
  }
  out["monitoring"] = std::move(monitoring);
  const PatientSummary& patient = next.patient;
  out["patient_summary"] = json{{"reading_level", patient.reading_level},
                                {"suicide_alert", patient.suicide_alert},
                                {"suicide_message", patient.suicide_message},
                                {"intro", patient.intro},
                                {"status", patient.status},
                                {"why_heading", patient.why_heading},
                                {"why_general", patient.why_general},
                                {"why", patient.why},
                                {"options_heading", patient.options_heading},
                                {"options", patient.options},
                                {"questions_heading", patient.questions_heading},
                                {"questions", patient.questions},
                                {"safety", patient.safety},
                                {"crisis_heading", patient.crisis_heading},
                                {"crisis_intro", patient.crisis_intro},
                                {"crisis_line", patient.crisis_line},
                                {"emergency", patient.emergency},
                                {"sources", patient.sources}};
  out["findings"] = FindingsJson(next.findings);
  out["sources"] = next.sources;
  return out;
}

std::string RenderNextStepsText(const NextSteps& next, Audience audience) {
  std::string out;
  if (audience == Audience::Patient) {
    // The patient reads plain words, not the clinician's alert text: the suicide-risk message and crisis
    // line first, then a plain note for any other critical alert (a combination of medicines to review).
    const PatientSummary& summary = next.patient;
    std::string emergency = summary.emergency;
    if (!emergency.empty()) emergency[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(emergency[0])));
    if (summary.suicide_alert) out += fmt::format("{}\n{} {}. {}.\n\n", summary.suicide_message, summary.crisis_intro, summary.crisis_line, emergency);
    const bool other_critical = std::any_of(next.alerts.begin(), next.alerts.end(), [](const Alert& alert) { return alert.finding.code != "suicide_risk"; });
    if (other_critical) {
      out += "Important: your care team's assessment found something in your medicines that needs their attention soon. Please contact them; "
             "do not stop any medicine on your own.\n\n";
    }
    out += summary.intro + "\n\n" + summary.status + "\n\n";
    out += summary.why_heading + "\n" + summary.why_general + "\n";
    for (const std::string& line : summary.why) out += "  - " + line + "\n";
    out += "\n" + summary.options_heading + "\n";
    for (const std::string& line : summary.options) out += "  - " + line + "\n";
    out += "\n" + summary.questions_heading + "\n";
    for (const std::string& line : summary.questions) out += "  - " + line + "\n";
    out += "\n" + summary.safety + "\n\n";
    out += fmt::format("{}\n{} {}. {}.\n", summary.crisis_heading, summary.crisis_intro, summary.crisis_line, emergency);
    return out;
  }
  for (const Alert& alert : next.alerts) out += fmt::format("ALERT ({}): {} [{}]\n", AlertSeverityName(alert.severity), alert.finding.message, alert.finding.rule);
  if (!next.alerts.empty()) out += "\n";
  out += fmt::format("What next for {} on {}\n\nDrivers of non-response\n", next.patient_id, FormatDate(next.as_of));
  for (const DriverResult& driver : next.drivers) {
    out += fmt::format("  [{}] {} ({})\n", DriverStatusName(driver.status), driver.name, driver.rule);
    for (const DatedFinding& evidence : driver.evidence) out += fmt::format("      - {}{}\n", evidence.finding.message, evidence.date ? fmt::format(" ({})", FormatDate(*evidence.date)) : std::string());
    if (driver.status == DriverStatus::Unknown) out += fmt::format("      settle: {} Test: {}\n", driver.question, driver.test);
    if (driver.status == DriverStatus::Present || driver.status == DriverStatus::Possible) {
      for (const std::string& step : driver.often_next) out += fmt::format("      often next: {}\n", step);
    }
  }
  out += fmt::format("\nOptions (ranked: {})\n", next.ranking_rule.text);
  for (const OptionResult& option : next.options) {
    out += fmt::format("  {}. {} - {}\n      {}\n", option.rank, option.name, OptionStatusName(option.status), option.ranking);
    for (const Finding& reason : option.reasons) out += fmt::format("      - {} [{}; {}]\n", reason.message, reason.rule, fmt::join(reason.sources, ", "));
    for (const CandidateResult& candidate : option.candidates) {
      out += fmt::format("      candidate {}: {}\n", candidate.drug_name, OptionStatusName(candidate.status));
      for (const Finding& reason : candidate.reasons) out += fmt::format("        - {} [{}]\n", reason.message, reason.rule);
    }
    for (const Finding& position : option.guideline) out += fmt::format("      guideline: {}\n", position.message);
    for (const Finding& remission : option.expected_remission) out += fmt::format("      expected remission: {}\n", remission.message);
  }
  out += "\nMonitoring\n";
  for (const MonitoringResult& plan : next.monitoring) {
    out += fmt::format("  {} ({}; {} from {})\n", plan.name, plan.basis, plan.treatment, FormatDate(plan.start));
    for (const SessionStep& step : plan.session) out += fmt::format("      session +{} min: {}\n", step.minute, step.what);
    for (const MonitoringEntry& entry : plan.checklist) {
      out += fmt::format("      {} [{}] {}{}\n", FormatDate(entry.date), entry.timing, entry.what, entry.recorded_on ? fmt::format(" (recorded {})", FormatDate(*entry.recorded_on)) : std::string());
    }
  }
  out += fmt::format("\nCrisis line: {} ({})\n", next.patient.crisis_line, next.patient.emergency);
  return out;
}

}  // namespace refract
