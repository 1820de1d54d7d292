// SPDX-License-Identifier: Apache-2.0
/// Files built into the binary by kbgen: the knowledge base and the published JSON Schemas.
#pragma once

#include <span>
#include <string_view>

#include "refract/core/kb.h"

namespace refract::embedded {

/// The built-in knowledge base files, sorted by path.
[[nodiscard]] std::span<const KbFile> KbFiles();

/// The built-in KB's digest, computed when it was built in ("sha256:<hex>").
[[nodiscard]] std::string_view KbDigest();

/// schema/patient.schema.json as built in.
[[nodiscard]] std::string_view PatientSchema();

/// schema/assessment.schema.json as built in.
[[nodiscard]] std::string_view AssessmentSchema();

}  // namespace refract::embedded
