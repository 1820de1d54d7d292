// SPDX-License-Identifier: Apache-2.0
/// Small text helpers: case folding, edit distance and "did you mean" suggestions.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace refract {

/// ASCII lower-case copy with surrounding white space removed and inner runs folded to one space.
[[nodiscard]] std::string NormalizeName(std::string_view text);

/// Levenshtein distance between two strings.
[[nodiscard]] std::size_t EditDistance(std::string_view left, std::string_view right);

/// The closest candidate within a distance that grows with the word's length, or nothing.
[[nodiscard]] std::optional<std::string> Suggest(std::string_view word, std::span<const std::string> candidates);

/// Formats a number without trailing zeros ("42", "0.5", "62.5").
[[nodiscard]] std::string FormatNumber(double value);

}  // namespace refract
