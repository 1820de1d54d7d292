// SPDX-License-Identifier: Apache-2.0
/// OMOP CDM sources (SQLite, PostgreSQL, CSV exports) and the screening run that streams persons
/// from them in id order through the core engine, on one or several threads with identical results.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "refract/core/kb.h"
#include "refract/core/omop.h"
#include "refract/core/result.h"

namespace refract::omop {

/// Which rows of the clinical tables a reader returns besides all drug exposures.
struct ReadFilter {
  std::vector<ConceptId> condition_ids;
  std::vector<ConceptId> procedure_ids;
  std::vector<ConceptId> score_ids;
};

/// How a reader read one table, counted per chunk.
struct TableReads {
  std::int64_t from_pages = 0;      ///< SQLite: the table's own pages, in rowid order (the fast path).
  std::int64_t rowid_cursor = 0;    ///< SQLite: SQLite's cursor in rowid order (drug_exposure in WAL mode, ...).
  std::int64_t by_query = 0;        ///< SQLite: a person_id range query (through the person_id index, a search per row; without
                                    ///< the index, a scan of the table): rows not in person order, no index, values the pages leave to SQLite.
};

/// How a reader read its chunks, by table (SQLite sources; empty for the others).
struct ReadStats {
  std::map<std::string, TableReads, std::less<>> tables;
  void Merge(const ReadStats& other);
};

/// Reads the rows of the persons whose ids lie in a closed range, in id order. One reader per
/// thread: each owns its own connection.
class PersonReader {
 public:
  virtual ~PersonReader() = default;
  /// Every person of PERSON with first_id <= person_id <= last_id, with their rows; Storage on failure.
  [[nodiscard]] virtual Result<std::vector<PersonRows>> Read(std::int64_t first_id, std::int64_t last_id) = 0;
  /// The same persons into `persons`, replacing what it held. Readers that can reuse its storage
  /// (the row vectors of each person keep their capacity from one chunk to the next), so that a
  /// worker reading chunk after chunk does not allocate per person; the default calls Read.
  [[nodiscard]] virtual Result<bool> ReadInto(std::int64_t first_id, std::int64_t last_id, std::vector<PersonRows>& persons) {
    auto read = Read(first_id, last_id);
    if (!read) return tl::unexpected(read.error());
    persons = std::move(*read);
    return true;
  }
  /// How the chunks read so far were read.
  [[nodiscard]] virtual ReadStats Stats() const { return {}; }
};

/// An OMOP CDM database or export.
class Source {
 public:
  virtual ~Source() = default;
  /// "sqlite", "postgresql" or "csv".
  [[nodiscard]] virtual std::string_view Kind() const = 0;
  /// CONCEPT rows for the given codes and ids.
  [[nodiscard]] virtual Result<std::vector<ConceptRow>> LookupConcepts(const ConceptLookups& lookups) = 0;
  /// Descendants of the given concepts (CONCEPT_ANCESTOR, 'RxNorm has ing'/'Has ingredient' relationships
  /// and DRUG_STRENGTH ingredients); missing tables contribute nothing.
  [[nodiscard]] virtual Result<std::vector<DescendantRow>> Descendants(std::span<const ConceptId> ancestors) = 0;
  /// DRUG_STRENGTH rows whose ingredient is one of the given concepts.
  [[nodiscard]] virtual Result<std::vector<StrengthRow>> Strengths(std::span<const ConceptId> ingredients) = 0;
  /// Every concept_id of CONCEPT, for counting drug exposures with unknown concepts.
  [[nodiscard]] virtual Result<std::vector<ConceptId>> KnownConcepts() = 0;
  /// Every person_id of PERSON, ascending.
  [[nodiscard]] virtual Result<std::vector<std::int64_t>> PersonIds() = 0;
  /// A reader with its own connection.
  [[nodiscard]] virtual Result<std::unique_ptr<PersonReader>> OpenReader(const ReadFilter& filter) = 0;
};

/// Opens "sqlite:PATH", a path ending in .sqlite/.sqlite3/.db, "postgresql://…"/"postgres://…",
/// "csv:DIR" or a directory of CSV files. Fails with Storage or Io naming the source.
[[nodiscard]] Result<std::unique_ptr<Source>> OpenSource(std::string_view url);

/// Resolves the KB's concepts against the source and builds the index (start-up of a run).
[[nodiscard]] Result<ConceptIndex> PrepareIndex(Source& source, const KnowledgeBase& kb, const OmopConfig& config);

/// The filter a reader needs for an index.
[[nodiscard]] ReadFilter FilterFor(const ConceptIndex& index);

/// Progress of a run, reported from the thread that finished a chunk.
struct Progress {
  std::int64_t persons_done = 0;
  std::int64_t persons_total = 0;
  std::int64_t drug_rows_done = 0;
};

/// Options of a screening run.
struct RunOptions {
  ScreenOptions screen;
  int threads = 1;
  std::int64_t persons_per_chunk = 500;
  std::function<void(const Progress&)> on_progress;  ///< May be empty; called under a lock.
  std::function<void(std::string_view)> on_rows;     ///< CSV lines of each chunk, in person id order.
  /// What Source::PersonIds gave, when the caller read it already (say while the KB loaded); else
  /// the run reads it first.
  std::optional<std::vector<std::int64_t>> person_ids;
};

/// What a screening run found, and how it read the source.
struct ScreenRun {
  ScreenSummary summary;
  ReadStats reading;
};

/// Screens every person of the source. Results (the CSV lines given to on_rows and the summary)
/// do not depend on the number of threads or the chunk size.
[[nodiscard]] Result<ScreenRun> RunScreen(Source& source, const KnowledgeBase& kb, const OmopConfig& config, const ConceptIndex& index,
                                              const RunOptions& options);

}  // namespace refract::omop
