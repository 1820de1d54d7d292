// SPDX-License-Identifier: Apache-2.0
/// Helpers shared by the OMOP source implementations (not a public header).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "refract/core/date.h"
#include "refract/omop/source.h"

namespace refract::omop::internal {

/// A CDM date as text "YYYY-MM-DD" (a time part after it is ignored), or a number: days since
/// 1970-01-01 below 100000, else seconds since 1970-01-01 (SQLite files written from R).
[[nodiscard]] std::optional<Date> ParseCdmDate(std::string_view text);
[[nodiscard]] std::optional<Date> DateFromNumber(double value);

[[nodiscard]] Result<std::unique_ptr<Source>> OpenSqlite(const std::string& path);
[[nodiscard]] Result<std::unique_ptr<Source>> OpenCsv(const std::string& directory);
[[nodiscard]] Result<std::unique_ptr<Source>> OpenPostgres(const std::string& url);

}  // namespace refract::omop::internal
