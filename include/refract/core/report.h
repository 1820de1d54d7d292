// SPDX-License-Identifier: Apache-2.0
/// Turning an Assessment into its published forms: JSON (refract.assessment/v1), text and HTML.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/assessment.h"

namespace refract {

/// Engine identity printed in every output.
struct EngineInfo {
  std::string name = "refract";
  std::string version;
};

/// The canonical JSON form (keys sorted). Alerts come first in every rendering of it.
[[nodiscard]] nlohmann::json AssessmentToJson(const Assessment& assessment, const EngineInfo& engine);

/// A plain-text report for a terminal, alerts first; `color` adds ANSI emphasis.
[[nodiscard]] std::string RenderText(const Assessment& assessment, const EngineInfo& engine, bool color);

/// One self-contained HTML page (no scripts, no external resources), alerts first, print-friendly.
[[nodiscard]] std::string RenderHtml(const Assessment& assessment, const EngineInfo& engine);

/// Chart libraries (minified Vega, Vega-Lite, vega-embed, in that order) that the app built in.
struct HtmlChartScripts {
  std::vector<std::string_view> libraries;
};

/// As above, with the timeline chart (TimelineChartSpec) drawn offline by the inlined libraries.
[[nodiscard]] std::string RenderHtml(const Assessment& assessment, const EngineInfo& engine, const HtmlChartScripts& scripts);

/// The plain-language summary for the patient (what was found, why a medicine may have stopped
/// working, options worth discussing, questions for the next appointment, the crisis line), with
/// suicide-risk alerts first. Empty when the assessment has no next steps (KB without the tables).
[[nodiscard]] std::string RenderPatientText(const Assessment& assessment, const EngineInfo& engine);

/// The same summary as one self-contained, mobile-friendly, print-friendly HTML page.
[[nodiscard]] std::string RenderPatientHtml(const Assessment& assessment, const EngineInfo& engine);

/// The JSON body for an error ({"error": {"code", "message", "location"}}).
[[nodiscard]] nlohmann::json ErrorToJson(const Error& error);

}  // namespace refract
