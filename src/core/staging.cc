// SPDX-License-Identifier: Apache-2.0
// Thase & Rush, European, Maudsley and MGH staging (docs/assessment.md section 6).
#include "refract/core/staging.h"

#include "refract/core/text.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace refract {
namespace {

// Failed adequate antidepressant trials of the current episode, the first trial of each drug.
std::vector<const TrialAssessment*> FailedTrials(const std::vector<TrialAssessment>& trials) {
  std::vector<const TrialAssessment*> out;
  for (const TrialAssessment& trial : trials) {
    if (trial.episode != EpisodePlacement::Current || trial.drug->counts_as != CountsAs::Antidepressant) continue;
    if (!trial.failed || !*trial.failed) continue;
    // One KB drug is one Drug object: comparing pointers compares drug ids.
    const bool seen = std::any_of(out.begin(), out.end(), [&](const TrialAssessment* earlier) { return earlier->drug == trial.drug; });
    if (!seen) out.push_back(&trial);
  }
  return out;
}

bool IsAugmentationCourse(const TrialAssessment& trial) {
  return trial.drug->counts_as == CountsAs::Augmentation || trial.role == CourseRole::Augmentation ||
         trial.role == CourseRole::Combination;
}

StagingGroup GroupOf(const TrialAssessment& trial) {
  return trial.drug_class != nullptr ? trial.drug_class->staging_group : StagingGroup::Other;
}

std::size_t DistinctGroups(const std::vector<StagingGroup>& groups) {
  return std::set<StagingGroup>(groups.begin(), groups.end()).size();
}

std::vector<StagingGroup> Without(const std::vector<StagingGroup>& groups, std::size_t skip) {
  std::vector<StagingGroup> out;
  for (std::size_t group_idx = 0; group_idx < groups.size(); ++group_idx) {
    if (group_idx != skip) out.push_back(groups[group_idx]);
  }
  return out;
}

bool MeetsStage3(const ThaseRushModel& model, const std::vector<StagingGroup>& groups) {
  for (std::size_t group_idx = 0; group_idx < groups.size(); ++group_idx) {
    if (groups[group_idx] != model.stage3_group) continue;
    if (DistinctGroups(Without(groups, group_idx)) >= static_cast<std::size_t>(model.stage2_min_distinct_groups)) return true;
  }
  return false;
}

bool MeetsStage4(const ThaseRushModel& model, const std::vector<StagingGroup>& groups) {
  for (std::size_t group_idx = 0; group_idx < groups.size(); ++group_idx) {
    if (groups[group_idx] == model.stage4_group && MeetsStage3(model, Without(groups, group_idx))) return true;
  }
  return false;
}

bool IsFailedEct(const ProcedureAssessment& procedure) {
  return procedure.kind == "ect" && procedure.episode == EpisodePlacement::Current && procedure.failed && *procedure.failed;
}

std::string Upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char character) { return static_cast<char>(std::toupper(character)); });
  return out;
}

std::string TrialList(const std::vector<const TrialAssessment*>& trials) {
  std::vector<std::string> parts;
  for (const TrialAssessment* trial : trials) {
    parts.push_back(fmt::format("trial {} {} ({})", trial->index, trial->drug->inn, Upper(StagingGroupName(GroupOf(*trial)))));
  }
  return parts.empty() ? std::string("none") : fmt::format("{}", fmt::join(parts, ", "));
}

std::optional<int> BandPoints(const std::vector<BandRow>& rows, int value, std::string& label) {
  for (const BandRow& row : rows) {
    if (!row.max || value <= *row.max) {
      label = row.label;
      return row.points;
    }
  }
  return std::nullopt;
}

}  // namespace

ThaseRushResult StageThaseRush(const ThaseRushModel& model, const std::vector<TrialAssessment>& trials,
                               const std::vector<ProcedureAssessment>& procedures, bool explain) {
  static constexpr const char* kRoman[] = {"0", "I", "II", "III", "IV", "V"};
  ThaseRushResult out;
  if (explain) {
    out.explanation.rule = model.id;
    out.explanation.sources = model.sources;
  }
  const auto failed = FailedTrials(trials);
  std::vector<StagingGroup> groups;
  for (const TrialAssessment* trial : failed) groups.push_back(GroupOf(*trial));
  if (explain) out.explanation.computation.push_back(fmt::format("failed adequate antidepressant trials in the current episode: {}", TrialList(failed)));
  int stage = failed.empty() ? 0 : 1;
  if (DistinctGroups(groups) >= static_cast<std::size_t>(model.stage2_min_distinct_groups)) stage = 2;
  if (explain) out.explanation.computation.push_back(fmt::format("{} distinct class{} among them ({} needed for stage II)", DistinctGroups(groups),
                                                    DistinctGroups(groups) == 1 ? "" : "es", model.stage2_min_distinct_groups));
  if (stage == 2 && MeetsStage3(model, groups)) stage = 3;
  if (stage >= 2) {
    if (explain) out.explanation.computation.push_back(stage == 3 ? fmt::format("a failed {} trial besides a stage II set: stage III", Upper(StagingGroupName(model.stage3_group)))
                                                     : fmt::format("no failed {} trial besides a stage II set: not stage III", Upper(StagingGroupName(model.stage3_group))));
  }
  if (stage == 3 && MeetsStage4(model, groups)) stage = 4;
  if (stage >= 3) {
    if (explain) out.explanation.computation.push_back(stage == 4 ? fmt::format("a failed {} trial besides a stage III set: stage IV", Upper(StagingGroupName(model.stage4_group)))
                                                     : fmt::format("no failed {} trial besides a stage III set: not stage IV", Upper(StagingGroupName(model.stage4_group))));
  }
  const auto qualifying_ect = std::find_if(procedures.begin(), procedures.end(), [&](const ProcedureAssessment& procedure) {
    return IsFailedEct(procedure) &&
           std::find(model.stage5_ect_placements.begin(), model.stage5_ect_placements.end(), procedure.laterality) !=
               model.stage5_ect_placements.end();
  });
  const bool any_failed_ect = std::any_of(procedures.begin(), procedures.end(), IsFailedEct);
  if (stage == 4) {
    if (qualifying_ect != procedures.end()) {
      stage = 5;
      if (explain) out.explanation.computation.push_back(fmt::format("failed {} ECT (procedure {}): stage V", qualifying_ect->laterality, qualifying_ect->index));
    } else {
      if (explain) out.explanation.computation.push_back(any_failed_ect ? "failed ECT, but not with a bilateral placement: not stage V"
                                                           : "no failed bilateral ECT course: not stage V");
    }
  } else if (any_failed_ect) {
    if (explain) out.explanation.computation.push_back("a failed ECT course counts for stage V only on top of stage IV");
  }
  out.stage = stage;
  out.label = fmt::format("Stage {}", kRoman[stage]);
  if (explain) out.explanation.ambiguities = {
      "the stages are read as cumulative sets: stage III needs a failed TCA trial besides two failed trials of distinct "
      "classes, stage IV a failed MAOI besides a stage III set (dev.0002)",
      "augmentation does not change the stage, as in the published model",
      "bifrontal ECT is counted as bilateral for stage V; unilateral ECT is not (dev.0002)",
      "a drug repeated in the same episode counts once"};
  return out;
}

EuropeanResult StageEuropean(const EuropeanModel& model, const TrdAssessment& trd, const std::vector<TrialAssessment>& trials, Date as_of,
                             bool explain) {
  EuropeanResult out;
  if (explain) {
    out.explanation.rule = model.id;
    out.explanation.sources = model.sources;
  }
  const auto failed = FailedTrials(trials);
  out.failed_trials = static_cast<int>(failed.size());
  long failed_days = 0;
  for (const TrialAssessment* trial : failed) failed_days += trial->days_at_adequate_dose.value_or(0);
  out.total_weeks = std::stod(FormatWeeks(failed_days));
  out.category = "none";
  const EuropeanLevel* level = nullptr;
  for (const EuropeanLevel& candidate : model.levels) {
    if (out.failed_trials >= candidate.failed_trials) level = &candidate;
  }
  if (explain) out.explanation.computation.push_back(fmt::format("{} failed adequate antidepressant trial{} in the current episode ({} weeks at an "
                                                    "adequate dose in all)",
                                                    out.failed_trials, out.failed_trials == 1 ? "" : "s", FormatNumber(out.total_weeks)));
  if (level != nullptr) {
    out.category = level->category;
    if (explain) out.explanation.computation.push_back(fmt::format("{} failed trials: {} (the published band for it is {}-{} weeks of treatment)",
                                                      out.failed_trials, Upper(level->category), FormatNumber(level->weeks_from),
                                                      FormatNumber(level->weeks_to)));
  } else {
    if (explain) out.explanation.computation.push_back("no failed adequate trial: not staged");
  }
  std::optional<Date> first_start;
  bool augmentation_used = false;
  for (const TrialAssessment& trial : trials) {
    if (trial.episode != EpisodePlacement::Current) continue;
    if (IsAugmentationCourse(trial)) augmentation_used = true;
    if (trial.drug->counts_as == CountsAs::Antidepressant && (!first_start || trial.window_start < *first_start)) first_start = trial.window_start;
  }
  if (first_start) out.months_since_first_trial = WholeMonthsBetween(*first_start, as_of);
  if (trd.failed_adequate_trials >= 2 && out.failed_trials >= 2) {
    const bool long_enough = out.months_since_first_trial && *out.months_since_first_trial >= model.crd_min_months;
    const bool augmentation_ok = augmentation_used || !model.crd_requires_augmentation;
    if (long_enough && augmentation_ok) {
      out.category = "crd";
      if (explain) out.explanation.computation.push_back(fmt::format("resistant for {} months since the first trial of the episode, with "
                                                        "augmentation: chronic resistant depression (CRD, at least {} months)",
                                                        *out.months_since_first_trial, model.crd_min_months));
    } else {
      if (explain) out.explanation.computation.push_back(fmt::format("not chronic resistant depression: {} months since the first trial (at least "
                                                        "{} needed){}",
                                                        out.months_since_first_trial.value_or(0), model.crd_min_months,
                                                        augmentation_ok ? "" : ", and no augmentation used"));
    }
  }
  if (explain) out.explanation.ambiguities = {
      "the published TRD1-TRD5 week bands overlap (12-16, 18-24, 24-32, 30-40, 36-52 weeks) because each stands for n "
      "trials of 6-8 weeks; refract grades by the number of failed adequate trials and shows the weeks beside (dev.0003)",
      "chronic resistant depression is read as: TRD, augmentation used in the episode, and at least the set number of "
      "months from the first antidepressant trial of the episode to the assessment date (dev.0003)"};
  return out;
}

MaudsleyResult StageMaudsley(const MaudsleyModel& model, const PatientRecord& patient, const TrdAssessment& trd,
                             const std::vector<TrialAssessment>& trials, const std::vector<ProcedureAssessment>& procedures,
                             Date as_of, bool explain) {
  (void)trd;
  MaudsleyResult out;
  if (explain) {
    out.explanation.rule = model.id;
    out.explanation.sources = model.sources;
  }
  const auto failed = FailedTrials(trials);
  const int failed_count = static_cast<int>(failed.size());
  out.applicable = failed_count > 0;

  int known_sum = 0;
  int unknown_min = 0;
  int unknown_max = 0;
  bool complete = true;
  const auto add_unknown = [&](int low, int high) {
    complete = false;
    unknown_min += low;
    unknown_max += high;
  };

  if (patient.episode_start) {
    const int months = WholeMonthsBetween(*patient.episode_start, as_of);
    std::string label;
    out.duration.points = BandPoints(model.duration_months, months, label);
    out.duration.value = fmt::format("{} months ({})", months, label);
    known_sum += out.duration.points.value_or(0);
  } else {
    out.duration.value = "episode start not recorded";
    int low = 99;
    int high = 0;
    for (const BandRow& row : model.duration_months) {
      low = std::min(low, row.points);
      high = std::max(high, row.points);
    }
    add_unknown(low, high);
  }

  if (!patient.episode_severity.empty()) {
    const bool psychotic = patient.psychotic_features.value_or(false);
    const MaudsleyModel::SeverityRow* match = nullptr;
    for (const auto& row : model.severity) {
      if (row.severity == patient.episode_severity && row.psychotic == psychotic) match = &row;
    }
    if (match == nullptr) {
      for (const auto& row : model.severity) {
        if (row.severity == patient.episode_severity && !row.psychotic) match = &row;
      }
      if (explain) out.explanation.ambiguities.push_back(
          "psychotic features are scored only with severe depression in the model; they are not scored with lesser severity");
    }
    if (match != nullptr) {
      out.severity.points = match->points;
      out.severity.value = match->severity + (match->psychotic ? " with psychosis" : "");
      known_sum += match->points;
    }
  } else {
    out.severity.value = "episode severity not recorded";
    int low = 99;
    int high = 0;
    for (const auto& row : model.severity) {
      low = std::min(low, row.points);
      high = std::max(high, row.points);
    }
    add_unknown(low, high);
  }

  if (failed_count > 0) {
    std::string label;
    out.failures.points = BandPoints(model.failures, failed_count, label);
    out.failures.value = fmt::format("{} failed antidepressant{} ({})", failed_count, failed_count == 1 ? "" : "s", label);
    known_sum += out.failures.points.value_or(0);
  } else {
    out.failures.value = "no failed adequate antidepressant trial";
  }

  const bool augmentation_used = std::any_of(trials.begin(), trials.end(), [](const TrialAssessment& trial) {
    return trial.episode == EpisodePlacement::Current && IsAugmentationCourse(trial);
  });
  out.augmentation.points = augmentation_used ? model.augmentation_points : 0;
  out.augmentation.value = augmentation_used ? "used" : "not used";
  known_sum += *out.augmentation.points;
  const bool ect_used = std::any_of(procedures.begin(), procedures.end(), [](const ProcedureAssessment& procedure) {
    return procedure.kind == "ect" && procedure.episode == EpisodePlacement::Current;
  });
  out.ect.points = ect_used ? model.ect_points : 0;
  out.ect.value = ect_used ? "used" : "not used";
  known_sum += *out.ect.points;

  if (!out.applicable) {
    if (explain) out.explanation.computation.push_back("no failed adequate antidepressant trial in the current episode: the Maudsley method "
                                          "presupposes at least one (its lowest total is 3), so it is not applied");
  } else if (complete) {
    out.total = known_sum;
    for (const auto& band : model.bands) {
      if (known_sum >= band.min_total && known_sum <= band.max_total) out.band = band.band;
    }
    if (explain) out.explanation.computation.push_back(fmt::format("duration {} + severity {} + failures {} + augmentation {} + ECT {} = {} ({})",
                                                      *out.duration.points, *out.severity.points, *out.failures.points,
                                                      *out.augmentation.points, *out.ect.points, known_sum, out.band));
  } else {
    out.possible_min = known_sum + unknown_min;
    out.possible_max = known_sum + unknown_max;
    if (explain) out.explanation.computation.push_back(fmt::format("total not computed: {}; with the known components it lies between {} and {}",
                                                      patient.episode_start ? out.severity.value : out.duration.value,
                                                      *out.possible_min, *out.possible_max));
  }
  if (explain) out.explanation.ambiguities.push_back(
      "failures count failed adequate antidepressant trials of the current episode, one per drug; augmentation and ECT "
      "score when used in the current episode, whatever their outcome (dev.0004)");
  if (explain) out.explanation.ambiguities.push_back("episode duration is counted in whole calendar months up to the assessment date (dev.0004)");
  return out;
}

MghResult StageMgh(const MghModel& model, const std::vector<TrialAssessment>& trials, const std::vector<ProcedureAssessment>& procedures,
                   Date as_of, bool explain) {
  MghResult out;
  if (explain) {
    out.explanation.rule = model.id;
    out.explanation.sources = model.sources;
  }
  const auto failed = FailedTrials(trials);
  const auto last_day = [&](const TrialAssessment& trial) { return trial.window_end.value_or(trial.end.value_or(as_of)); };
  for (const TrialAssessment* trial : failed) {
    // A combination course linked to another trial scores on that trial, not as a trial of its own.
    if (trial->role == CourseRole::Combination && !trial->augments.empty()) {
      const bool linked = std::any_of(trials.begin(), trials.end(), [&](const TrialAssessment& other) { return other.course_id == trial->augments; });
      if (linked) {
        if (explain) out.explanation.computation.push_back(fmt::format("trial {} {} is a combination with course \"{}\": scored on that trial",
                                                          trial->index, trial->drug->inn, trial->augments));
        continue;
      }
    }
    MghTrialPoints points{trial->index, model.per_failed_trial, {}};
    if (explain) points.items.push_back(fmt::format("failed adequate trial of {}: {}", trial->drug->inn, FormatNumber(model.per_failed_trial)));
    // Optimisation is read from the record only; it is never inferred from the dose history.
    if (trial->dose_optimized) {
      points.points += model.dose_optimized;
      if (explain) points.items.push_back(fmt::format("dose optimised: +{}", FormatNumber(model.dose_optimized)));
    }
    if (trial->duration_optimized) {
      points.points += model.duration_optimized;
      if (explain) points.items.push_back(fmt::format("duration optimised: +{}", FormatNumber(model.duration_optimized)));
    }
    for (const TrialAssessment& other : trials) {
      if (&other == trial || other.episode != EpisodePlacement::Current || !IsAugmentationCourse(other)) continue;
      const bool linked = !other.augments.empty() && other.augments == trial->course_id && !trial->course_id.empty();
      const bool overlaps = other.augments.empty() && other.start <= last_day(*trial) && trial->start <= last_day(other);
      if (!linked && !overlaps) continue;
      points.points += model.augmented_or_combined;
      if (explain) points.items.push_back(fmt::format("{} with {} (trial {}): +{}", other.role == CourseRole::Combination ? "combined" : "augmented",
                                         other.drug->inn, other.index, FormatNumber(model.augmented_or_combined)));
      break;
    }
    out.per_trial.push_back(points);
  }
  for (const MghTrialPoints& points : out.per_trial) {
    if (explain) out.explanation.computation.push_back(fmt::format("trial {}: {} ({})", points.trial, FormatNumber(points.points), fmt::join(points.items, "; ")));
  }
  out.ect_points = std::any_of(procedures.begin(), procedures.end(), IsFailedEct) ? model.failed_ect : 0;
  double score = out.ect_points;
  for (const MghTrialPoints& points : out.per_trial) score += points.points;
  out.score = score;
  if (explain) out.explanation.computation.push_back(fmt::format("{} scored trial{}; failed ECT: +{}; total {}", out.per_trial.size(),
                                                    out.per_trial.size() == 1 ? "" : "s", FormatNumber(out.ect_points), FormatNumber(score)));
  if (explain) out.explanation.ambiguities = {
      "dose and duration optimisation are scored only when the record marks them (dose_optimized, duration_optimized); "
      "they are never inferred (dev.0005)",
      "an augmentation counts for a trial when it names that course (augments) or, naming none, overlaps it in time; each "
      "trial scores augmentation at most once (dev.0005)",
      "failed ECT scores once, however many courses (dev.0005)"};
  return out;
}

}  // namespace refract
