// SPDX-License-Identifier: Apache-2.0
/// The assessment timeline as a Vega-Lite specification: scale totals with severity bands and
/// response/remission thresholds, over medication bars (drug, dose steps, augmentation) and
/// procedures (ECT, TMS, esketamine), with events. The HTML report and the web app render the same spec.
#pragma once

#include <nlohmann/json.hpp>

#include "refract/core/assessment.h"

namespace refract {

/// Builds the Vega-Lite (v6) specification of the timeline, data inline, deterministic.
///
/// One panel per depression scale that has totals (scales are never drawn on one axis), then one
/// panel of treatments. Bands, thresholds and scale ranges are those the assessment carries from the KB
/// (`measurement.scales`). With no
/// scores and no treatments the spec still renders (an empty treatments panel with a note).
[[nodiscard]] nlohmann::json TimelineChartSpec(const Assessment& assessment);

}  // namespace refract
