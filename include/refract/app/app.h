// SPDX-License-Identifier: Apache-2.0
/// Use cases shared by the command line and later the server: load a KB, read and assess patients.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/assessment.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/report.h"
#include "refract/core/result.h"

namespace refract::app {

/// The engine's own version, as printed in every output.
[[nodiscard]] const EngineInfo& Engine();

/// Reads every file of a KB directory (JSON files and DEVIATIONS.md), with paths relative to it.
/// Fails with Io when the directory cannot be read.
[[nodiscard]] Result<std::vector<KbFile>> ReadKbDirectory(const std::filesystem::path& directory);

/// Loads the built-in KB, or the one in `directory` when given.
[[nodiscard]] Result<KnowledgeBase> LoadKb(const std::optional<std::filesystem::path>& directory);

/// Reads a whole file. Fails with Io naming the path and the reason.
[[nodiscard]] Result<std::string> ReadFile(const std::filesystem::path& path);

/// Parses JSON text; a syntax error gives InvalidInput with "label:line:column".
[[nodiscard]] Result<nlohmann::json> ParseJsonText(const std::string& text, const std::string& label);

/// The patient parser built on the embedded patient schema.
[[nodiscard]] const PatientParser& Parser();

/// Reads, validates and assesses one patient file.
[[nodiscard]] Result<Assessment> AssessFile(const KnowledgeBase& kb, const std::filesystem::path& path, const EvaluateOptions& options);

/// Writes a file atomically (temporary file in the same directory, then rename). Fails with Io.
[[nodiscard]] Result<bool> WriteFileAtomically(const std::filesystem::path& path, const std::string& content);

/// Today's local calendar date (the only clock read in refract's assessment path).
[[nodiscard]] Date Today();

}  // namespace refract::app
