// SPDX-License-Identifier: Apache-2.0
// Error names, the CHECK handler, dates and text helpers.
#include "refract/core/check.h"
#include "refract/core/date.h"
#include "refract/core/result.h"
#include "refract/core/text.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

namespace refract {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidInput: return "invalid_input";
    case ErrorCode::KbSchema: return "kb_schema";
    case ErrorCode::KbReference: return "kb_reference";
    case ErrorCode::NotFound: return "not_found";
    case ErrorCode::Storage: return "storage";
    case ErrorCode::Io: return "io";
    case ErrorCode::Internal: return "internal";
  }
  return "internal";
}

namespace detail {
void CheckFailed(const char* file, int line, const char* condition, const char* message) {
  // The core does no I/O except here: a failed CHECK is a bug and the process must stop loudly.
  std::fprintf(stderr, "%s:%d: REFRACT_CHECK(%s) failed: %s\n", file, line, condition, message);
  std::abort();
}
}  // namespace detail

namespace {
bool ParseDigits(std::string_view text, int& out) {
  out = 0;
  for (const char character : text) {
    if (character < '0' || character > '9') return false;
    out = out * 10 + (character - '0');
  }
  return !text.empty();
}
}  // namespace

std::optional<Date> ParseDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int year = 0;
  int month = 0;
  int day = 0;
  if (!ParseDigits(text.substr(0, 4), year) || !ParseDigits(text.substr(5, 2), month) ||
      !ParseDigits(text.substr(8, 2), day)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || year < 1800) return std::nullopt;
  return Date{std::chrono::sys_days{ymd}};
}

std::string FormatDate(Date date) {
  const std::chrono::year_month_day ymd{date.days};
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

long DaysBetween(Date from, Date to) { return static_cast<long>((to.days - from.days).count()); }

long InclusiveDays(Date from, Date to) { return DaysBetween(from, to) + 1; }

int WholeMonthsBetween(Date from, Date to) {
  if (to < from) return 0;
  const std::chrono::year_month_day start{from.days};
  const std::chrono::year_month_day end{to.days};
  int months = (static_cast<int>(end.year()) - static_cast<int>(start.year())) * 12 +
               (static_cast<int>(static_cast<unsigned>(end.month())) - static_cast<int>(static_cast<unsigned>(start.month())));
  if (static_cast<unsigned>(end.day()) < static_cast<unsigned>(start.day())) --months;
  return std::max(months, 0);
}

int WholeYearsBetween(Date from, Date to) { return WholeMonthsBetween(from, to) / 12; }

Date AddDays(Date date, long count) { return Date{date.days + std::chrono::days{count}}; }

std::string NormalizeName(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (const char raw : text) {
    const auto character = static_cast<unsigned char>(raw);
    if (std::isspace(character) != 0) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(static_cast<char>(std::tolower(character)));
  }
  return out;
}

std::size_t EditDistance(std::string_view left, std::string_view right) {
  std::vector<std::size_t> previous(right.size() + 1);
  std::vector<std::size_t> current(right.size() + 1);
  for (std::size_t col = 0; col <= right.size(); ++col) previous[col] = col;
  for (std::size_t row = 1; row <= left.size(); ++row) {
    current[0] = row;
    for (std::size_t col = 1; col <= right.size(); ++col) {
      const std::size_t substitution = previous[col - 1] + (left[row - 1] == right[col - 1] ? 0 : 1);
      current[col] = std::min({previous[col] + 1, current[col - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[right.size()];
}

namespace {

// The edit distance when it is at most `bound`, else bound + 1; stops as soon as every entry of a
// row exceeds the bound. `previous` and `current` are reused buffers.
std::size_t BoundedEditDistance(std::string_view left, std::string_view right, std::size_t bound, std::vector<std::size_t>& previous,
                                std::vector<std::size_t>& current) {
  const std::size_t gap = left.size() > right.size() ? left.size() - right.size() : right.size() - left.size();
  if (gap > bound) return bound + 1;
  previous.resize(right.size() + 1);
  current.resize(right.size() + 1);
  for (std::size_t col = 0; col <= right.size(); ++col) previous[col] = col;
  for (std::size_t row = 1; row <= left.size(); ++row) {
    current[0] = row;
    std::size_t row_minimum = current[0];
    for (std::size_t col = 1; col <= right.size(); ++col) {
      const std::size_t substitution = previous[col - 1] + (left[row - 1] == right[col - 1] ? 0 : 1);
      current[col] = std::min({previous[col] + 1, current[col - 1] + 1, substitution});
      row_minimum = std::min(row_minimum, current[col]);
    }
    if (row_minimum > bound) return bound + 1;
    std::swap(previous, current);
  }
  return std::min(previous[right.size()], bound + 1);
}

}  // namespace

std::optional<std::string> Suggest(std::string_view word, std::span<const std::string> candidates) {
  const std::string needle = NormalizeName(word);
  // Allow about one edit per four letters, at least one and at most four.
  const std::size_t limit = std::clamp<std::size_t>(needle.size() / 4, 1, 4);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  std::vector<std::size_t> previous;
  std::vector<std::size_t> current;
  for (const std::string& candidate : candidates) {
    // Normalising never lengthens a name: a candidate already too long or short by more than the
    // best distance so far cannot win, and is skipped before it is normalised.
    if (candidate.size() + best_distance <= needle.size()) continue;
    const std::string normalized = NormalizeName(candidate);
    // Only a strictly smaller distance replaces the best, as in a full search in candidate order.
    const std::size_t distance = BoundedEditDistance(needle, normalized, best_distance - 1, previous, current);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
      if (best_distance == 0) break;
    }
  }
  return best;
}

std::string FormatNumber(double value) {
  if (std::isfinite(value) && std::floor(value) == value && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  std::string text = fmt::format("{:.4f}", value);
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

}  // namespace refract
