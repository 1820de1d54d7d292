// SPDX-License-Identifier: Apache-2.0
// Checking a dated regimen against the interaction knowledge.
#include "refract/core/interactions.h"

#include <algorithm>
#include <functional>
#include <set>

#include <fmt/format.h>

#include "refract/core/pgx.h"
#include "refract/core/text.h"

namespace refract {

Regimen RegimenFromPatient(const KnowledgeBase& kb, const PatientRecord& patient, Date as_of) {
  Regimen regimen;
  for (const Course& course : patient.courses) {
    RegimenEntry entry{course.input_name, course.drug, fmt::format("medications[{}]", course.input_index), course.start, course.end,
                       course.ongoing, false, std::nullopt, {}};
    // The dose in force on the as-of date, or the last step of a course that ended before it.
    for (const DoseStep& step : course.doses) {
      if (as_of < step.from) break;
      entry.mg_per_day = step.mg_per_day;
    }
    regimen.entries.push_back(std::move(entry));
  }
  for (const Procedure& procedure : patient.procedures) {
    const Drug* drug = procedure.kind == "esketamine" ? kb.FindDrug("drug.esketamine")
                       : procedure.kind == "ketamine" ? kb.FindDrug("drug.ketamine")
                                                      : nullptr;
    if (drug == nullptr) continue;
    regimen.entries.push_back(RegimenEntry{procedure.kind, drug, fmt::format("{}[{}]", procedure.source_list, procedure.input_index),
                                           procedure.start, procedure.end, procedure.ongoing, false, std::nullopt, {}});
  }
  for (const OtherMedication& medication : patient.other_medications) {
    RegimenEntry entry{medication.input_name, medication.drug, fmt::format("other_medications[{}]", medication.input_index), medication.start,
                       medication.end, medication.ongoing, false, medication.mg_per_day, {}};
    if (medication.drug == nullptr) {
      auto resolved = kb.ResolveDrug(medication.input_name);
      entry.suggestion = resolved ? std::string() : resolved.error().message;
    }
    regimen.entries.push_back(std::move(entry));
  }
  PatientFacts& facts = regimen.patient;
  if (patient.birth_date) {
    facts.age_years = WholeYearsBetween(*patient.birth_date, as_of);
  } else {
    facts.age_years = patient.age_years;
  }
  facts.sex = patient.sex;
  for (const Condition& condition : patient.conditions) {
    facts.conditions.push_back(condition.status == "resolved" ? condition.name + " (resolved)" : condition.name);
  }
  for (const Diagnosis& diagnosis : patient.diagnoses) {
    if (diagnosis.status == "ruled_out" || diagnosis.name.empty()) continue;
    const std::string name = NormalizeName(diagnosis.name);
    facts.conditions.push_back(diagnosis.status == "resolved" ? name + " (resolved)" : name);
  }
  facts.labs = patient.labs;
  facts.vitals = patient.vitals;
  // The rules read the phenotype the PGx module derives (CPIC rules from a diplotype or activity
  // score win over a recorded phenotype), so the regimen check and the PGx section always agree.
  const PgxKnowledge* pgx = nullptr;
  if (!kb.FilesOfKind("pgx_gene").empty()) {
    const auto& knowledge = kb.Derived<Result<PgxKnowledge>>(&LoadPgxKnowledge);
    if (knowledge) pgx = &*knowledge;
  }
  for (const GenotypeEntry& genotype : patient.genotypes) {
    if (pgx != nullptr) {
      const auto interpreted = InterpretGenotype(*pgx, genotype, "");
      if (interpreted && interpreted->phenotype && *interpreted->phenotype != Phenotype::Indeterminate) {
        facts.phenotypes.emplace_back(interpreted->gene, std::string(PhenotypeKey(*interpreted->phenotype)));
        continue;
      }
    }
    if (!genotype.phenotype.empty()) facts.phenotypes.emplace_back(genotype.gene, genotype.phenotype);
  }
  return regimen;
}

Regimen RegimenFromNames(const KnowledgeBase& kb, std::span<const std::string> names) {
  Regimen regimen;
  for (std::size_t name_idx = 0; name_idx < names.size(); ++name_idx) {
    RegimenEntry entry;
    entry.input_name = names[name_idx];
    entry.origin = fmt::format("argument {}", name_idx + 1);
    entry.ongoing = true;
    auto drug = kb.ResolveDrug(names[name_idx]);
    if (drug) {
      entry.drug = *drug;
    } else {
      entry.suggestion = drug.error().message;
    }
    regimen.entries.push_back(std::move(entry));
  }
  return regimen;
}

void AddProposed(Regimen& regimen, const Drug& drug, std::string input_name, std::optional<double> mg_per_day) {
  RegimenEntry entry;
  entry.input_name = std::move(input_name);
  entry.drug = &drug;
  entry.origin = "proposed";
  entry.proposed = true;
  entry.mg_per_day = mg_per_day;
  regimen.entries.push_back(std::move(entry));
}

namespace {

// A resolved regimen entry with the dates the checker works with. An empty end means the drug is
// still taken on the as-of date (ongoing, no end recorded, or proposed).
struct Item {
  const RegimenEntry* entry = nullptr;
  const Drug* drug = nullptr;
  std::optional<Date> start;
  std::optional<Date> end;
  bool active = false;
  bool planned = false;  ///< Proposed, or starting after the as-of date.
  std::vector<const GroupMember*> memberships;  ///< By group index in the knowledge; null when not a member.
};

std::string Fill(std::string text, std::string_view key, std::string_view value) {
  for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size())) text.replace(at, key.size(), value);
  return text;
}

std::string CategoryWords(std::string text) {
  std::replace(text.begin(), text.end(), '_', ' ');
  return text;
}

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

class Checker {
 public:
  Checker(const InteractionKnowledge& knowledge, const Regimen& regimen, Date as_of, CheckScope scope)
      : knowledge_(knowledge),
        regimen_(regimen),
        as_of_(as_of),
        proposed_only_(scope != CheckScope::All),
        dose_caps_only_(scope == CheckScope::ProposedDoseCaps) {}

  InteractionReport Run() {
    report_.as_of = as_of_;
    BuildItems();
    if (dose_caps_only_) {
      CheckDoseCaps();
      Sort();
      return std::move(report_);
    }
    for (std::size_t first_idx = 0; first_idx < items_.size(); ++first_idx) {
      for (std::size_t second_idx = first_idx + 1; second_idx < items_.size(); ++second_idx) {
        const Item& first = items_[first_idx];
        const Item& second = items_[second_idx];
        if (first.drug == second.drug || !InScope(first, second)) continue;
        for (const PairRule& rule : knowledge_.pair_rules()) CheckPair(rule, first, second);
      }
    }
    CheckPharmacokinetics();
    CheckLoadRules();
    CheckPatientRules();
    CheckDoseCaps();
    Sort();
    return std::move(report_);
  }

 private:
  // The item's membership of a group of this knowledge (groups are stored contiguously).
  const GroupMember* Member(const DrugGroup& group, const Item& item) const {
    const std::vector<DrugGroup>& groups = knowledge_.groups();
    const DrugGroup* first = groups.data();
    const DrugGroup* last = first + groups.size();
    if (std::less<>()(&group, first) || !std::less<>()(&group, last)) return knowledge_.MemberOf(group, *item.drug);
    return item.memberships[static_cast<std::size_t>(&group - groups.data())];
  }

  // With CheckScope::ProposedOnly, only findings that name a proposed drug are worked out.
  bool InScope(const Item& first, const Item& second) const {
    return !proposed_only_ || first.entry->proposed || second.entry->proposed;
  }

  void BuildItems() {
    for (const RegimenEntry& entry : regimen_.entries) {
      if (entry.drug == nullptr) {
        report_.unresolved.push_back(UnresolvedDrug{
            entry.input_name, entry.origin,
            entry.suggestion.empty() ? fmt::format("\"{}\" is not in the knowledge base: its interactions were not checked", entry.input_name)
                                     : fmt::format("{}: its interactions were not checked", entry.suggestion)});
        continue;
      }
      Item item;
      item.entry = &entry;
      item.drug = entry.drug;
      if (entry.proposed) {
        item.start = as_of_;
      } else {
        item.start = entry.start;
        if (!entry.ongoing && entry.end) item.end = entry.end;
        if (!entry.ongoing && !entry.end && entry.start && entry.origin.rfind("other_medications", 0) != 0) {
          report_.notes.push_back(fmt::format("{} ({}) has no end date and is not marked ongoing: checked as still taken (dev.0065)",
                                              entry.input_name, entry.origin));
        }
      }
      item.active = !item.end || as_of_ <= *item.end;
      // Group memberships are looked up once per drug here, not once per pair and rule.
      const std::vector<DrugGroup>& groups = knowledge_.groups();
      item.memberships.reserve(groups.size());
      for (const DrugGroup& group : groups) item.memberships.push_back(knowledge_.MemberOf(group, *item.drug));
      item.planned = entry.proposed || (item.start && as_of_ < *item.start);
      items_.push_back(item);
      if (item.active) report_.checked.push_back(Involved(item));
    }
  }

  static InvolvedDrug Involved(const Item& item) {
    const RegimenEntry& entry = *item.entry;
    return InvolvedDrug{item.drug->id, item.drug->inn, entry.input_name, entry.origin, entry.proposed ? std::nullopt : entry.start,
                        entry.end, entry.ongoing, entry.proposed, entry.mg_per_day};
  }

  // The level a drug counts at in a group, after a dose threshold; empty when it is not a member.
  std::optional<std::string> LevelIn(const DrugGroup& group, const Item& item) const {
    const GroupMember* member = Member(group, item);
    if (member == nullptr) return std::nullopt;
    if (member->below_mg_per_day && item.entry->mg_per_day && *item.entry->mg_per_day < *member->below_mg_per_day) return member->level_below;
    return member->level;
  }

  bool Matches(const RuleSide& side, const Item& item) const {
    if (side.group == nullptr) return false;
    const auto level = LevelIn(*side.group, item);
    if (!level) return false;
    return side.levels.empty() || Contains(side.levels, *level);
  }

  static bool StartsBefore(const Item& left, const Item& right) {
    if (!left.start) return right.start.has_value();
    return right.start && *left.start < *right.start;
  }

  struct Overlap {
    bool exists = false;
    std::optional<Date> from;
    std::optional<Date> until;
  };

  static Overlap OverlapOf(const Item& left, const Item& right) {
    Overlap overlap;
    overlap.from = !left.start ? right.start : !right.start ? left.start : std::max(*left.start, *right.start);
    overlap.until = !left.end ? right.end : !right.end ? left.end : std::min(*left.end, *right.end);
    overlap.exists = !overlap.from || !overlap.until || *overlap.from <= *overlap.until;
    return overlap;
  }

  InteractionFinding Base(std::string rule, std::string category, std::string code, InteractionSeverity severity, InteractionTiming timing,
                          std::string mechanism, std::string action, std::string evidence, std::vector<std::string> sources) const {
    InteractionFinding finding;
    finding.rule = std::move(rule);
    finding.category = std::move(category);
    finding.code = std::move(code);
    finding.severity = severity;
    finding.timing = timing;
    finding.mechanism = std::move(mechanism);
    finding.action = std::move(action);
    finding.evidence = std::move(evidence);
    finding.sources = std::move(sources);
    return finding;
  }

  static InteractionTiming CurrentTiming(const Item& first, const Item& second) {
    return first.planned || second.planned ? InteractionTiming::Proposed : InteractionTiming::Current;
  }

  void CheckPair(const PairRule& rule, const Item& first, const Item& second) {
    // Orient the pair to the rule; when both orientations match (a rule within one group), side a is
    // the drug started first so that "b started after a" reads naturally.
    const Item* side_a = nullptr;
    const Item* side_b = nullptr;
    const bool forward = Matches(rule.a, first) && Matches(rule.b, second);
    const bool backward = Matches(rule.a, second) && Matches(rule.b, first);
    if (!forward && !backward) return;
    if (forward && backward) {
      side_a = StartsBefore(second, first) ? &second : &first;
      side_b = side_a == &first ? &second : &first;
    } else {
      side_a = forward ? &first : &second;
      side_b = forward ? &second : &first;
    }
    const Item& a = *side_a;
    const Item& b = *side_b;
    const Overlap overlap = OverlapOf(a, b);
    if (!overlap.exists) {
      CheckWashouts(rule, a, b);
      return;
    }
    InteractionSeverity severity = rule.severity;
    std::string code = "interaction";
    std::vector<std::string> notes;
    if (rule.severity_when_b_started_after_a && StartsBefore(a, b)) {
      severity = *rule.severity_when_b_started_after_a;
      notes.push_back(fmt::format("{} was started while {} was already taken", b.drug->inn, a.drug->inn));
    }
    const bool both_active = a.active && b.active;
    if (rule.cross_taper_max_overlap_days) {
      const Item& older = StartsBefore(b, a) ? b : a;
      const Item& newer = &older == &a ? b : a;
      if (older.end && StartsBefore(older, newer) && overlap.from && InclusiveDays(*overlap.from, *older.end) <= *rule.cross_taper_max_overlap_days) {
        severity = rule.cross_taper_severity;
        code = "cross_taper";
        notes.push_back(fmt::format("cross-taper: {} ends on {} and overlaps {} for {} days from {}", older.drug->inn, FormatDate(*older.end),
                                    newer.drug->inn, InclusiveDays(*overlap.from, *older.end), FormatDate(*overlap.from)));
      }
    }
    const InteractionTiming timing = both_active ? CurrentTiming(a, b) : InteractionTiming::Past;
    if (timing == InteractionTiming::Past && severity != InteractionSeverity::Contraindicated) return;
    std::vector<std::string> factors;
    if (rule.escalate_to && timing != InteractionTiming::Past) {
      for (const RiskFactor& factor : rule.escalate_factors) {
        if (auto holds = FactorHolds(factor, {&a, &b})) factors.push_back(*holds);
      }
      if (!factors.empty() && *rule.escalate_to > severity) severity = *rule.escalate_to;
    }
    InteractionFinding finding = Base(rule.id, rule.category, code, severity, timing, rule.mechanism, rule.action, rule.evidence, rule.sources);
    finding.drugs = {Involved(a), Involved(b)};
    finding.overlap_from = overlap.from;
    finding.overlap_until = overlap.until;
    finding.factors = std::move(factors);
    finding.notes = std::move(notes);
    finding.message = timing == InteractionTiming::Past
                          ? fmt::format("{} and {} were taken together{}: {} risk", a.drug->inn, b.drug->inn, DateRange(overlap), CategoryWords(rule.category))
                          : fmt::format("{} with {}: {} risk", a.drug->inn, b.drug->inn, CategoryWords(rule.category));
    AddGroupSources(finding, rule.a, a);
    AddGroupSources(finding, rule.b, b);
    report_.findings.push_back(std::move(finding));
  }

  static std::string DateRange(const Overlap& overlap) {
    if (overlap.from && overlap.until) return fmt::format(" from {} to {}", FormatDate(*overlap.from), FormatDate(*overlap.until));
    if (overlap.until) return fmt::format(" until {}", FormatDate(*overlap.until));
    return {};
  }

  void AddGroupSources(InteractionFinding& finding, const RuleSide& side, const Item& item) const {
    if (side.group == nullptr) return;
    if (const GroupMember* member = Member(*side.group, item)) {
      finding.sources.insert(finding.sources.end(), member->sources.begin(), member->sources.end());
    }
  }

  void CheckWashouts(const PairRule& rule, const Item& a, const Item& b) {
    for (const WashoutRule& washout : knowledge_.washouts()) {
      if (std::find(washout.rules.begin(), washout.rules.end(), &rule) == washout.rules.end()) continue;
      // Either drug may have been stopped first, unless the washout names the side that starts the clock.
      for (const auto& [stopped, started, side] : {std::tuple{&a, &b, "a"}, std::tuple{&b, &a, "b"}}) {
        if (!washout.stopped_side.empty() && washout.stopped_side != side) continue;
        if (!stopped->end || !started->start || !(*stopped->end < *started->start)) continue;
        const auto entry = washout.after_stopping.find(stopped->drug->id);
        const std::optional<int> days = entry != washout.after_stopping.end() ? std::optional<int>(entry->second.min_days) : washout.default_min_days;
        if (!days) continue;
        const long gap = DaysBetween(*stopped->end, *started->start);
        if (gap >= *days) continue;
        const Date earliest = AddDays(*stopped->end, *days);
        const InteractionTiming timing = started->active ? InteractionTiming::Washout : InteractionTiming::Past;
        if (timing == InteractionTiming::Past && washout.severity != InteractionSeverity::Contraindicated) continue;
        std::string action = Fill(Fill(Fill(Fill(washout.action, "{started}", started->drug->inn), "{stopped}", stopped->drug->inn), "{earliest}",
                                       FormatDate(earliest)),
                                  "{days}", std::to_string(*days));
        std::vector<std::string> sources = washout.sources;
        if (entry != washout.after_stopping.end()) sources.insert(sources.end(), entry->second.sources.begin(), entry->second.sources.end());
        sources.insert(sources.end(), rule.sources.begin(), rule.sources.end());
        InteractionFinding finding =
            Base(washout.id, rule.category, "washout", washout.severity, timing, rule.mechanism, std::move(action), rule.evidence, std::move(sources));
        finding.drugs = {Involved(*stopped), Involved(*started)};
        finding.earliest_start = earliest;
        finding.notes.push_back(fmt::format("pair rule {}", rule.id));
        if (started->entry->proposed) {
          finding.message = fmt::format("{} cannot start before {} ({} days after the last dose of {} on {})", started->drug->inn, FormatDate(earliest),
                                        *days, stopped->drug->inn, FormatDate(*stopped->end));
        } else {
          finding.message = fmt::format("{} was started on {}, {} days after the last dose of {} on {}; at least {} days are required (not before {})",
                                        started->drug->inn, FormatDate(*started->start), gap, stopped->drug->inn, FormatDate(*stopped->end), *days,
                                        FormatDate(earliest));
        }
        report_.findings.push_back(std::move(finding));
      }
    }
  }

  // Whether an inhibitor or inducer entry is in effect on the as-of date, counting lasting effects.
  bool PerpetratorActive(const Item& item, const EnzymePerpetrator& perpetrator) const {
    if (item.active) return true;
    return perpetrator.persists_after_stop_days && item.end && as_of_ <= AddDays(*item.end, *perpetrator.persists_after_stop_days);
  }

  static bool IsOrContains(const Drug& drug, const Drug& target) {
    return &drug == &target || Contains(drug.components, target.id);
  }

  void CheckPharmacokinetics() {
    const PkMatrix& matrix = knowledge_.pk_matrix();
    for (const Enzyme& enzyme : knowledge_.enzymes()) {
      for (const bool induction : {false, true}) {
        for (const EnzymePerpetrator& perpetrator : induction ? enzyme.inducers : enzyme.inhibitors) {
          for (const Item& cause : items_) {
            if (!IsOrContains(*cause.drug, *perpetrator.drug) || !PerpetratorActive(cause, perpetrator)) continue;
            // A combination listed itself and through a component is checked once, through itself.
            if (cause.drug != perpetrator.drug && ListsDrug(induction ? enzyme.inducers : enzyme.inhibitors, *cause.drug)) continue;
            for (const EnzymeSubstrate& substrate : enzyme.substrates) {
              for (const Item& victim : items_) {
                if (victim.drug != substrate.drug || !victim.active || victim.drug == cause.drug || !InScope(cause, victim)) continue;
                GradePk(matrix, enzyme, induction, perpetrator, cause, substrate, victim);
              }
            }
          }
        }
      }
    }
  }

  static bool ListsDrug(const std::vector<EnzymePerpetrator>& list, const Drug& drug) {
    return std::any_of(list.begin(), list.end(), [&](const EnzymePerpetrator& entry) { return entry.drug == &drug; });
  }

  void GradePk(const PkMatrix& matrix, const Enzyme& enzyme, bool induction, const EnzymePerpetrator& perpetrator, const Item& cause,
               const EnzymeSubstrate& substrate, const Item& victim) {
    const std::string effect = induction ? "inducer" : "inhibitor";
    const auto fill = [&](std::string text) {
      text = Fill(std::move(text), "{perpetrator}", cause.drug->inn);
      text = Fill(std::move(text), "{substrate}", victim.drug->inn);
      text = Fill(std::move(text), "{enzyme}", enzyme.name);
      text = Fill(std::move(text), "{strength}", PerpetratorStrengthName(perpetrator.strength));
      return Fill(std::move(text), "{sensitivity}", SubstrateSensitivityName(substrate.sensitivity));
    };
    std::optional<InteractionSeverity> severity;
    std::string mechanism;
    std::string action;
    std::vector<std::string> sources = matrix.sources;
    for (const PkLabelRule& label : substrate.label_rules) {
      if (label.induction != induction || std::find(label.strengths.begin(), label.strengths.end(), perpetrator.strength) == label.strengths.end()) continue;
      severity = label.severity;
      mechanism = label.mechanism;
      action = label.action;
      sources.insert(sources.end(), label.sources.begin(), label.sources.end());
      break;
    }
    if (!severity) {
      for (const PkMatrix::Cell& cell : matrix.cells) {
        if (cell.induction != induction || cell.strength != perpetrator.strength || cell.sensitivity != substrate.sensitivity ||
            cell.activation != substrate.activation) {
          continue;
        }
        severity = cell.severity;
        action = induction ? matrix.action_induction : matrix.action_inhibition;
        break;
      }
    }
    if (!severity) return;
    if (mechanism.empty()) {
      mechanism = induction ? matrix.mechanism_induction : substrate.activation ? matrix.mechanism_activation : matrix.mechanism_inhibition;
    }
    sources.insert(sources.end(), perpetrator.sources.begin(), perpetrator.sources.end());
    sources.insert(sources.end(), substrate.sources.begin(), substrate.sources.end());
    InteractionFinding finding = Base(matrix.id, "pharmacokinetic", "pharmacokinetic", *severity, CurrentTiming(cause, victim), fill(mechanism),
                                      fill(action), matrix.evidence, std::move(sources));
    finding.drugs = {Involved(cause), Involved(victim)};
    finding.message = fmt::format("{} ({} {} {}) with {} ({} {} substrate{})", cause.drug->inn, PerpetratorStrengthName(perpetrator.strength),
                                  enzyme.name, effect, victim.drug->inn, SubstrateSensitivityName(substrate.sensitivity), enzyme.name,
                                  substrate.activation ? ", activated by it" : "");
    finding.notes.push_back(fmt::format("enzyme table kb/{}", enzyme.path));
    if (perpetrator.unverified) finding.notes.push_back(fmt::format("the {} class of {} is not verified against the FDA table", enzyme.name, perpetrator.drug->inn));
    if (!cause.active && cause.end) {
      finding.notes.push_back(fmt::format("{} was stopped on {}; its {} effect lasts until {}", cause.drug->inn, FormatDate(*cause.end), enzyme.name,
                                          FormatDate(AddDays(*cause.end, *perpetrator.persists_after_stop_days))));
    }
    report_.findings.push_back(std::move(finding));
  }

  void CheckLoadRules() {
    for (const LoadRule& rule : knowledge_.load_rules()) {
      if (rule.group == nullptr) continue;
      std::vector<const Item*> members;
      std::set<const Drug*> seen;
      int points = 0;
      for (const Item& item : items_) {
        if (!item.active || !seen.insert(item.drug).second) continue;
        const auto level = LevelIn(*rule.group, item);
        if (!level) continue;
        members.push_back(&item);
        const auto found = rule.points.find(*level);
        points += found == rule.points.end() ? 0 : found->second;
      }
      if (static_cast<int>(members.size()) < rule.min_members || points < rule.min_points) continue;
      const bool planned = std::any_of(members.begin(), members.end(), [](const Item* item) { return item->planned; });
      InteractionFinding finding = Base(rule.id, rule.category, "load", rule.severity, planned ? InteractionTiming::Proposed : InteractionTiming::Current,
                                        rule.mechanism, rule.action, rule.evidence, rule.sources);
      std::vector<std::string> names;
      for (const Item* item : members) {
        finding.drugs.push_back(Involved(*item));
        names.push_back(item->drug->inn);
      }
      finding.message = fmt::format("{} serotonergic drugs at once ({}): load {} points, threshold {}", members.size(), fmt::join(names, ", "), points,
                                    rule.min_points);
      report_.findings.push_back(std::move(finding));
    }
  }

  void CheckPatientRules() {
    for (const PatientRule& rule : knowledge_.patient_rules()) {
      for (const Item& item : items_) {
        if (!item.active || !InScope(item, item) || !Matches(rule.drug, item)) continue;
        std::vector<std::string> reasons;
        bool all = true;
        for (const RiskFactor& factor : rule.all_of) {
          auto holds = FactorHolds(factor, {&item});
          if (!holds) {
            all = false;
            break;
          }
          reasons.push_back(*holds);
        }
        if (!all) continue;
        InteractionFinding finding = Base(rule.id, rule.category, "patient", rule.severity, item.planned ? InteractionTiming::Proposed : InteractionTiming::Current,
                                          rule.mechanism, rule.action, rule.evidence, rule.sources);
        finding.drugs = {Involved(item)};
        finding.factors = reasons;
        finding.message = fmt::format("{} with {}: {}", item.drug->inn, fmt::join(reasons, "; "), rule.mechanism);
        report_.findings.push_back(std::move(finding));
      }
    }
  }

  void CheckDoseCaps() {
    for (const DoseCap& cap : knowledge_.dose_caps()) {
      for (const Item& item : items_) {
        if (!item.active || item.drug != cap.drug || !InScope(item, item)) continue;
        double limit = cap.max_mg_per_day;
        std::vector<std::string> reasons;
        for (const DoseCap::Reduced& reduced : cap.reduced) {
          std::vector<std::string> holds;
          for (const RiskFactor& factor : reduced.any_of) {
            if (auto reason = FactorHolds(factor, {&item})) holds.push_back(*reason);
          }
          if (holds.empty() || reduced.max_mg_per_day > limit) continue;
          limit = reduced.max_mg_per_day;
          reasons = std::move(holds);
        }
        const auto& dose = item.entry->mg_per_day;
        const bool above = dose && *dose > limit;
        const bool unknown_with_reduced_cap = !dose && !reasons.empty();
        if (!above && !unknown_with_reduced_cap) continue;
        InteractionFinding finding =
            Base(cap.id, cap.category, "dose_cap", above ? cap.severity_above : cap.severity_dose_unknown,
                 item.planned ? InteractionTiming::Proposed : InteractionTiming::Current, cap.mechanism, Fill(cap.action, "{cap}", FormatNumber(limit)),
                 cap.evidence, cap.sources);
        finding.drugs = {Involved(item)};
        finding.factors = reasons;
        finding.limit_mg_per_day = limit;
        const std::string why = reasons.empty() ? std::string() : fmt::format(" ({})", fmt::join(reasons, "; "));
        finding.message = above ? fmt::format("{} {} mg/day is above the {} mg/day maximum for this patient{}", item.drug->inn, FormatNumber(*dose),
                                              FormatNumber(limit), why)
                                : fmt::format("{} dose not recorded: the maximum for this patient is {} mg/day{}", item.drug->inn, FormatNumber(limit), why);
        report_.findings.push_back(std::move(finding));
      }
    }
  }

  // The latest lab result of a name on or before the as-of date.
  const LabResult* LatestLab(const std::string& name) const {
    const LabResult* best = nullptr;
    for (const LabResult& lab : regimen_.patient.labs) {
      if (lab.name != name || as_of_ < lab.date) continue;
      if (best == nullptr || best->date < lab.date) best = &lab;
    }
    return best;
  }

  const VitalSign* LatestVital(const std::string& kind) const {
    const VitalSign* best = nullptr;
    for (const VitalSign& vital : regimen_.patient.vitals) {
      if (vital.kind != kind || !vital.value || as_of_ < vital.date) continue;
      if (best == nullptr || best->date < vital.date) best = &vital;
    }
    return best;
  }

  // A description of the fact when the factor holds for this patient and regimen; `subjects` are the
  // drugs the rule is about (they never count as "another" drug in the regimen).
  std::optional<std::string> FactorHolds(const RiskFactor& factor, std::initializer_list<const Item*> subjects) const {
    const PatientFacts& patient = regimen_.patient;
    const auto is_subject = [&](const Item& item) {
      return std::any_of(subjects.begin(), subjects.end(), [&](const Item* subject) { return subject->drug == item.drug; });
    };
    switch (factor.type) {
      case RiskFactor::Type::AgeAtLeast:
        if (patient.age_years && *patient.age_years >= factor.years) return fmt::format("age {} ({} or older)", *patient.age_years, factor.years);
        return std::nullopt;
      case RiskFactor::Type::AgeAbove:
        if (patient.age_years && *patient.age_years > factor.years) return fmt::format("age {} (over {})", *patient.age_years, factor.years);
        return std::nullopt;
      case RiskFactor::Type::Sex:
        if (patient.sex == factor.sex) return fmt::format("{} sex", factor.sex);
        return std::nullopt;
      case RiskFactor::Type::Condition:
        for (const std::string& condition : patient.conditions) {
          for (const std::string& name : factor.names) {
            if (condition.find(name) != std::string::npos) return fmt::format("condition: {}", condition);
          }
        }
        return std::nullopt;
      case RiskFactor::Type::LabBelow: {
        const LabResult* lab = LatestLab(factor.lab_or_vital);
        if (lab == nullptr || !Contains(factor.units, lab->unit) || lab->value >= factor.value) return std::nullopt;
        return fmt::format("{} {} {} on {} (below {})", lab->name, FormatNumber(lab->value), lab->unit, FormatDate(lab->date), FormatNumber(factor.value));
      }
      case RiskFactor::Type::VitalAtLeast: {
        const VitalSign* vital = LatestVital(factor.lab_or_vital);
        if (vital == nullptr || *vital->value < factor.value) return std::nullopt;
        if (!factor.units.empty() && !vital->unit.empty() && !Contains(factor.units, vital->unit)) return std::nullopt;
        return fmt::format("{} {} on {} ({} or more)", vital->kind, FormatNumber(*vital->value), FormatDate(vital->date), FormatNumber(factor.value));
      }
      case RiskFactor::Type::GenotypePhenotype:
        for (const auto& [gene, phenotype] : patient.phenotypes) {
          if (gene == factor.gene && Contains(factor.phenotypes, phenotype)) return fmt::format("{} {} metabolizer (recorded)", gene, phenotype);
        }
        return std::nullopt;
      case RiskFactor::Type::InhibitorInRegimen:
        for (const Enzyme& enzyme : knowledge_.enzymes()) {
          if (enzyme.id != factor.enzyme_id) continue;
          for (const EnzymePerpetrator& inhibitor : enzyme.inhibitors) {
            if (std::find(factor.strengths.begin(), factor.strengths.end(), inhibitor.strength) == factor.strengths.end()) continue;
            for (const Item& item : items_) {
              if (is_subject(item) || !IsOrContains(*item.drug, *inhibitor.drug) || !PerpetratorActive(item, inhibitor)) continue;
              return fmt::format("{} ({} {} inhibitor)", item.drug->inn, PerpetratorStrengthName(inhibitor.strength), enzyme.name);
            }
          }
        }
        return std::nullopt;
      case RiskFactor::Type::GroupInRegimen:
        if (factor.group == nullptr) return std::nullopt;
        for (const Item& item : items_) {
          if (is_subject(item) || !item.active || Member(*factor.group, item) == nullptr) continue;
          return fmt::format("{} also taken ({})", item.drug->inn, factor.group->name);
        }
        return std::nullopt;
    }
    return std::nullopt;
  }

  void Sort() {
    for (InteractionFinding& finding : report_.findings) {
      std::sort(finding.sources.begin(), finding.sources.end());
      finding.sources.erase(std::unique(finding.sources.begin(), finding.sources.end()), finding.sources.end());
    }
    const auto timing_rank = [](InteractionTiming timing) { return timing == InteractionTiming::Past ? 1 : 0; };
    std::stable_sort(report_.findings.begin(), report_.findings.end(), [&](const InteractionFinding& left, const InteractionFinding& right) {
      if (left.severity != right.severity) return left.severity > right.severity;
      if (timing_rank(left.timing) != timing_rank(right.timing)) return timing_rank(left.timing) < timing_rank(right.timing);
      if (left.rule != right.rule) return left.rule < right.rule;
      const auto ids = [](const InteractionFinding& finding) {
        std::vector<std::string> out;
        for (const InvolvedDrug& drug : finding.drugs) out.push_back(drug.drug_id);
        return out;
      };
      return ids(left) < ids(right);
    });
  }

  const InteractionKnowledge& knowledge_;
  const Regimen& regimen_;
  Date as_of_;
  bool proposed_only_ = false;
  bool dose_caps_only_ = false;
  std::vector<Item> items_;
  InteractionReport report_;
};

}  // namespace

InteractionReport CheckRegimen(const InteractionKnowledge& knowledge, const Regimen& regimen, Date as_of, CheckScope scope) {
  return Checker(knowledge, regimen, as_of, scope).Run();
}

}  // namespace refract
