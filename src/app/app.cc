// SPDX-License-Identifier: Apache-2.0
// Use cases: KB loading, file reading, assessing patient files.
#include "refract/app/app.h"

#include "refract/app/embedded.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#ifndef REFRACT_VERSION
#define REFRACT_VERSION "0.0.0"
#endif

namespace refract::app {

const EngineInfo& Engine() {
  static const EngineInfo info{"refract", REFRACT_VERSION};
  return info;
}

Result<KnowledgeBase> LoadKb(const std::optional<std::filesystem::path>& directory) {
  // The built-in KB passed every check when it was built in (kbgen): only typed loading and the
  // reference checks run here, which keeps the command line's start-up short.
  if (!directory) return LoadKnowledgeBase(embedded::KbFiles(), "built-in", KbLoadOptions{false, std::string(embedded::KbDigest())});
  auto files = ReadKbDirectory(*directory);
  if (!files) return tl::unexpected(files.error());
  return LoadKnowledgeBase(*files, directory->string());
}

Result<nlohmann::json> ParseJsonText(const std::string& text, const std::string& label) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    // Turn the byte offset into a line and column a person can find in an editor.
    const std::size_t offset = std::min<std::size_t>(error.byte == 0 ? 0 : error.byte - 1, text.size());
    const long line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n');
    const std::size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
    const std::size_t column = line_start == std::string::npos ? offset + 1 : offset - line_start;
    // nlohmann's message is "[json.exception.parse_error.101] parse error at line L, column C: REASON";
    // the location is reported separately, so keep only the reason.
    std::string reason = error.what();
    const std::size_t column_marker = reason.find(", column ");
    const std::size_t colon = column_marker == std::string::npos ? std::string::npos : reason.find(": ", column_marker);
    if (colon != std::string::npos) reason = reason.substr(colon + 2);
    return Fail(ErrorCode::InvalidInput, fmt::format("not valid JSON: {}", reason), fmt::format("{}:{}:{}", label, line, column));
  }
}

const PatientParser& Parser() {
  static const PatientParser parser(nlohmann::json::parse(embedded::PatientSchema()));
  return parser;
}

Result<Assessment> AssessFile(const KnowledgeBase& kb, const std::filesystem::path& path, const EvaluateOptions& options) {
  auto text = ReadFile(path);
  if (!text) return tl::unexpected(text.error());
  auto json = ParseJsonText(*text, path.string());
  if (!json) return tl::unexpected(json.error());
  auto patient = Parser().Parse(kb, *json, path.string());
  if (!patient) return tl::unexpected(patient.error());
  return Evaluate(kb, *patient, options);
}

Date Today() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  const std::chrono::year_month_day ymd{std::chrono::year{local.tm_year + 1900}, std::chrono::month{static_cast<unsigned>(local.tm_mon + 1)},
                                        std::chrono::day{static_cast<unsigned>(local.tm_mday)}};
  return Date{std::chrono::sys_days{ymd}};
}

}  // namespace refract::app
