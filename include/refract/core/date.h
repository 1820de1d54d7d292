// SPDX-License-Identifier: Apache-2.0
/// Calendar dates (no time of day, no time zone) as used in patient records and reports.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace refract {

/// A calendar date; ordered, and differences are whole days.
struct Date {
  std::chrono::sys_days days{};

  friend auto operator<=>(const Date&, const Date&) = default;
  friend bool operator==(const Date&, const Date&) = default;
};

/// Parses "YYYY-MM-DD"; returns nothing for any other shape or an impossible date (2026-02-30).
[[nodiscard]] std::optional<Date> ParseDate(std::string_view text);

/// Formats as "YYYY-MM-DD".
[[nodiscard]] std::string FormatDate(Date date);

/// Days from `from` to `to` (negative when `to` is earlier).
[[nodiscard]] long DaysBetween(Date from, Date to);

/// Days from `from` to `to` counting both ends (1 when equal).
[[nodiscard]] long InclusiveDays(Date from, Date to);

/// Whole calendar months elapsed from `from` to `to` (0 when `to` is earlier).
[[nodiscard]] int WholeMonthsBetween(Date from, Date to);

/// Whole years elapsed from `from` to `to` (ages).
[[nodiscard]] int WholeYearsBetween(Date from, Date to);

/// The date `count` days after `date`.
[[nodiscard]] Date AddDays(Date date, long count);

}  // namespace refract
