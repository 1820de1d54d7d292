// SPDX-License-Identifier: Apache-2.0
/// Error values and the Result type every fallible refract API returns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace refract {

/// What kind of failure an Error reports; adapters map it to exit codes and HTTP status.
enum class ErrorCode : std::uint8_t { InvalidInput, KbSchema, KbReference, NotFound, Storage, Io, Internal };

/// One failure: a lowercase message without trailing period and where it happened.
struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;
  std::string location;  ///< "kb/drugs/x.json#/adequacy", "patient.json#/medications/0/drug", or empty.
};

template <class T>
using Result = tl::expected<T, Error>;

/// Builds the unexpected side of a Result.
[[nodiscard]] inline tl::unexpected<Error> Fail(ErrorCode code, std::string message, std::string location = {}) {
  return tl::unexpected<Error>(Error{code, std::move(message), std::move(location)});
}

/// Stable lower-case name of an error code, as used in JSON error bodies.
[[nodiscard]] std::string_view ErrorCodeName(ErrorCode code);

}  // namespace refract
