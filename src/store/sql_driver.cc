// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the SQL layer: row accessors, placeholder numbering, error messages.
#include "sql_driver.h"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace refract::store::detail {

bool SqlRow::IsNull(std::size_t index) const { return index >= columns.size() || !columns[index].has_value(); }

std::string SqlRow::Text(std::size_t index) const { return IsNull(index) ? std::string() : *columns[index]; }

std::int64_t SqlRow::Int(std::size_t index) const {
  const auto value = OptionalInt(index);
  if (!value) throw std::runtime_error(fmt::format("column {} is not an integer", index));
  return *value;
}

std::optional<std::int64_t> SqlRow::OptionalInt(std::size_t index) const {
  if (IsNull(index)) return std::nullopt;
  const std::string& text = *columns[index];
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw std::runtime_error(fmt::format("column {} is not an integer", index));
  }
  return value;
}

std::string NumberPlaceholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int number = 0;
  char quote = 0;
  for (const char character : sql) {
    if (quote != 0) {
      if (character == quote) quote = 0;
      out += character;
      continue;
    }
    if (character == '\'' || character == '"') {
      quote = character;
      out += character;
      continue;
    }
    if (character == '?') {
      out += fmt::format("${}", ++number);
      continue;
    }
    out += character;
  }
  return out;
}

std::string StorageMessage(std::string_view what) {
  // Keep the first line only: PostgreSQL's DETAIL lines can quote the values of a row, and
  // storage errors are logged and must never carry patient data.
  const std::size_t newline = what.find('\n');
  std::string message(what.substr(0, newline));
  while (!message.empty() && (message.back() == ' ' || message.back() == '\r')) message.pop_back();
  return "storage: " + message;
}

}  // namespace refract::store::detail
