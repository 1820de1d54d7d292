// SPDX-License-Identifier: Apache-2.0
/// Helpers shared by the OMOP source implementations (not a public header).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "refract/core/date.h"
#include "refract/omop/source.h"

namespace refract::omop::internal {

/// A CDM date as text "YYYY-MM-DD" (a time part after it is ignored), or a number: days since
/// 1970-01-01 below 100000, else seconds since 1970-01-01 (SQLite files written from R).
[[nodiscard]] std::optional<Date> ParseCdmDate(std::string_view text);
[[nodiscard]] std::optional<Date> DateFromNumber(double value);

/// One value of a record as stored in a SQLite file (text and blob point into the mapped file).
struct RecordValue {
  enum class Kind : std::uint8_t { Null, Integer, Real, Text, Blob };
  Kind kind = Kind::Null;
  std::int64_t integer = 0;
  double real = 0;
  std::string_view text;
};
enum class RecordStep : std::uint8_t { Next, Stop, Unsupported };
enum class PageScan : std::uint8_t { Done, Unsupported };
enum class IndexScan : std::uint8_t { Done, Stopped, Unsupported };  // Stopped: past the last key
/// Called with a row's rowid and its first columns, in rowid order.
using RecordFn = std::function<RecordStep(std::int64_t rowid, const std::vector<RecordValue>& values)>;

/// A SQLite database file read page by page with pread (no mapping: on this workload page faults
/// cost more than the copies), for walking a rowid table's leaf pages in rowid order and counting
/// index entries without SQLite's virtual machine (sqlite_pages.cc). Leaf pages are read in runs of
/// consecutive page numbers, as their parent lists them; interior pages are copied, one buffer per
/// tree level. The caller must hold a read transaction on the file through SQLite while it scans (so
/// no writer changes it) and must not use it on a database in WAL mode (pages may live in the -wal
/// file). One thread at a time: the buffers belong to the object.
class PageFile {
 public:
  PageFile(const PageFile&) = delete;
  PageFile& operator=(const PageFile&) = delete;
  ~PageFile();
  /// The open file; null when it cannot be read, is not a SQLite file or is not UTF-8.
  [[nodiscard]] static std::unique_ptr<PageFile> Open(const std::string& path);
  /// Whether the header says WAL mode.
  [[nodiscard]] bool Wal() const { return wal_; }
  /// Every row of the table rooted at root_page with rowid >= first_rowid, in rowid order, with the
  /// first `columns` values of its record, until on_record says Stop. Unsupported (nothing more is
  /// read) on a row on overflow pages, a record with fewer columns, a malformed page, a read error,
  /// or when on_record says so. The values point into buffers valid during the call only.
  [[nodiscard]] PageScan Scan(std::uint32_t root_page, std::int64_t first_rowid, int columns, const RecordFn& on_record);
  /// The number of entries of an ascending index whose first column is an integer with first_key
  /// <= key <= last_key (Done), or Unsupported on a key or rowid that is not an integer, overflow
  /// pages, a malformed page or a read error. A leaf page whose first and last keys lie in the range
  /// is counted by its cell count.
  [[nodiscard]] IndexScan CountIndex(std::uint32_t root_page, std::int64_t first_key, std::int64_t last_key, std::int64_t& count);

 private:
  PageFile() = default;
  [[nodiscard]] IndexScan CountBelow(std::uint32_t number, std::uint32_t run, int depth, std::int64_t first_key, std::int64_t last_key,
                                     std::int64_t& count);
  /// Page `number`, read with the `run` - 1 pages after it when it is not in the window already.
  [[nodiscard]] const std::uint8_t* Fetch(std::uint32_t number, std::uint32_t run);
  /// A copy of an interior page for tree level `depth` (valid until that level is fetched again).
  [[nodiscard]] const std::uint8_t* Keep(const std::uint8_t* page, int depth);

  int fd_ = -1;
  std::uint32_t page_size_ = 0;
  std::uint32_t usable_size_ = 0;
  std::size_t page_count_ = 0;
  bool wal_ = false;
  std::vector<std::uint8_t> window_;  // pages window_first_ .. window_first_ + window_pages_ - 1
  std::uint32_t window_first_ = 0;
  std::uint32_t window_pages_ = 0;
  std::uint32_t window_pages_most_ = 1;
  std::vector<std::vector<std::uint8_t>> levels_;
};

[[nodiscard]] Result<std::unique_ptr<Source>> OpenSqlite(const std::string& path);
[[nodiscard]] Result<std::unique_ptr<Source>> OpenCsv(const std::string& directory);
[[nodiscard]] Result<std::unique_ptr<Source>> OpenPostgres(const std::string& url);

}  // namespace refract::omop::internal
