// SPDX-License-Identifier: Apache-2.0
/// REFRACT_CHECK: an always-on assertion for programming errors (never for user input).
#pragma once

namespace refract::detail {
/// Prints file:line and the message to standard error, then aborts.
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition, const char* message);
}  // namespace refract::detail

#define REFRACT_CHECK(condition, message)                                          \
  do {                                                                             \
    if (!(condition)) ::refract::detail::CheckFailed(__FILE__, __LINE__, #condition, message); \
  } while (false)
