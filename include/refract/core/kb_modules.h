// SPDX-License-Identifier: Apache-2.0
/// Checks of the KB's module tables (interactions, measurement-based care, pharmacogenomics) that only
/// the modules themselves can make, gathered for `refract kb check` and the build-time KB check.
#pragma once

#include <vector>

#include "refract/core/kb.h"
#include "refract/core/result.h"

namespace refract {

/// Every problem the modules find in a loaded KB (cross-references, grid gaps, inverted bands...).
/// A module whose tables the KB does not have at all (the fixture KB) is skipped. Empty when fine.
[[nodiscard]] std::vector<Error> CheckKnowledgeModules(const KnowledgeBase& kb);

}  // namespace refract
