// SPDX-License-Identifier: Apache-2.0
/// A synthetic OMOP CDM v5.4 database with known ground truth per person, for tests and benchmarks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "refract/core/kb.h"
#include "refract/core/omop.h"
#include "refract/core/result.h"

namespace refract::omop {

/// What to generate.
struct SynthOptions {
  std::int64_t persons = 1000;
  std::uint64_t seed = 1;
  /// Shift every vocabulary concept_id away from the ids the KB expects, so that screening must
  /// resolve concepts by (vocabulary, code).
  bool drift_concept_ids = false;
  std::function<void(std::int64_t persons_done)> on_progress;  ///< May be empty.
};

/// Counts of what was written.
struct SynthStats {
  std::int64_t persons = 0;
  std::int64_t drug_exposures = 0;
  std::int64_t conditions = 0;
  std::int64_t procedures = 0;
  std::int64_t scores = 0;
};

/// Writes the database: `out` ending in .sqlite/.sqlite3/.db (optionally "sqlite:" prefixed) is an
/// SQLite file (replaced if it exists); anything else is a directory of CSV files (created). The
/// ground truth goes into table/file refract_truth (person_id, scenario, trd_status,
/// failed_adequate_trials, data_quality). The same options give byte-identical content.
/// Fails with Io or Storage naming the output.
[[nodiscard]] Result<SynthStats> WriteSyntheticCdm(const KnowledgeBase& kb, const OmopConfig& config, const SynthOptions& options,
                                                   const std::string& out);

}  // namespace refract::omop
