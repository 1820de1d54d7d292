// SPDX-License-Identifier: Apache-2.0
/// The chart libraries built into the binary (web/package-lock.json: Vega, Vega-Lite, vega-embed),
/// so that HTML reports draw the timeline offline.
#pragma once

#include "refract/core/report.h"

namespace refract::embedded {

/// The minified libraries in load order; empty when the build had no npm (the report then says so).
[[nodiscard]] const HtmlChartScripts& ChartScripts();

}  // namespace refract::embedded
