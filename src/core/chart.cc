// SPDX-License-Identifier: Apache-2.0
// The timeline chart as a Vega-Lite specification (rendered by vega-embed in the HTML report and
// the web app). Pure: the spec depends only on the assessment.
#include "refract/core/chart.h"

#include "refract/core/text.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace refract {
namespace {

using nlohmann::json;

constexpr int kWidth = 820;
constexpr int kScoreHeight = 170;
constexpr int kRowHeight = 24;
constexpr int kAxisWidth = 230;  // The same y-axis width in every panel keeps their time axes aligned.
constexpr long kMinLabelledFraction = 30;  // A dose label is drawn when its step spans 1/30 of the axis or more.

// Totals are whole numbers in practice; keep them integers in the spec.
json Number(double value) {
  if (value == static_cast<double>(static_cast<long long>(value))) return json(static_cast<long long>(value));
  return json(value);
}

std::string TreatmentLabel(const TrialAssessment& trial) {
  const std::string role = trial.drug->counts_as == CountsAs::Augmentation ? "augmentation" : std::string(CourseRoleName(trial.role));
  return fmt::format("{}. {} ({})", trial.index, trial.drug->inn, role);
}

std::string Category(const TrialAssessment& trial) {
  if (trial.drug->counts_as == CountsAs::Augmentation || trial.role == CourseRole::Augmentation) return "augmentation";
  if (trial.role == CourseRole::Combination) return "combination";
  return "antidepressant";
}

json XEncoding(const std::string& field, const std::string& title, const json& domain) {
  return json{{"field", field}, {"type", "temporal"}, {"title", title}, {"scale", json{{"type", "utc"}, {"domain", domain}}},
              {"axis", json{{"format", "%Y-%m"}, {"labelAngle", 0}, {"grid", true}}}};
}

}  // namespace

json TimelineChartSpec(const Assessment& assessment) {
  const MeasurementAssessment& measurement = assessment.measurement;
  // One time axis for every panel: from the earliest course, procedure or total to the assessment date.
  Date first = assessment.as_of;
  for (const TrialAssessment& trial : assessment.trials) first = std::min(first, trial.start);
  for (const ProcedureAssessment& procedure : assessment.procedures) first = std::min(first, procedure.start);
  for (const ScaleResult& result : measurement.administrations) first = std::min(first, result.date);
  const json domain = json::array({FormatDate(AddDays(first, -14)), FormatDate(AddDays(assessment.as_of, 14))});
  const long span_days = DaysBetween(AddDays(first, -14), AddDays(assessment.as_of, 14));

  json panels = json::array();
  for (const ScaleSummary& scale : measurement.scales) {
    if (scale.measures != "depression") continue;
    json points = json::array();
    for (const ScaleResult& result : measurement.administrations) {
      if (result.scale_id != scale.id || !result.total) continue;
      points.push_back(json{{"date", FormatDate(result.date)}, {"total", Number(*result.total)}, {"band", result.band}, {"scale", scale.short_name}});
    }
    if (points.empty()) continue;
    json bands = json::array();
    for (std::size_t band_idx = 0; band_idx < scale.band_starts.size(); ++band_idx) {
      const int low = scale.band_starts[band_idx].first;
      const int high = band_idx + 1 < scale.band_starts.size() ? scale.band_starts[band_idx + 1].first : scale.total_max.value_or(low) + 1;
      bands.push_back(json{{"from", low}, {"to", high}, {"band", scale.band_starts[band_idx].second}, {"order", band_idx}});
    }
    json layers = json::array();
    if (!bands.empty()) {
      json band_labels = json::array();
      for (const auto& entry : bands) band_labels.push_back(entry["band"]);
      layers.push_back(json{{"data", json{{"values", bands}}},
                            {"mark", json{{"type", "rect"}, {"opacity", 0.22}}},
                            {"encoding", json{{"y", json{{"field", "from"}, {"type", "quantitative"}}},
                                              {"y2", json{{"field", "to"}}},
                                              {"color", json{{"field", "band"}, {"type", "ordinal"}, {"sort", band_labels},
                                                             {"scale", json{{"scheme", "yelloworangered"}}},
                                                             {"legend", json{{"title", scale.short_name + " severity"}, {"orient", "right"}}}}},
                                              {"tooltip", json::array({json{{"field", "band"}, {"title", "band"}}})}}}});
    }
    if (scale.remission_max) {
      const json threshold = json::array({json{{"y", *scale.remission_max},
                                               {"label", fmt::format("remission: {} or less", *scale.remission_max)}}});
      layers.push_back(json{{"data", json{{"values", threshold}}},
                            {"mark", json{{"type", "rule"}, {"strokeDash", json::array({6, 4})}, {"color", "#1b5e20"}, {"strokeWidth", 1.5}}},
                            {"encoding", json{{"y", json{{"field", "y"}, {"type", "quantitative"}}}}}});
      layers.push_back(json{{"data", json{{"values", threshold}}},
                            {"mark", json{{"type", "text"}, {"align", "left"}, {"baseline", "bottom"}, {"dx", 4}, {"dy", -2}, {"x", 0},
                                          {"color", "#1b5e20"}, {"fontSize", 10}}},
                            {"encoding", json{{"y", json{{"field", "y"}, {"type", "quantitative"}}}, {"text", json{{"field", "label"}}}}}});
    }
    // The response threshold of each trial whose trajectory on this scale has a baseline.
    json response = json::array();
    if (measurement.response_from_percent) {
      for (const TrialMeasurement& trial : measurement.trials) {
        for (const ScaleTrajectory& trajectory : trial.trajectories) {
          if (trajectory.scale_id != scale.id || !trajectory.baseline || trajectory.points.size() < 2) continue;
          const double target = trajectory.baseline->total * (100 - *measurement.response_from_percent) / 100;
          response.push_back(json{{"from", FormatDate(trajectory.baseline->date)},
                                  {"to", FormatDate(trajectory.points.back().date)},
                                  {"y", target},
                                  {"label", fmt::format("trial {}: response at {} or less ({}% below {})", trial.trial, FormatNumber(target),
                                                        FormatNumber(*measurement.response_from_percent), FormatNumber(trajectory.baseline->total))}});
        }
      }
    }
    if (!response.empty()) {
      layers.push_back(json{{"data", json{{"values", response}}},
                            {"mark", json{{"type", "rule"}, {"strokeDash", json::array({2, 3})}, {"color", "#0d47a1"}, {"strokeWidth", 1.5}}},
                            {"encoding", json{{"x", json{{"field", "from"}, {"type", "temporal"}}},
                                              {"x2", json{{"field", "to"}}},
                                              {"y", json{{"field", "y"}, {"type", "quantitative"}}},
                                              {"tooltip", json::array({json{{"field", "label"}, {"title", "response threshold"}}})}}}});
    }
    // Events on this scale: relapse, recurrence, tachyphylaxis.
    json events = json::array();
    for (const EpisodeEvent& event : measurement.events) {
      if (event.scale_id != scale.id || (event.kind != "relapse" && event.kind != "recurrence")) continue;
      events.push_back(json{{"date", FormatDate(event.date)}, {"label", event.kind}, {"detail", event.finding.message}});
    }
    for (const TachyphylaxisResult& found : measurement.tachyphylaxis) {
      if (found.scale_id != scale.id) continue;
      events.push_back(json{{"date", FormatDate(found.loss_from)},
                            {"label", found.classification == "tachyphylaxis" ? "tachyphylaxis" : "loss of response"},
                            {"detail", found.finding.message}});
    }
    // Events on one date share one label ("recurrence; tachyphylaxis") so that labels never overprint.
    json merged = json::array();
    for (const auto& event : events) {
      auto same = std::find_if(merged.begin(), merged.end(), [&](const json& entry) { return entry["date"] == event["date"]; });
      if (same == merged.end()) {
        merged.push_back(event);
        continue;
      }
      (*same)["label"] = (*same)["label"].get<std::string>() + "; " + event["label"].get<std::string>();
      (*same)["detail"] = (*same)["detail"].get<std::string>() + " | " + event["detail"].get<std::string>();
    }
    events = std::move(merged);
    if (!events.empty()) {
      layers.push_back(json{{"data", json{{"values", events}}},
                            {"mark", json{{"type", "rule"}, {"color", "#b00020"}, {"strokeWidth", 1.5}}},
                            {"encoding", json{{"x", json{{"field", "date"}, {"type", "temporal"}}},
                                              {"tooltip", json::array({json{{"field", "detail"}, {"title", "event"}}})}}}});
      layers.push_back(json{{"data", json{{"values", events}}},
                            {"mark", json{{"type", "text"}, {"align", "left"}, {"baseline", "top"}, {"dx", 3}, {"y", 2}, {"color", "#b00020"},
                                          {"fontSize", 10}, {"fontWeight", "bold"}}},
                            {"encoding", json{{"x", json{{"field", "date"}, {"type", "temporal"}}}, {"text", json{{"field", "label"}}}}}});
    }
    const json y_scale = scale.total_max ? json{{"domain", json::array({scale.total_min.value_or(0), *scale.total_max})}, {"nice", false}} : json::object();
    layers.push_back(json{{"data", json{{"values", points}}},
                          {"mark", json{{"type", "line"}, {"point", json{{"filled", true}, {"size", 45}}}, {"color", "#263238"}, {"strokeWidth", 2}}},
                          {"encoding", json{{"x", XEncoding("date", "", domain)},
                                            {"y", json{{"field", "total"}, {"type", "quantitative"}, {"title", scale.short_name + " total"}, {"scale", y_scale}}},
                                            {"tooltip", json::array({json{{"field", "date"}, {"type", "temporal"}, {"format", "%Y-%m-%d"}, {"title", "date"}},
                                                                     json{{"field", "total"}, {"title", scale.short_name}},
                                                                     json{{"field", "band"}, {"title", "band"}}})}}}});
    panels.push_back(json{{"title", json{{"text", fmt::format("{} totals (higher = more severe)", scale.short_name)}, {"anchor", "start"}, {"fontSize", 13}}},
                          {"width", kWidth},
                          {"height", kScoreHeight},
                          {"layer", std::move(layers)},
                          {"resolve", json{{"scale", json{{"color", "independent"}}}}}});
  }

  // Treatments: one row per trial (dose steps as segments labelled with the dose) and per procedure.
  json steps = json::array();
  json rows = json::array();
  for (const TrialAssessment& trial : assessment.trials) {
    const std::string label = TreatmentLabel(trial);
    rows.push_back(label);
    const Date course_end = trial.end ? std::min(*trial.end, assessment.as_of) : trial.ongoing ? assessment.as_of : trial.start;
    const std::string unit = trial.drug->dose_expressed_as.empty() ? "mg" : "mg*";
    if (trial.doses.empty()) {
      steps.push_back(json{{"row", label}, {"from", FormatDate(trial.start)}, {"to", FormatDate(AddDays(std::max(course_end, trial.start), 1))},
                           {"category", Category(trial)}, {"dose", "dose?"}, {"detail", fmt::format("{}: no dose recorded", label)}});
      continue;
    }
    for (std::size_t step_idx = 0; step_idx < trial.doses.size(); ++step_idx) {
      const DoseStep& step = trial.doses[step_idx];
      if (assessment.as_of < step.from) continue;
      const Date step_end = step_idx + 1 < trial.doses.size() ? trial.doses[step_idx + 1].from : AddDays(std::max(course_end, step.from), 1);
      const std::string dose = fmt::format("{} {}", FormatNumber(step.mg_per_day), unit);
      const Date shown_end = std::min(step_end, AddDays(assessment.as_of, 1));
      const bool wide = DaysBetween(step.from, shown_end) * kMinLabelledFraction >= span_days;
      steps.push_back(json{{"row", label},
                           {"from", FormatDate(step.from)},
                           {"to", FormatDate(shown_end)},
                           {"category", Category(trial)},
                           {"dose", wide ? dose : ""},
                           {"detail", fmt::format("{}: {}/day from {}{}", label, dose, FormatDate(step.from),
                                                  trial.drug->dose_expressed_as.empty() ? "" : " (" + trial.drug->dose_expressed_as + ")")}});
    }
  }
  for (const ProcedureAssessment& procedure : assessment.procedures) {
    std::string kind = procedure.kind;
    for (char& character : kind) character = static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
    if (procedure.kind == "esketamine" || procedure.kind == "ketamine") kind = procedure.kind;
    const std::string label = procedure.laterality.empty() ? kind : fmt::format("{} ({})", kind, procedure.laterality);
    rows.push_back(label);
    const Date end = procedure.end ? *procedure.end : procedure.ongoing ? assessment.as_of : procedure.start;
    steps.push_back(json{{"row", label},
                         {"from", FormatDate(procedure.start)},
                         {"to", FormatDate(AddDays(end, 1))},
                         {"category", "procedure"},
                         {"dose", procedure.sessions && DaysBetween(procedure.start, AddDays(end, 1)) * kMinLabelledFraction >= span_days
                                      ? fmt::format("{} sessions", *procedure.sessions)
                                      : ""},
                         {"detail", fmt::format("{} from {}: outcome {}", label, FormatDate(procedure.start), OutcomeName(procedure.outcome))}});
  }
  const json categories = json::array({"antidepressant", "combination", "augmentation", "procedure"});
  const json colors = json::array({"#1565c0", "#6a1b9a", "#ef6c00", "#2e7d32"});
  json treatment_layers = json::array();
  treatment_layers.push_back(json{{"mark", json{{"type", "bar"}, {"height", json{{"band", 0.7}}}, {"stroke", "white"}, {"strokeWidth", 1}}},
                                  {"encoding", json{{"x", XEncoding("from", "", domain)},
                                                    {"x2", json{{"field", "to"}}},
                                                    {"y", json{{"field", "row"}, {"type", "nominal"}, {"sort", rows}, {"title", nullptr},
                                                               {"axis", json{{"labelLimit", 220}}}}},
                                                    {"color", json{{"field", "category"}, {"type", "nominal"}, {"title", "treatment"},
                                                                   {"scale", json{{"domain", categories}, {"range", colors}}},
                                                                   {"legend", json{{"orient", "right"}}}}},
                                                    {"tooltip", json::array({json{{"field", "detail"}, {"title", "treatment"}}})}}}});
  treatment_layers.push_back(json{{"mark", json{{"type", "text"}, {"align", "left"}, {"dx", 3}, {"color", "white"}, {"fontSize", 10}, {"limit", 120}}},
                                  {"encoding", json{{"x", json{{"field", "from"}, {"type", "temporal"}}},
                                                    {"y", json{{"field", "row"}, {"type", "nominal"}, {"sort", rows}}},
                                                    {"text", json{{"field", "dose"}}}}}});
  json treatments{{"title", json{{"text", "Treatments (dose steps, augmentation, procedures)"}, {"anchor", "start"}, {"fontSize", 13}}},
                  {"width", kWidth},
                  {"height", std::max<int>(kRowHeight, kRowHeight * static_cast<int>(rows.size()))},
                  {"data", json{{"values", std::move(steps)}}},
                  {"layer", std::move(treatment_layers)}};
  panels.push_back(std::move(treatments));

  return json{{"$schema", "https://vega.github.io/schema/vega-lite/v6.json"},
              {"description", fmt::format("refract timeline for patient {} as of {}", assessment.patient_id, FormatDate(assessment.as_of))},
              {"config", json{{"font", "system-ui, -apple-system, Segoe UI, sans-serif"}, {"view", json{{"stroke", "#ddd"}}},
                              {"axis", json{{"labelFontSize", 11}, {"titleFontSize", 11}}},
                              {"axisY", json{{"minExtent", kAxisWidth}, {"maxExtent", kAxisWidth}}}}},
              {"vconcat", std::move(panels)},
              {"spacing", 18},
              {"resolve", json{{"scale", json{{"x", "shared"}, {"color", "independent"}}}, {"legend", json{{"color", "independent"}}}}}};
}

}  // namespace refract
