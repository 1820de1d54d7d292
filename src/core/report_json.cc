// SPDX-License-Identifier: Apache-2.0
// The refract.assessment/v1 JSON form.
#include "refract/core/report.h"

#include "refract/core/staging.h"

namespace refract {
namespace {

using nlohmann::json;

json Optional(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }
json Optional(const std::optional<long>& value) { return value ? json(*value) : json(nullptr); }
json Optional(const std::optional<int>& value) { return value ? json(*value) : json(nullptr); }
json Optional(const std::optional<bool>& value) { return value ? json(*value) : json(nullptr); }
json Optional(const std::optional<Date>& value) { return value ? json(FormatDate(*value)) : json(nullptr); }
json TextOrNull(const std::string& value) { return value.empty() ? json(nullptr) : json(value); }

json FindingJson(const Finding& finding) {
  return json{{"code", finding.code}, {"message", finding.message}, {"rule", finding.rule}, {"sources", finding.sources}};
}

json Findings(const std::vector<Finding>& findings) {
  json out = json::array();
  for (const Finding& finding : findings) out.push_back(FindingJson(finding));
  return out;
}

json Explanation(const StagingExplanation& explanation) {
  return json{{"computation", explanation.computation},
              {"ambiguities", explanation.ambiguities},
              {"rule", explanation.rule},
              {"sources", explanation.sources}};
}

json TrialJson(const TrialAssessment& trial) {
  json out{
      {"index", trial.index},
      {"input_index", trial.input_index},
      {"course_id", TextOrNull(trial.course_id)},
      {"input_name", trial.input_name},
      {"drug", trial.drug->id},
      {"drug_name", trial.drug->inn},
      {"class", trial.drug->class_id},
      {"staging_group", trial.drug_class != nullptr ? json(StagingGroupName(trial.drug_class->staging_group)) : json(nullptr)},
      {"counts_as", CountsAsName(trial.drug->counts_as)},
      {"role", CourseRoleName(trial.role)},
      {"augments", TextOrNull(trial.augments)},
      {"episode", EpisodePlacementName(trial.episode)},
      {"start", FormatDate(trial.start)},
      {"end", Optional(trial.end)},
      {"ongoing", trial.ongoing},
      {"dose_expressed_as", TextOrNull(trial.drug->dose_expressed_as)},
      {"min_adequate_dose_mg_per_day", Optional(trial.min_adequate_dose_mg_per_day)},
      {"max_dose_mg_per_day", Optional(trial.max_dose_mg_per_day)},
      {"days_in_window", Optional(trial.days_in_window)},
      {"days_at_adequate_dose", Optional(trial.days_at_adequate_dose)},
      {"days_at_adequate_dose_is_lower_bound", trial.days_at_adequate_dose_is_lower_bound},
      {"weeks_at_adequate_dose",
       trial.days_at_adequate_dose ? json(std::stod(FormatWeeks(*trial.days_at_adequate_dose))) : json(nullptr)},
      {"required_days", trial.required_days},
      {"adherence", AdherenceName(trial.adherence)},
      {"adherence_percent", Optional(trial.adherence_percent)},
      {"adequacy", AdequacyName(trial.adequacy)},
      {"adequacy_reasons", Findings(trial.adequacy_reasons)},
      {"outcome", OutcomeName(trial.outcome)},
      {"outcome_basis",
       json{{"kind", trial.outcome_basis}, {"percent", Optional(trial.improvement_percent)}, {"rated_by", TextOrNull(trial.rated_by)}}},
      {"failed", Optional(trial.failed)},
      {"dose_optimized", trial.dose_optimized},
      {"duration_optimized", trial.duration_optimized},
      {"findings", Findings(trial.findings)},
      {"rules", trial.rules},
      {"sources", trial.sources},
  };
  return out;
}

json ProcedureJson(const ProcedureAssessment& procedure) {
  return json{{"index", procedure.index},
              {"input", procedure.source_list + "/" + std::to_string(procedure.input_index)},
              {"kind", procedure.kind},
              {"start", FormatDate(procedure.start)},
              {"end", Optional(procedure.end)},
              {"ongoing", procedure.ongoing},
              {"sessions", Optional(procedure.sessions)},
              {"laterality", TextOrNull(procedure.laterality)},
              {"episode", EpisodePlacementName(procedure.episode)},
              {"outcome", OutcomeName(procedure.outcome)},
              {"outcome_basis", json{{"kind", procedure.outcome_basis}, {"percent", Optional(procedure.improvement_percent)}}},
              {"failed", Optional(procedure.failed)},
              {"findings", Findings(procedure.findings)}};
}

json CitedSources(const std::vector<Source>& sources) {
  json out = json::array();
  for (const Source& source : sources) {
    json entry{{"id", source.id}, {"citation", source.citation}, {"year", source.year}};
    if (!source.url.empty()) entry["url"] = source.url;
    if (!source.doi.empty()) entry["doi"] = source.doi;
    out.push_back(std::move(entry));
  }
  return out;
}

json Component(const MaudsleyComponent& component) {
  return json{{"points", Optional(component.points)}, {"value", component.value}};
}

}  // namespace

json ErrorToJson(const Error& error) {
  return json{{"error", json{{"code", ErrorCodeName(error.code)}, {"message", error.message}, {"location", error.location}}}};
}

json AssessmentToJson(const Assessment& assessment, const EngineInfo& engine) {
  json alerts = json::array();
  for (const Alert& alert : assessment.alerts) {
    json entry = FindingJson(alert.finding);
    entry["severity"] = AlertSeverityName(alert.severity);
    alerts.push_back(std::move(entry));
  }
  json trials = json::array();
  for (const TrialAssessment& trial : assessment.trials) trials.push_back(TrialJson(trial));
  json procedures = json::array();
  for (const ProcedureAssessment& procedure : assessment.procedures) procedures.push_back(ProcedureJson(procedure));
  const Criteria& criteria = *assessment.criteria;
  json mgh_trials = json::array();
  for (const MghTrialPoints& points : assessment.mgh.per_trial) {
    mgh_trials.push_back(json{{"trial", points.trial}, {"points", points.points}, {"items", points.items}});
  }
  const TrdAssessment& trd = assessment.trd;
  const MaudsleyResult& maudsley = assessment.maudsley;
  json thase_rush = Explanation(assessment.thase_rush.explanation);
  thase_rush["stage"] = assessment.thase_rush.stage;
  thase_rush["label"] = assessment.thase_rush.label;
  json european = Explanation(assessment.european.explanation);
  european["category"] = assessment.european.category;
  european["failed_trials"] = assessment.european.failed_trials;
  european["total_weeks"] = assessment.european.total_weeks;
  european["months_since_first_trial"] = Optional(assessment.european.months_since_first_trial);
  json maudsley_json = Explanation(maudsley.explanation);
  maudsley_json["applicable"] = maudsley.applicable;
  maudsley_json["total"] = Optional(maudsley.total);
  maudsley_json["possible_range"] =
      maudsley.possible_min ? json::array({*maudsley.possible_min, *maudsley.possible_max}) : json(nullptr);
  maudsley_json["band"] = TextOrNull(maudsley.band);
  maudsley_json["components"] = json{{"duration", Component(maudsley.duration)},
                                     {"severity", Component(maudsley.severity)},
                                     {"failures", Component(maudsley.failures)},
                                     {"augmentation", Component(maudsley.augmentation)},
                                     {"ect", Component(maudsley.ect)}};
  json mgh = Explanation(assessment.mgh.explanation);
  mgh["score"] = assessment.mgh.score;
  mgh["per_trial"] = std::move(mgh_trials);
  mgh["ect_points"] = assessment.mgh.ect_points;
  return json{
      {"schema", "refract.assessment/v1"},
      {"engine", json{{"name", engine.name},
                      {"version", engine.version},
                      {"kb_version", assessment.kb_version},
                      {"kb_digest", assessment.kb_digest},
                      {"kb_source", assessment.kb_origin}}},
      {"patient_id", assessment.patient_id},
      {"as_of", FormatDate(assessment.as_of)},
      {"criteria", json{{"id", criteria.id},
                        {"name", criteria.name},
                        {"description", criteria.description},
                        {"min_duration_days", criteria.min_duration_days},
                        {"adherence_min_percent", criteria.adherence_min_percent},
                        {"failure", json{{"improvement_percent", criteria.failure_percent},
                                         {"comparison", criteria.failure_at_or_below ? "at_or_below" : "below"}}},
                        {"sources", criteria.sources}}},
      {"alerts", std::move(alerts)},
      {"trials", std::move(trials)},
      {"procedures", std::move(procedures)},
      {"trd", json{{"status", TrdStatusName(trd.status)},
                   {"failed_adequate_trials", trd.failed_adequate_trials},
                   {"failed_drugs", trd.failed_drugs},
                   {"failed_trial_indices", trd.failed_trial_indices},
                   {"undecided_trial_indices", trd.undecided_trial_indices},
                   {"required", trd.required},
                   {"rule", trd.rule},
                   {"sources", trd.sources},
                   {"findings", Findings(trd.findings)}}},
      {"staging", json{{"thase_rush", std::move(thase_rush)}, {"european", std::move(european)}, {"maudsley", maudsley_json}, {"mgh", std::move(mgh)}}},
      {"findings", Findings(assessment.findings)},
      {"sources", CitedSources(assessment.cited_sources)},
  };
}

}  // namespace refract
