// SPDX-License-Identifier: Apache-2.0
// OMOP screening: one person's rows -> PatientRecord (courses, dose steps, episode, procedures),
// assessed by Evaluate; CSV rows and summaries of the results (docs/omop.md sections 3-6).
#include "refract/core/omop.h"

#include "refract/core/text.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <iterator>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

namespace refract::omop {

std::string_view DqIssueName(DqIssue issue) {
  switch (issue) {
    case DqIssue::NegativeDaysSupply: return "negative_days_supply";
    case DqIssue::DaysSupplyOver365: return "days_supply_above_maximum";
    case DqIssue::EndDateMissing: return "end_date_missing";
    case DqIssue::EndBeforeStart: return "end_before_start";
    case DqIssue::UnmappedDrugConcept: return "drug_concept_unmapped";
    case DqIssue::UnknownDrugConcept: return "drug_concept_unknown";
    case DqIssue::DoseNotComputable: return "dose_not_computable";
    case DqIssue::ImplausibleDose: return "dose_implausible";
    case DqIssue::ExposureAfterAsOf: return "exposure_after_as_of";
    case DqIssue::ScoreMissingValue: return "phq9_value_missing";
    case DqIssue::ScoreOutOfRange: return "phq9_out_of_range";
    case DqIssue::NoObservationPeriod: return "observation_period_missing";
    case DqIssue::kCount: break;
  }
  return "unknown";
}

std::int64_t DataQuality::Total() const {
  std::int64_t total = 0;
  for (const std::int64_t count : counts) total += count;
  return total;
}

void DataQuality::Merge(const DataQuality& other) {
  for (std::size_t issue_idx = 0; issue_idx < kDqIssueCount; ++issue_idx) counts[issue_idx] += other.counts[issue_idx];
}

namespace {

// One exposure of one KB drug, with its computed interval and daily dose.
struct Use {
  const Drug* drug = nullptr;
  Date start;
  Date end;
  std::optional<double> mg_per_day;
  std::int64_t exposure_id = 0;
};

// A treatment step (course or procedure course) for the treatment-change rule.
struct Step {
  std::string_view key;  // drug id (in the KB) or procedure kind (in the record)
  Date start;
};

Date Later(Date left, Date right) { return left < right ? right : left; }
Date Earlier(Date left, Date right) { return left < right ? left : right; }

// Days two closed intervals share (0 when disjoint).
long OverlapDays(Date start_a, Date end_a, Date start_b, Date end_b) {
  const Date from = Later(start_a, start_b);
  const Date to = Earlier(end_a, end_b);
  return to < from ? 0 : InclusiveDays(from, to);
}

// Drug-free days between an interval ending on `end` and one starting on `start`.
long GapDays(Date end, Date start) { return DaysBetween(end, start) - 1; }

class Reconstructor {
 public:
  Reconstructor(const KnowledgeBase& kb, const OmopConfig& config, const ConceptIndex& index, const PersonRows& rows,
                const ScreenOptions& options)
      : kb_(kb), rules_(config.rules), index_(index), rows_(rows), options_(options) {}

  Reconstruction Run() {
    Reconstruction out;
    out.as_of = AsOf(out.data_quality);
    as_of_ = out.as_of;
    PatientRecord& record = out.record;
    record.id = std::to_string(rows_.person_id);
    if (rows_.year_of_birth) {
      const auto year = static_cast<int>(std::chrono::year_month_day{as_of_.days}.year());
      record.age_years = year - *rows_.year_of_birth;
    }
    ReadConditions(out);
    const std::vector<Use> uses = ReadExposures(out.data_quality);
    BuildCourses(uses, record);
    BuildProcedures(uses, record);
    record.episode_start = EpisodeStart(uses);
    InferOutcomes(record, out.data_quality);
    return out;
  }

 private:
  Date AsOf(DataQuality& quality) const {
    if (rows_.observation_periods.empty()) quality.Add(DqIssue::NoObservationPeriod);
    if (options_.as_of) return *options_.as_of;
    std::optional<Date> latest;
    for (const ObservationPeriodRow& period : rows_.observation_periods) latest = latest ? Later(*latest, period.end) : period.end;
    if (latest) return *latest;
    const auto consider = [&](Date date) { latest = latest ? Later(*latest, date) : date; };
    for (const DrugExposureRow& row : rows_.drug_exposures) consider(row.end ? Later(*row.end, row.start) : row.start);
    for (const ConditionRow& row : rows_.conditions) consider(row.start);
    for (const ProcedureRow& row : rows_.procedures) consider(row.date);
    for (const ScoreRow& row : rows_.scores) consider(row.date);
    return latest.value_or(Date{});
  }

  void ReadConditions(Reconstruction& out) {
    std::uint8_t bits = 0;
    std::optional<ConceptId> first_depression;
    std::optional<Date> first_depression_date;
    for (const ConditionRow& row : rows_.conditions) {
      if (as_of_ < row.start) continue;
      const auto found = index_.conditions.find(row.concept_id);
      if (found == index_.conditions.end()) continue;
      bits = static_cast<std::uint8_t>(bits | found->second);
      if ((found->second & kDepression) != 0) {
        depression_dates_.push_back(row.start);
        if (!first_depression_date || row.start < *first_depression_date ||
            (row.start == *first_depression_date && row.concept_id < *first_depression)) {
          first_depression_date = row.start;
          first_depression = row.concept_id;
        }
      }
    }
    PatientRecord& record = out.record;
    record.history_bipolar = (bits & kBipolar) != 0;
    record.history_mania_or_hypomania = (bits & kMania) != 0;
    record.history_psychosis = (bits & kPsychosis) != 0;
    out.depression_diagnosis = (bits & kDepression) != 0;
    out.psychosis_history = record.history_psychosis;
    out.dementia_history = (bits & kDementia) != 0;
    if (first_depression) {
      record.diagnoses.push_back(Diagnosis{"mdd", "", "depressive disorder (OMOP condition_occurrence)", "OMOP", std::to_string(*first_depression)});
    }
    std::sort(depression_dates_.begin(), depression_dates_.end());
  }

  // `supply_days` is 0 when days_supply is missing or was emptied.
  std::optional<double> DailyDose(const DrugMapping& mapping, const DrugExposureRow& row, std::int64_t supply_days, DataQuality& quality) const {
    const Drug& drug = *mapping.drug;
    if (!drug.adequacy) return std::nullopt;
    std::optional<double> dose;
    if (mapping.mg_per_unit && mapping.per_hour) {
      dose = *mapping.mg_per_unit * 24.0;  // a rate per hour, for every hour of the day
    } else if (mapping.mg_per_unit && row.quantity.value_or(0) > 0 && supply_days > 0) {
      dose = row.quantity.value_or(0) * *mapping.mg_per_unit / static_cast<double>(supply_days);
    }
    if (!dose) {
      quality.Add(DqIssue::DoseNotComputable);
      return std::nullopt;
    }
    const bool implausible =
        !(*dose > 0) || (drug.max_dose_mg_per_day && *dose > *drug.max_dose_mg_per_day * rules_.implausible_above_max_factor);
    if (implausible) {
      quality.Add(DqIssue::ImplausibleDose);
      return std::nullopt;
    }
    // Round to 1/1000 mg so that quantity arithmetic gives the same steps on every platform.
    return std::round(*dose * 1000.0) / 1000.0;
  }

  std::vector<Use> ReadExposures(DataQuality& quality) const {
    std::vector<const DrugExposureRow*> ordered;
    ordered.reserve(rows_.drug_exposures.size());
    for (const DrugExposureRow& row : rows_.drug_exposures) ordered.push_back(&row);
    const auto before = [](const DrugExposureRow* left, const DrugExposureRow* right) {
      if (left->start != right->start) return left->start < right->start;
      if (left->drug_exposure_id != right->drug_exposure_id) return left->drug_exposure_id < right->drug_exposure_id;
      return left->drug_concept_id < right->drug_concept_id;
    };
    // Rows usually arrive in this order already; checking is cheaper than sorting.
    if (!std::is_sorted(ordered.begin(), ordered.end(), before)) std::sort(ordered.begin(), ordered.end(), before);
    std::vector<Use> uses;
    uses.reserve(ordered.size());
    for (const DrugExposureRow* row : ordered) {
      std::int64_t supply_days = row->days_supply.value_or(0);
      if (supply_days < 0) {
        quality.Add(DqIssue::NegativeDaysSupply);
        supply_days = 0;
      }
      if (supply_days > rules_.max_days_supply) quality.Add(DqIssue::DaysSupplyOver365);
      if (!row->end) quality.Add(DqIssue::EndDateMissing);
      const bool end_usable = row->end && !(*row->end < row->start);
      if (row->end && !end_usable) quality.Add(DqIssue::EndBeforeStart);
      const Date end = end_usable ? *row->end
                       : supply_days > 0 ? AddDays(row->start, static_cast<long>(supply_days))
                                         : AddDays(row->start, rules_.exposure_default_days);
      if (row->drug_concept_id == 0) {
        quality.Add(DqIssue::UnmappedDrugConcept);
        continue;
      }
      const auto found = index_.drugs.find(row->drug_concept_id);
      if (found == index_.drugs.end()) {
        if (!index_.known_concepts.empty() &&
            !std::binary_search(index_.known_concepts.begin(), index_.known_concepts.end(), row->drug_concept_id)) {
          quality.Add(DqIssue::UnknownDrugConcept);
        }
        continue;
      }
      if (as_of_ < row->start) {
        quality.Add(DqIssue::ExposureAfterAsOf);
        continue;
      }
      const Drug* previous = nullptr;
      for (const DrugMapping& mapping : found->second) {
        if (mapping.drug == previous) continue;  // two ingredient ids of one KB drug (lithium salts)
        previous = mapping.drug;
        if (mapping.drug->counts_as == CountsAs::Other) continue;
        Use use;
        use.drug = mapping.drug;
        use.start = row->start;
        use.end = end;
        use.exposure_id = row->drug_exposure_id;
        if (mapping.drug->counts_as != CountsAs::Interventional) use.mg_per_day = DailyDose(mapping, *row, supply_days, quality);
        uses.push_back(use);
      }
    }
    return uses;
  }

  void BuildCourses(const std::vector<Use>& uses, PatientRecord& record) {
    // The uses of each drug, drugs in id order, each drug's uses in date order (a stable sort keeps it).
    std::vector<const Use*> by_drug;
    for (const Use& use : uses) {
      const Drug& drug = *use.drug;
      if ((drug.counts_as == CountsAs::Antidepressant || drug.counts_as == CountsAs::Augmentation) && drug.adequacy) by_drug.push_back(&use);
    }
    std::stable_sort(by_drug.begin(), by_drug.end(), [](const Use* left, const Use* right) {
      return left->drug != right->drug && left->drug->id < right->drug->id;
    });
    struct Built {
      Course course;
      Date last_day;  // end, or as_of when ongoing
    };
    std::vector<Built> built;
    built.reserve(by_drug.size());  // at most one course per use; no moves of built courses
    for (std::size_t group_first = 0; group_first < by_drug.size();) {
      std::size_t group_end = group_first + 1;
      while (group_end < by_drug.size() && by_drug[group_end]->drug == by_drug[group_first]->drug) ++group_end;
      const std::span<const Use* const> drug_uses(by_drug.data() + group_first, group_end - group_first);
      group_first = group_end;
      std::size_t first = 0;
      while (first < drug_uses.size()) {
        Date course_end = drug_uses[first]->end;
        std::size_t last = first + 1;
        while (last < drug_uses.size() && GapDays(course_end, drug_uses[last]->start) <= rules_.persistence_gap_days) {
          course_end = Later(course_end, drug_uses[last]->end);
          ++last;
        }
        built.push_back(Built{MakeCourse(drug_uses.subspan(first, last - first), course_end), {}});
        built.back().last_day = built.back().course.ongoing ? as_of_ : *built.back().course.end;
        first = last;
      }
    }
    std::stable_sort(built.begin(), built.end(), [](const Built& left, const Built& right) {
      if (left.course.start != right.course.start) return left.course.start < right.course.start;
      return left.course.drug->id < right.course.drug->id;
    });
    for (std::size_t course_idx = 0; course_idx < built.size(); ++course_idx) {
      built[course_idx].course.input_index = static_cast<int>(course_idx);
      built[course_idx].course.id = "c" + std::to_string(course_idx + 1);
    }
    // Roles: a second antidepressant overlapping an earlier one long enough is a combination; an
    // augmenting agent is linked to the antidepressant course it overlaps most.
    for (std::size_t course_idx = 0; course_idx < built.size(); ++course_idx) {
      Course& course = built[course_idx].course;
      const bool augmenting = course.drug->counts_as == CountsAs::Augmentation;
      long best_overlap = 0;
      std::string best_id;
      for (std::size_t other_idx = 0; other_idx < built.size(); ++other_idx) {
        const Course& other = built[other_idx].course;
        if (other_idx == course_idx || other.drug->counts_as != CountsAs::Antidepressant || other.drug == course.drug) continue;
        if (!augmenting && other_idx > course_idx) continue;  // a combination joins an earlier course
        const long overlap = OverlapDays(course.start, built[course_idx].last_day, other.start, built[other_idx].last_day);
        if (overlap > best_overlap) {
          best_overlap = overlap;
          best_id = other.id;
        }
      }
      if (augmenting) {
        course.role = CourseRole::Augmentation;
        course.augments = best_id;
      } else if (best_overlap >= rules_.combination_min_overlap_days) {
        course.role = CourseRole::Combination;
        course.augments = best_id;
      } else {
        course.role = CourseRole::Monotherapy;
      }
    }
    last_days_.reserve(last_days_.size() + built.size());
    record.courses.reserve(record.courses.size() + built.size());
    for (Built& entry : built) {
      last_days_.push_back(entry.last_day);
      record.courses.push_back(std::move(entry.course));
    }
  }

  Course MakeCourse(std::span<const Use* const> uses, Date end) const {
    Course course;
    const Drug& drug = *uses.front()->drug;
    course.drug = &drug;
    course.input_name = drug.inn;
    course.start = uses.front()->start;
    if (as_of_ <= end) {
      course.ongoing = true;
    } else {
      course.end = end;
    }
    const Date last_day = Earlier(end, as_of_);
    // Proportion of days covered: the union of exposure intervals, overlapping fills not stockpiled.
    long covered = 0;
    std::optional<Date> run_start;
    Date run_end;
    for (const Use* use : uses) {
      const Date from = use->start;
      const Date to = Earlier(use->end, last_day);
      if (to < from) continue;
      if (run_start && GapDays(run_end, from) < 0) {
        run_end = Later(run_end, to);
        continue;
      }
      if (run_start) covered += InclusiveDays(*run_start, run_end);
      run_start = from;
      run_end = to;
    }
    if (run_start) covered += InclusiveDays(*run_start, run_end);
    const long days = InclusiveDays(course.start, last_day);
    if (days > 0) course.adherence_percent = std::round(1000.0 * static_cast<double>(covered) / static_cast<double>(days)) / 10.0;

    // Dose steps: exposures starting on one day add up; a change of at least step_change_min_percent
    // starts a new step; an exposure without a computable dose keeps the step in force.
    std::size_t first = 0;
    while (first < uses.size()) {
      std::size_t last = first;
      double total = 0;
      bool known = true;
      while (last < uses.size() && uses[last]->start == uses[first]->start) {
        if (uses[last]->mg_per_day) {
          total += *uses[last]->mg_per_day;
        } else {
          known = false;
        }
        ++last;
      }
      if (known && !(as_of_ < uses[first]->start)) {
        const bool changed = course.doses.empty() ||
                             std::fabs(total - course.doses.back().mg_per_day) * 100.0 >= rules_.step_change_min_percent * course.doses.back().mg_per_day;
        if (changed) course.doses.push_back(DoseStep{uses[first]->start, total});
      }
      first = last;
    }
    return course;
  }

  void BuildProcedures(const std::vector<Use>& uses, PatientRecord& record) {
    std::map<std::string, std::vector<Date>> sessions;  // kind -> dates
    std::map<std::string, std::string> source_list;
    for (const ProcedureRow& row : rows_.procedures) {
      if (as_of_ < row.date) continue;
      const auto found = index_.procedures.find(row.concept_id);
      if (found == index_.procedures.end()) continue;
      sessions[found->second].push_back(row.date);
      source_list[found->second] = "procedures";
    }
    for (const Use& use : uses) {
      if (use.drug->counts_as != CountsAs::Interventional) continue;
      const std::string kind = use.drug->id.substr(std::string("drug.").size());
      sessions[kind].push_back(use.start);
      source_list[kind] = "medications";
    }
    std::vector<Procedure> procedures;
    for (auto& [kind, dates] : sessions) {
      std::sort(dates.begin(), dates.end());
      dates.erase(std::unique(dates.begin(), dates.end()), dates.end());
      std::size_t first = 0;
      while (first < dates.size()) {
        std::size_t last = first + 1;
        while (last < dates.size() && GapDays(dates[last - 1], dates[last]) <= rules_.procedure_course_gap_days) ++last;
        Procedure procedure;
        procedure.source_list = source_list[kind];
        procedure.kind = kind;
        procedure.start = dates[first];
        procedure.end = dates[last - 1];
        procedure.sessions = static_cast<int>(last - first);
        procedures.push_back(std::move(procedure));
        first = last;
      }
    }
    std::stable_sort(procedures.begin(), procedures.end(), [](const Procedure& left, const Procedure& right) {
      if (left.start != right.start) return left.start < right.start;
      return left.kind < right.kind;
    });
    for (std::size_t procedure_idx = 0; procedure_idx < procedures.size(); ++procedure_idx) {
      procedures[procedure_idx].input_index = static_cast<int>(procedure_idx);
      record.procedures.push_back(std::move(procedures[procedure_idx]));
    }
  }

  std::optional<Date> EpisodeStart(const std::vector<Use>& uses) const {
    std::vector<std::pair<Date, Date>> events;
    for (const Use& use : uses) {
      if (use.drug->counts_as == CountsAs::Antidepressant) events.emplace_back(use.start, use.end);
    }
    for (const Date date : depression_dates_) events.emplace_back(date, date);
    std::sort(events.begin(), events.end());
    std::optional<Date> start;
    Date end;
    for (const auto& [from, to] : events) {
      if (as_of_ < from) break;
      if (!start || GapDays(end, from) >= rules_.episode_treatment_free_days) {
        start = from;
        end = to;
        continue;
      }
      end = Later(end, to);
    }
    return start;
  }

  // Latest valid PHQ-9 total in [from, to] (ties: the higher value, for determinism).
  std::optional<std::pair<Date, double>> LatestScore(Date from, Date to) const {
    std::optional<std::pair<Date, double>> best;
    for (const auto& [date, value] : scores_) {
      if (date < from || to < date) continue;
      if (!best || best->first < date || (best->first == date && best->second < value)) best = std::make_pair(date, value);
    }
    return best;
  }

  void InferOutcomes(PatientRecord& record, DataQuality& quality) {
    for (const ScoreRow& row : rows_.scores) {
      if (!std::binary_search(index_.phq9.begin(), index_.phq9.end(), row.concept_id)) continue;
      if (!row.value) {
        quality.Add(DqIssue::ScoreMissingValue);
        continue;
      }
      if (*row.value < 0 || *row.value > rules_.phq9_max_total) {
        quality.Add(DqIssue::ScoreOutOfRange);
        continue;
      }
      scores_.emplace_back(row.date, *row.value);
    }
    std::vector<Step> steps;
    steps.reserve(record.courses.size() + record.procedures.size());
    for (const Course& course : record.courses) steps.push_back(Step{course.drug->id, course.start});
    for (const Procedure& procedure : record.procedures) steps.push_back(Step{procedure.kind, procedure.start});

    const auto decide = [&](std::string_view key, Date start, Date last_day, std::optional<Improvement>& improvement,
                            std::optional<Outcome>& outcome) {
      if (const auto baseline = LatestScore(AddDays(start, -rules_.phq9_baseline_days_before), AddDays(start, rules_.phq9_baseline_days_after))) {
        const auto followup = LatestScore(AddDays(start, rules_.phq9_followup_min_days), AddDays(last_day, rules_.phq9_followup_days_after_end));
        if (followup && baseline->first < followup->first && baseline->second > 0) {
          const double percent = std::round(1000.0 * (baseline->second - followup->second) / baseline->second) / 10.0;
          improvement = Improvement{percent, "PHQ-9"};
          return;
        }
      }
      const Date window_from = AddDays(start, rules_.switch_window_days);
      const Date window_to = AddDays(last_day, rules_.switch_window_days);
      std::optional<Date> next;
      for (const Step& step : steps) {
        if (step.key == key || !(start < step.start) || step.start < window_from || window_to < step.start) continue;
        if (!next || step.start < *next) next = step.start;
      }
      if (!next) return;
      const bool continues = !(last_day < AddDays(*next, rules_.combination_min_overlap_days));
      outcome = continues ? rules_.outcome_after_addition : rules_.outcome_after_switch;
    };
    for (std::size_t course_idx = 0; course_idx < record.courses.size(); ++course_idx) {
      Course& course = record.courses[course_idx];
      decide(course.drug->id, course.start, last_days_[course_idx], course.improvement, course.outcome);
    }
    for (Procedure& procedure : record.procedures) {
      decide(procedure.kind, procedure.start, procedure.end.value_or(procedure.start), procedure.improvement, procedure.outcome);
    }
  }

  const KnowledgeBase& kb_;
  const ReconstructionRules& rules_;
  const ConceptIndex& index_;
  const PersonRows& rows_;
  const ScreenOptions& options_;
  Date as_of_;
  std::vector<Date> depression_dates_;
  std::vector<Date> last_days_;
  std::vector<std::pair<Date, double>> scores_;
};

std::string CsvField(std::string_view text) {
  if (text.find_first_of(",\"\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char ch : text) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
  return out;
}

void Count(std::vector<std::pair<std::string, std::int64_t>>& counts, const std::string& key, std::int64_t by) {
  const auto found = std::lower_bound(counts.begin(), counts.end(), key, [](const auto& entry, const std::string& wanted) { return entry.first < wanted; });
  if (found != counts.end() && found->first == key) {
    found->second += by;
    return;
  }
  counts.insert(found, {key, by});
}

}  // namespace

Reconstruction Reconstruct(const KnowledgeBase& kb, const OmopConfig& config, const ConceptIndex& index, const PersonRows& rows,
                           const ScreenOptions& options) {
  return Reconstructor(kb, config, index, rows, options).Run();
}

Result<PersonResult> ScreenPerson(const KnowledgeBase& kb, const OmopConfig& config, const ConceptIndex& index, const PersonRows& rows,
                                  const ScreenOptions& options) {
  const Reconstruction reconstruction = Reconstruct(kb, config, index, rows, options);
  EvaluateOptions evaluate_options;
  evaluate_options.as_of = reconstruction.as_of;
  evaluate_options.criteria_id = options.criteria_id;
  evaluate_options.regimen_and_genotypes = false;  // Screening needs adequacy, TRD status and staging only.
  evaluate_options.next_steps = false;
  evaluate_options.explain = false;  // Screening reads verdicts and counts, never the findings' text.
  auto assessment = Evaluate(kb, reconstruction.record, evaluate_options);
  if (!assessment) return tl::unexpected(assessment.error());
  PersonResult result;
  result.person_id = rows.person_id;
  result.as_of = reconstruction.as_of;
  result.episode_start = reconstruction.record.episode_start;
  result.depression_diagnosis = reconstruction.depression_diagnosis;
  result.trd_status = assessment->trd.status;
  result.failed_adequate_trials = assessment->trd.failed_adequate_trials;
  for (const std::string& drug : assessment->trd.failed_drugs) result.failed_drugs.push_back(drug.substr(drug.find('.') + 1));
  for (const TrialAssessment& trial : assessment->trials) {
    if (trial.episode != EpisodePlacement::Current || trial.drug->counts_as != CountsAs::Antidepressant) continue;
    ++result.antidepressant_trials;
    if (trial.adequacy == Adequacy::Adequate) ++result.adequate_trials;
  }
  result.undecided_trials = static_cast<int>(assessment->trd.undecided_trial_indices.size());
  result.thase_rush_stage = assessment->thase_rush.stage;
  result.european_category = assessment->european.category;
  result.maudsley_total = assessment->maudsley.total;
  result.mgh_score = assessment->mgh.score;
  const auto& record = reconstruction.record;
  result.esketamine_candidate = assessment->trd.status == TrdStatus::Meets && record.age_years &&
                                *record.age_years >= config.rules.esketamine_min_age_years;
  std::vector<std::string>& flags = result.flags;
  if (assessment->trd.status == TrdStatus::NotApplicable) flags.emplace_back("bipolar_or_mania");
  if (reconstruction.psychosis_history) flags.emplace_back("psychosis_history");
  if (reconstruction.dementia_history) flags.emplace_back("dementia");
  for (const Procedure& procedure : record.procedures) flags.push_back(procedure.kind);
  std::sort(flags.begin(), flags.end());
  flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
  result.data_quality = reconstruction.data_quality;
  return result;
}

std::string_view ResultCsvHeader() {
  return "person_id,as_of,episode_start,depression_diagnosis,trd_status,failed_adequate_trials,failed_drugs,antidepressant_trials,"
         "adequate_trials,undecided_trials,thase_rush_stage,european_stage,maudsley_total,mgh_score,esketamine_candidate,flags,"
         "data_quality_issues";
}

std::string ResultCsvRow(const PersonResult& result) {
  std::string out;
  AppendResultCsvRow(result, out);
  return out;
}

namespace {

bool NeedsQuotes(std::string_view text) { return text.find_first_of(",\"\n") != std::string_view::npos; }

template <class Integer>
void AppendInteger(Integer value, std::string& out) {
  char digits[24];
  const auto written = std::to_chars(std::begin(digits), std::end(digits), value);
  out.append(digits, written.ptr);
}

// FormatDate's text ("YYYY-MM-DD", zero-padded) without a temporary string for years 0-9999.
void AppendDate(Date date, std::string& out) {
  const std::chrono::year_month_day ymd{date.days};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {
    out += FormatDate(date);
    return;
  }
  const auto month = static_cast<unsigned>(ymd.month());
  const auto day = static_cast<unsigned>(ymd.day());
  const char text[10] = {static_cast<char>('0' + year / 1000), static_cast<char>('0' + year / 100 % 10), static_cast<char>('0' + year / 10 % 10),
                         static_cast<char>('0' + year % 10),   '-',
                         static_cast<char>('0' + month / 10),  static_cast<char>('0' + month % 10),
                         '-',                                   static_cast<char>('0' + day / 10),
                         static_cast<char>('0' + day % 10)};
  out.append(text, sizeof text);
}

// The parts joined by ';' as one CSV field (quoted as CsvField quotes it).
void AppendJoined(const std::vector<std::string>& parts, std::string& out) {
  if (std::any_of(parts.begin(), parts.end(), [](const std::string& part) { return NeedsQuotes(part); })) {
    out += CsvField(fmt::format("{}", fmt::join(parts, ";")));
    return;
  }
  for (std::size_t part_idx = 0; part_idx < parts.size(); ++part_idx) {
    if (part_idx > 0) out += ';';
    out += parts[part_idx];
  }
}

}  // namespace

void AppendResultCsvRow(const PersonResult& result, std::string& out) {
  // Field by field into `out` (the text is the same as formatting the whole line at once).
  AppendInteger(result.person_id, out);
  out += ',';
  AppendDate(result.as_of, out);
  out += ',';
  if (result.episode_start) AppendDate(*result.episode_start, out);
  out += result.depression_diagnosis ? ",yes," : ",no,";
  out += TrdStatusName(result.trd_status);
  out += ',';
  AppendInteger(result.failed_adequate_trials, out);
  out += ',';
  AppendJoined(result.failed_drugs, out);
  for (const int count : {result.antidepressant_trials, result.adequate_trials, result.undecided_trials, result.thase_rush_stage}) {
    out += ',';
    AppendInteger(count, out);
  }
  out += ',';
  if (NeedsQuotes(result.european_category)) {
    out += CsvField(result.european_category);
  } else {
    out += result.european_category;
  }
  out += ',';
  if (result.maudsley_total) AppendInteger(*result.maudsley_total, out);
  out += ',';
  const double mgh = result.mgh_score;
  if (std::isfinite(mgh) && std::floor(mgh) == mgh && std::fabs(mgh) < 1e15) {
    AppendInteger(static_cast<long long>(mgh), out);  // FormatNumber's integer case
  } else {
    out += FormatNumber(mgh);
  }
  out += result.esketamine_candidate ? ",yes," : ",no,";
  AppendJoined(result.flags, out);
  out += ',';
  AppendInteger(result.data_quality.Total(), out);
  out += '\n';
}

void ScreenSummary::Add(const PersonResult& result, std::size_t drug_rows) {
  ++persons;
  drug_exposure_rows += static_cast<std::int64_t>(drug_rows);
  if (result.depression_diagnosis) ++with_depression_diagnosis;
  ++by_status[static_cast<std::size_t>(result.trd_status)];
  if (result.trd_status == TrdStatus::Meets && result.thase_rush_stage >= 0 && result.thase_rush_stage < 6) {
    ++thase_rush[static_cast<std::size_t>(result.thase_rush_stage)];
  }
  Count(european, result.european_category, 1);
  for (const std::string& flag : result.flags) Count(flags, flag, 1);
  if (result.esketamine_candidate) ++esketamine_candidates;
  data_quality.Merge(result.data_quality);
}

void ScreenSummary::Merge(const ScreenSummary& other) {
  persons += other.persons;
  drug_exposure_rows += other.drug_exposure_rows;
  with_depression_diagnosis += other.with_depression_diagnosis;
  for (std::size_t status_idx = 0; status_idx < by_status.size(); ++status_idx) by_status[status_idx] += other.by_status[status_idx];
  for (std::size_t stage_idx = 0; stage_idx < thase_rush.size(); ++stage_idx) thase_rush[stage_idx] += other.thase_rush[stage_idx];
  for (const auto& [key, count] : other.european) Count(european, key, count);
  for (const auto& [key, count] : other.flags) Count(flags, key, count);
  esketamine_candidates += other.esketamine_candidates;
  data_quality.Merge(other.data_quality);
}

}  // namespace refract::omop
