// SPDX-License-Identifier: Apache-2.0
// The refract.assessment/v1 JSON form.
#include "refract/core/report.h"

#include "refract/core/interactions.h"
#include "refract/core/next_steps.h"
#include "refract/core/pgx.h"
#include "refract/core/staging.h"

#include <cmath>

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
       json{{"kind", trial.outcome_basis},
            {"percent", Optional(trial.improvement_percent)},
            {"rated_by", TextOrNull(trial.rated_by)},
            {"scale", TextOrNull(trial.outcome_scale)}}},
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

// Scale totals are whole numbers except for an unusual recorded total: print them as integers then.
json Score(double value) {
  if (value == std::floor(value) && std::abs(value) < 1e9) return json(static_cast<long long>(value));
  return json(value);
}

json Score(const std::optional<double>& value) { return value ? Score(*value) : json(nullptr); }

json PointJson(const std::optional<ScorePoint>& point) {
  if (!point) return nullptr;
  return json{{"date", FormatDate(point->date)}, {"total", Score(point->total)}, {"input_index", point->input_index}};
}

json TrajectoryJson(const ScaleTrajectory& trajectory) {
  json points = json::array();
  for (const ScorePoint& point : trajectory.points) points.push_back(PointJson(point));
  return json{{"scale", trajectory.scale_id},
              {"short_name", trajectory.short_name},
              {"status", trajectory.status},
              {"baseline_basis", trajectory.baseline ? json(trajectory.baseline_basis) : json(nullptr)},
              {"baseline", PointJson(trajectory.baseline)},
              {"best", PointJson(trajectory.best)},
              {"latest", PointJson(trajectory.latest)},
              {"percent_change", trajectory.percent_change ? json(std::round(*trajectory.percent_change * 10) / 10) : json(nullptr)},
              {"best_percent_change", trajectory.best_percent_change ? json(std::round(*trajectory.best_percent_change * 10) / 10) : json(nullptr)},
              {"outcome", trajectory.outcome ? json(OutcomeName(*trajectory.outcome)) : json(nullptr)},
              {"remission", trajectory.remission},
              {"response_date", Optional(trajectory.response_date)},
              {"days_to_response", Optional(trajectory.days_to_response)},
              {"reliable_change", trajectory.reliable_change.empty() ? json(nullptr) : json(trajectory.reliable_change)},
              {"reliable_change_index", Optional(trajectory.reliable_change_index)},
              {"points", std::move(points)},
              {"findings", Findings(trajectory.findings)}};
}

json MeasurementJson(const MeasurementAssessment& measurement) {
  json administrations = json::array();
  for (const ScaleResult& result : measurement.administrations) {
    administrations.push_back(json{{"input_index", result.input_index},
                                   {"scale", result.scale_id},
                                   {"short_name", result.short_name},
                                   {"measures", result.measures},
                                   {"date", FormatDate(result.date)},
                                   {"rater", TextOrNull(result.rater)},
                                   {"total", Score(result.total)},
                                   {"total_source", result.total_source},
                                   {"complete", result.complete},
                                   {"band", TextOrNull(result.band)},
                                   {"screen", result.screen},
                                   {"risk_tier", TextOrNull(result.risk_tier)},
                                   {"findings", Findings(result.findings)}});
  }
  json trials = json::array();
  for (const TrialMeasurement& trial : measurement.trials) {
    json trajectories = json::array();
    for (const ScaleTrajectory& trajectory : trial.trajectories) trajectories.push_back(TrajectoryJson(trajectory));
    trials.push_back(json{{"trial", trial.trial}, {"decided_by", TextOrNull(trial.decided_by)}, {"trajectories", std::move(trajectories)}});
  }
  json episode = json::array();
  for (const ScaleTrajectory& trajectory : measurement.episode) episode.push_back(TrajectoryJson(trajectory));
  json events = json::array();
  for (const EpisodeEvent& event : measurement.events) {
    events.push_back(json{{"kind", event.kind},
                          {"scale", event.scale_id},
                          {"date", FormatDate(event.date)},
                          {"remission_from", Optional(event.remission_from)},
                          {"finding", FindingJson(event.finding)}});
  }
  json tachyphylaxis = json::array();
  for (const TachyphylaxisResult& found : measurement.tachyphylaxis) {
    json alternatives = json::array();
    for (const AlternativeExplanation& entry : found.alternatives) {
      alternatives.push_back(json{{"code", entry.code}, {"name", entry.name}, {"status", entry.status}, {"detail", entry.detail}});
    }
    tachyphylaxis.push_back(json{{"trial", found.trial},
                                 {"drug", found.drug},
                                 {"scale", found.scale_id},
                                 {"classification", found.classification},
                                 {"response_from", FormatDate(found.response_from)},
                                 {"response_until", FormatDate(found.response_until)},
                                 {"loss_from", FormatDate(found.loss_from)},
                                 {"loss_confirmed", Optional(found.loss_confirmed)},
                                 {"dose_mg_per_day", Optional(found.dose_mg_per_day)},
                                 {"alternative_explanations", std::move(alternatives)},
                                 {"finding", FindingJson(found.finding)}});
  }
  json daily = nullptr;
  if (measurement.daily_log) {
    const DailyLogSummary& log = *measurement.daily_log;
    json fields = json::array();
    for (const DailyFieldSummary& field : log.fields) {
      fields.push_back(json{{"field", field.field},
                            {"label", field.label},
                            {"entries", field.entries},
                            {"mean", Optional(field.mean)},
                            {"min", Optional(field.min)},
                            {"max", Optional(field.max)},
                            {"change", Optional(field.change)},
                            {"trend", field.trend}});
    }
    daily = json{{"from", FormatDate(log.from)},
                 {"to", FormatDate(log.to)},
                 {"window_days", log.window_days},
                 {"entries", log.entries},
                 {"last_entry", Optional(log.last_entry)},
                 {"fields", std::move(fields)},
                 {"doses_missed", Optional(log.doses_missed)},
                 {"notes", log.notes},
                 {"findings", Findings(log.findings)}};
  }
  return json{{"locale", TextOrNull(measurement.locale)},
              {"administrations", std::move(administrations)},
              {"trials", std::move(trials)},
              {"episode", std::move(episode)},
              {"events", std::move(events)},
              {"tachyphylaxis", std::move(tachyphylaxis)},
              {"daily_log", std::move(daily)},
              {"findings", Findings(measurement.findings)}};
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
  // The interaction findings lead as `interactions[]`; what was checked sits beside them in `regimen`.
  json interactions = json::array();
  json regimen = nullptr;
  if (assessment.interactions) {
    json checked = InteractionReportJson(*assessment.interactions);
    interactions = std::move(checked["interactions"]);
    regimen = json{{"checked", std::move(checked["checked"])}, {"unresolved", std::move(checked["unresolved"])}, {"notes", std::move(checked["notes"])}};
  }
  // What next: drivers, options, monitoring and the patient summary; its findings join the others.
  json next = json{{"drivers", json::array()}, {"options", json::array()}, {"monitoring", json::array()}, {"patient_summary", nullptr}};
  json findings = Findings(assessment.findings);
  if (assessment.next_steps) {
    json evaluated = NextStepsToJson(*assessment.next_steps);
    for (const char* key : {"drivers", "options", "monitoring", "patient_summary"}) next[key] = std::move(evaluated[key]);
    for (auto& finding : evaluated["findings"]) findings.push_back(std::move(finding));
  }
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
      {"measurement", MeasurementJson(assessment.measurement)},
      {"interactions", interactions},
      {"regimen", regimen},
      {"pgx", assessment.pgx ? PgxReportJson(*assessment.pgx) : json(nullptr)},
      {"drivers", std::move(next["drivers"])},
      {"options", std::move(next["options"])},
      {"monitoring", std::move(next["monitoring"])},
      {"patient_summary", std::move(next["patient_summary"])},
      {"findings", std::move(findings)},
      {"sources", CitedSources(assessment.cited_sources)},
  };
}

}  // namespace refract
