// SPDX-License-Identifier: Apache-2.0
/// Compact JSON text of a document: the same bytes as nlohmann::json::dump() (keys in order, no
/// spaces, non-ASCII as UTF-8, control characters escaped), several times faster on long strings.
/// Invalid UTF-8 throws nlohmann's type_error, as dump() does.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace refract::cdshooks {

[[nodiscard]] std::string JsonText(const nlohmann::json& value);

}  // namespace refract::cdshooks
