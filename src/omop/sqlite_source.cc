// SPDX-License-Identifier: Apache-2.0
// OMOP CDM in SQLite (sqlite3 C API): prepared statements only, one read-only connection per reader.
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "internal.h"

namespace refract::omop::internal {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtCloser {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtCloser>;

Error StorageError(sqlite3* db, const std::string& what, const std::string& path) {
  return Error{ErrorCode::Storage, fmt::format("{}: {}", what, db != nullptr ? sqlite3_errmsg(db) : "out of memory"), path};
}

Result<Db> OpenDb(const std::string& path) {
  sqlite3* raw = nullptr;
  const int status = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (status != SQLITE_OK) return tl::unexpected(StorageError(raw, "cannot open the OMOP database", path));
  sqlite3_exec(db.get(), "PRAGMA query_only = 1; PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824;", nullptr, nullptr, nullptr);
  return db;
}

Result<Stmt> Prepare(sqlite3* db, const std::string& sql, const std::string& path) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
    return tl::unexpected(StorageError(db, fmt::format("cannot prepare \"{}\"", sql.substr(0, 80)), path));
  }
  return Stmt(raw);
}

bool TableExists(sqlite3* db, const char* table) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND lower(name) = lower(?)", -1, &raw, nullptr) != SQLITE_OK) {
    return false;
  }
  Stmt stmt(raw);
  sqlite3_bind_text(raw, 1, table, -1, SQLITE_STATIC);
  return sqlite3_step(raw) == SQLITE_ROW;
}

// Whether some index of the table starts with the column (case-insensitive names).
bool HasIndexOn(sqlite3* db, const char* table, const char* column) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_index_list(?) AS list, pragma_index_info(list.name) AS info WHERE info.seqno = 0 AND lower(info.name) = lower(?)",
                         -1, &raw, nullptr) != SQLITE_OK) {
    return false;
  }
  Stmt stmt(raw);
  sqlite3_bind_text(raw, 1, table, -1, SQLITE_STATIC);
  sqlite3_bind_text(raw, 2, column, -1, SQLITE_STATIC);
  return sqlite3_step(raw) == SQLITE_ROW;
}

std::string Text(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
}

std::optional<Date> DateColumn(sqlite3_stmt* stmt, int column) {
  switch (sqlite3_column_type(stmt, column)) {
    case SQLITE_NULL: return std::nullopt;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT: return DateFromNumber(sqlite3_column_double(stmt, column));
    default: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
      return ParseCdmDate(std::string_view(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column))));
    }
  }
}

// The same readings from a column's value: one sqlite3_column_value call per column instead of a
// type call and a value call. The value is "unprotected" in SQLite's terms, which matters only when
// a connection is shared between threads; each reader's connection is opened NOMUTEX and used by
// its own thread alone.
std::optional<Date> DateValue(sqlite3_value* value) {
  switch (sqlite3_value_type(value)) {
    case SQLITE_NULL: return std::nullopt;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT: return DateFromNumber(sqlite3_value_double(value));
    default: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(value));
      return ParseCdmDate(std::string_view(text, static_cast<std::size_t>(sqlite3_value_bytes(value))));
    }
  }
}

std::optional<double> DoubleValue(sqlite3_value* value) {
  if (sqlite3_value_type(value) == SQLITE_NULL) return std::nullopt;
  return sqlite3_value_double(value);
}

std::optional<std::int64_t> IntValue(sqlite3_value* value) {
  if (sqlite3_value_type(value) == SQLITE_NULL) return std::nullopt;
  return sqlite3_value_int64(value);
}

std::optional<double> DoubleColumn(sqlite3_stmt* stmt, int column) {
  if (sqlite3_column_type(stmt, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(stmt, column);
}

std::optional<std::int64_t> IntColumn(sqlite3_stmt* stmt, int column) {
  if (sqlite3_column_type(stmt, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt, column);
}

// Readings of a stored record value the way the sqlite3_column_* calls of the SQL path read it;
// false (the chunk goes through SQLite) where that would need one of SQLite's conversions.
std::optional<Date> RecordDate(const RecordValue& value) {
  switch (value.kind) {
    case RecordValue::Kind::Null: return std::nullopt;
    case RecordValue::Kind::Integer: return DateFromNumber(static_cast<double>(value.integer));
    case RecordValue::Kind::Real: return DateFromNumber(value.real);
    case RecordValue::Kind::Text:
    case RecordValue::Kind::Blob: return ParseCdmDate(value.text);
  }
  return std::nullopt;
}
bool RecordInteger(const RecordValue& value, std::optional<std::int64_t>& out) {
  if (value.kind == RecordValue::Kind::Null) {
    out.reset();
    return true;
  }
  if (value.kind != RecordValue::Kind::Integer) return false;
  out = value.integer;
  return true;
}
bool RecordDouble(const RecordValue& value, std::optional<double>& out) {
  switch (value.kind) {
    case RecordValue::Kind::Null: out.reset(); return true;
    case RecordValue::Kind::Integer: out = static_cast<double>(value.integer); return true;
    case RecordValue::Kind::Real: out = value.real; return true;
    default: return false;
  }
}

// Where a rowid table's columns sit in its records, and its person_id index (sqlite_pages.cc reads both).
struct TablePages {
  std::uint32_t root_page = 0;
  std::uint32_t index_root_page = 0;  // 0: no ordinary ascending index on person_id
  std::vector<int> positions;         // record positions of the columns asked for, in that order
  int record_columns = 0;             // how many leading columns a row's reading decodes
  Stmt first_rowid;                   // the rowid of the first row with person_id >= ?, by the index
};

// Fills `table` for reading from the file's pages when that is safe: a rowid table without hidden or
// generated columns, none of the named columns the rowid itself (INTEGER PRIMARY KEY, absent from
// the record). False otherwise.
bool DescribeTable(sqlite3* db, const std::string& table_name, std::span<const char* const> names, TablePages& table) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT rootpage, sql FROM sqlite_master WHERE type = 'table' AND lower(name) = lower(?)", -1, &raw, nullptr) != SQLITE_OK) {
    return false;
  }
  Stmt master(raw);
  sqlite3_bind_text(raw, 1, table_name.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(raw) != SQLITE_ROW) return false;
  const std::int64_t root_page = sqlite3_column_int64(raw, 0);
  std::string sql = Text(raw, 1);
  std::transform(sql.begin(), sql.end(), sql.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (root_page <= 0 || root_page > std::numeric_limits<std::uint32_t>::max() || sql.find("without rowid") != std::string::npos) return false;
  if (sqlite3_prepare_v2(db, "SELECT cid, lower(name), hidden, pk, lower(type) FROM pragma_table_xinfo(?)", -1, &raw, nullptr) != SQLITE_OK) return false;
  Stmt columns(raw);
  sqlite3_bind_text(raw, 1, table_name.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<int> positions(names.size(), -1);
  int primary_keys = 0;
  bool integer_key_needed = false;
  while (sqlite3_step(raw) == SQLITE_ROW) {
    if (sqlite3_column_int(raw, 2) != 0) return false;  // generated or hidden columns change the record layout
    const std::string name = Text(raw, 1);
    const bool integer_key = sqlite3_column_int(raw, 3) != 0 && Text(raw, 4) == "integer";
    primary_keys += sqlite3_column_int(raw, 3) != 0 ? 1 : 0;
    for (std::size_t name_idx = 0; name_idx < names.size(); ++name_idx) {
      if (name != names[name_idx]) continue;
      positions[name_idx] = sqlite3_column_int(raw, 0);
      integer_key_needed = integer_key_needed || integer_key;
    }
  }
  // A column that is the rowid (INTEGER PRIMARY KEY) is not in the record: left to SQLite.
  if (integer_key_needed && primary_keys == 1) return false;
  if (std::any_of(positions.begin(), positions.end(), [](int position) { return position < 0; })) return false;
  // An ordinary ascending index on person_id (binary collation, not partial): the check that each
  // person was read whole counts its entries.
  table.index_root_page = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT master.rootpage FROM pragma_index_list(?1) AS list JOIN sqlite_master AS master ON master.type = 'index' "
                         "AND master.name = list.name AND lower(master.tbl_name) = lower(?1), pragma_index_xinfo(list.name) AS info WHERE list.partial = 0 "
                         "AND info.seqno = 0 AND lower(info.name) = 'person_id' AND info.desc = 0 AND upper(info.coll) = 'BINARY' LIMIT 1",
                         -1, &raw, nullptr) == SQLITE_OK) {
    Stmt index(raw);
    sqlite3_bind_text(raw, 1, table_name.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(raw) == SQLITE_ROW) {
      const std::int64_t index_root = sqlite3_column_int64(raw, 0);
      if (index_root > 0 && index_root <= std::numeric_limits<std::uint32_t>::max()) table.index_root_page = static_cast<std::uint32_t>(index_root);
    }
  }
  table.root_page = static_cast<std::uint32_t>(root_page);
  table.positions = std::move(positions);
  table.record_columns = *std::max_element(table.positions.begin(), table.positions.end()) + 1;
  return true;
}

std::string Placeholders(std::size_t count) {
  std::string out;
  for (std::size_t idx = 0; idx < count; ++idx) out += idx == 0 ? "?" : ",?";
  return out;
}

class SqliteReader final : public PersonReader {
  // How a chunk's rows came off the pages: all of them, or not (rows out of person order, or some
  // elsewhere in the table), or not at all (something the page reader leaves to SQLite).
  enum class PageRead : std::uint8_t { Read, OutOfOrder, Unsupported };

 public:
  SqliteReader(Db db, std::string path, ReadFilter filter) : db_(std::move(db)), path_(std::move(path)), filter_(std::move(filter)) {}

  Result<bool> Init() {
    const auto prepare = [&](Stmt& stmt, const std::string& sql) -> Result<bool> {
      auto prepared = Prepare(db_.get(), sql, path_);
      if (!prepared) return tl::unexpected(prepared.error());
      stmt = std::move(*prepared);
      return true;
    };
    const std::string range = "person_id BETWEEN ? AND ?";
    auto ok = prepare(person_, "SELECT person_id, year_of_birth FROM person WHERE " + range + " ORDER BY person_id");
    if (ok) ok = prepare(period_, "SELECT person_id, observation_period_start_date, observation_period_end_date FROM observation_period WHERE " + range +
                                      " ORDER BY person_id");
    const std::string drug_columns =
        "SELECT person_id, drug_exposure_id, drug_concept_id, drug_exposure_start_date, drug_exposure_end_date, quantity, days_supply FROM drug_exposure ";
    if (ok) ok = prepare(drug_, drug_columns + "WHERE " + range + " ORDER BY person_id");
    if (ok && HasIndexOn(db_.get(), "drug_exposure", "person_id")) {
      // The sequential path (a rowid table with a person_id index only; else the indexed path above):
      // where the range's first row is, a scan in rowid order from there, and each person's first and
      // last rowid by the index (seeks in the index only, no table rows).
      auto first_rowid = Prepare(db_.get(), "SELECT rowid FROM drug_exposure WHERE person_id >= ? ORDER BY person_id LIMIT 1", path_);
      auto scan = Prepare(db_.get(), drug_columns.substr(0, 7) + "rowid, " + drug_columns.substr(7) + "WHERE rowid >= ? ORDER BY rowid", path_);
      auto min_rowid = Prepare(db_.get(), "SELECT rowid FROM drug_exposure WHERE person_id = ? ORDER BY rowid LIMIT 1", path_);
      auto max_rowid = Prepare(db_.get(), "SELECT rowid FROM drug_exposure WHERE person_id = ? ORDER BY rowid DESC LIMIT 1", path_);
      if (first_rowid && scan && min_rowid && max_rowid) {
        drug_first_rowid_ = std::move(*first_rowid);
        drug_scan_ = std::move(*scan);
        drug_min_rowid_ = std::move(*min_rowid);
        drug_max_rowid_ = std::move(*max_rowid);
        static constexpr const char* kNames[] = {"person_id", "drug_exposure_id", "drug_concept_id", "drug_exposure_start_date",
                                                 "drug_exposure_end_date", "quantity", "days_supply"};
        OpenTablePages("drug_exposure", kNames, drug_pages_);
      }
    }
    if (ok && !filter_.condition_ids.empty()) {
      ok = prepare(condition_, "SELECT person_id, condition_concept_id, condition_start_date FROM condition_occurrence WHERE " + range +
                                   " AND condition_concept_id IN (" + Placeholders(filter_.condition_ids.size()) + ") ORDER BY person_id");
    }
    if (ok && !filter_.procedure_ids.empty()) {
      ok = prepare(procedure_, "SELECT person_id, procedure_concept_id, procedure_date FROM procedure_occurrence WHERE " + range +
                                   " AND procedure_concept_id IN (" + Placeholders(filter_.procedure_ids.size()) + ") ORDER BY person_id");
    }
    if (ok && !filter_.score_ids.empty()) {
      const std::string in = " IN (" + Placeholders(filter_.score_ids.size()) + ")";
      if (TableExists(db_.get(), "measurement")) {
        ok = prepare(measurement_, "SELECT person_id, measurement_concept_id, measurement_date, value_as_number FROM measurement WHERE " + range +
                                       " AND measurement_concept_id" + in + " ORDER BY person_id");
      }
      if (ok && TableExists(db_.get(), "observation")) {
        ok = prepare(observation_, "SELECT person_id, observation_concept_id, observation_date, value_as_number FROM observation WHERE " + range +
                                       " AND observation_concept_id" + in + " ORDER BY person_id");
      }
    }
    if (ok) {
      // The other tables from their pages too, where each has a person_id index to check chunks against.
      static constexpr const char* kPerson[] = {"person_id", "year_of_birth"};
      static constexpr const char* kPeriod[] = {"person_id", "observation_period_start_date", "observation_period_end_date"};
      static constexpr const char* kCondition[] = {"person_id", "condition_concept_id", "condition_start_date"};
      static constexpr const char* kProcedure[] = {"person_id", "procedure_concept_id", "procedure_date"};
      static constexpr const char* kMeasurement[] = {"person_id", "measurement_concept_id", "measurement_date", "value_as_number"};
      static constexpr const char* kObservation[] = {"person_id", "observation_concept_id", "observation_date", "value_as_number"};
      OpenTablePages("person", kPerson, person_pages_);
      OpenTablePages("observation_period", kPeriod, period_pages_);
      if (condition_) OpenTablePages("condition_occurrence", kCondition, condition_pages_);
      if (procedure_) OpenTablePages("procedure_occurrence", kProcedure, procedure_pages_);
      if (measurement_) OpenTablePages("measurement", kMeasurement, measurement_pages_);
      if (observation_) OpenTablePages("observation", kObservation, observation_pages_);
      const auto sorted = [](std::vector<ConceptId> ids) {
        std::sort(ids.begin(), ids.end());
        return ids;
      };
      condition_ids_ = sorted(filter_.condition_ids);
      procedure_ids_ = sorted(filter_.procedure_ids);
      score_ids_ = sorted(filter_.score_ids);
    }
    return ok;
  }

  ReadStats Stats() const override { return stats_; }

  Result<std::vector<PersonRows>> Read(std::int64_t first_id, std::int64_t last_id) override {
    std::vector<PersonRows> persons;
    if (auto ok = ReadInto(first_id, last_id, persons); !ok) return tl::unexpected(ok.error());
    return persons;
  }

  Result<bool> ReadInto(std::int64_t first_id, std::int64_t last_id, std::vector<PersonRows>& persons) override {
    // Reuse the persons (and the capacity of their row vectors) left from the previous chunk.
    std::size_t count = 0;
    const auto add_person = [&](std::int64_t person_id, std::optional<std::int64_t> year_of_birth) {
      if (count == persons.size()) persons.emplace_back();
      PersonRows& person = persons[count++];
      person.person_id = person_id;
      person.year_of_birth.reset();
      if (year_of_birth) person.year_of_birth = static_cast<int>(*year_of_birth);
      person.observation_periods.clear();
      person.drug_exposures.clear();
      person.conditions.clear();
      person.procedures.clear();
      person.scores.clear();
    };
    bool from_pages = false;
    if (person_pages_) {
      auto read = ReadTablePages(*person_pages_, first_id, last_id, [&](std::int64_t person_id, const std::vector<RecordValue>& values) {
        std::optional<std::int64_t> year;
        if (!RecordInteger(values[static_cast<std::size_t>(person_pages_->positions[1])], year)) return RecordStep::Unsupported;
        add_person(person_id, year);
        return RecordStep::Next;
      });
      if (!read) return tl::unexpected(read.error());
      from_pages = *read == PageRead::Read;
    }
    TableReads& person_reads = stats_.tables["person"];
    ++(from_pages ? person_reads.from_pages : person_reads.by_query);
    if (!from_pages) {
      count = 0;
      auto ok = Run(person_.get(), first_id, last_id, {}, [&](sqlite3_stmt* stmt) { add_person(sqlite3_column_int64(stmt, 0), IntColumn(stmt, 1)); });
      if (!ok) return tl::unexpected(ok.error());
    }
    persons.resize(count);
    // Each table is sorted by person_id, as is `persons`: advance a cursor instead of searching.
    std::size_t cursor = 0;
    const auto for_person = [&](std::int64_t id) -> PersonRows* {
      while (cursor < persons.size() && persons[cursor].person_id < id) ++cursor;
      return cursor < persons.size() && persons[cursor].person_id == id ? &persons[cursor] : nullptr;
    };
    // A table from its pages when it can be; else (or when the pages did not hold the chunk's rows)
    // the rows it added are cleared and its SQL statement reads them.
    const auto read_table = [&](const char* table, std::optional<TablePages>& pages, auto&& on_page_row, auto&& clear, sqlite3_stmt* stmt,
                                const std::vector<ConceptId>& ids, auto&& on_sql_row) -> Result<bool> {
      TableReads& reads = stats_.tables[table];
      if (pages) {
        cursor = 0;
        auto read = ReadTablePages(*pages, first_id, last_id, [&](std::int64_t person_id, const std::vector<RecordValue>& values) {
          PersonRows* person = for_person(person_id);
          return person == nullptr ? RecordStep::Next : on_page_row(*person, values, pages->positions);
        });
        if (!read) return tl::unexpected(read.error());
        if (*read == PageRead::Read) {
          ++reads.from_pages;
          return true;
        }
        for (PersonRows& person : persons) clear(person);
      }
      ++reads.by_query;
      cursor = 0;
      return Run(stmt, first_id, last_id, ids, [&](sqlite3_stmt* row) { on_sql_row(for_person(sqlite3_column_int64(row, 0)), row); });
    };
    const auto value = [](const std::vector<RecordValue>& values, const std::vector<int>& at, std::size_t column) -> const RecordValue& {
      return values[static_cast<std::size_t>(at[column])];
    };
    const auto listed = [](const std::vector<ConceptId>& ids, const RecordValue& concept_id, bool& supported) {
      supported = concept_id.kind == RecordValue::Kind::Integer;
      return supported && std::binary_search(ids.begin(), ids.end(), concept_id.integer);
    };

    auto ok = read_table(
        "observation_period", period_pages_,
        [&](PersonRows& person, const std::vector<RecordValue>& values, const std::vector<int>& at) {
          const auto start = RecordDate(value(values, at, 1));
          const auto end = RecordDate(value(values, at, 2));
          if (start && end) person.observation_periods.push_back(ObservationPeriodRow{*start, *end});
          return RecordStep::Next;
        },
        [](PersonRows& person) { person.observation_periods.clear(); }, period_.get(), {},
        [](PersonRows* person, sqlite3_stmt* stmt) {
          const auto start = DateColumn(stmt, 1);
          const auto end = DateColumn(stmt, 2);
          if (person != nullptr && start && end) person->observation_periods.push_back(ObservationPeriodRow{*start, *end});
        });
    if (ok) {
      Result<bool> sequential = false;
      bool from_drug_pages = false;
      if (drug_scan_) sequential = ReadDrugsSequentially(first_id, last_id, persons, from_drug_pages);
      if (!sequential) return tl::unexpected(sequential.error());
      TableReads& drug_reads = stats_.tables["drug_exposure"];
      ++(!*sequential ? drug_reads.by_query : from_drug_pages ? drug_reads.from_pages : drug_reads.rowid_cursor);
      if (!*sequential) {
        // Rowid order does not follow person_id here: the indexed path, a search per row.
        for (PersonRows& person : persons) person.drug_exposures.clear();
        cursor = 0;
        ok = Run(drug_.get(), first_id, last_id, {}, [&](sqlite3_stmt* stmt) { AddDrugRow(stmt, for_person(sqlite3_column_int64(stmt, 0))); });
      }
    }
    // Conditions and procedures: (concept id, date) rows of the listed concepts.
    const auto read_coded = [&](const char* table, std::optional<TablePages>& pages, const std::vector<ConceptId>& sorted_ids, sqlite3_stmt* stmt,
                                const std::vector<ConceptId>& ids, auto member) {
      using Row = typename std::remove_reference_t<decltype(persons.front().*member)>::value_type;
      return read_table(
          table, pages,
          [&](PersonRows& person, const std::vector<RecordValue>& values, const std::vector<int>& at) {
            bool supported = false;
            if (!listed(sorted_ids, value(values, at, 1), supported)) return supported ? RecordStep::Next : RecordStep::Unsupported;
            const auto date = RecordDate(value(values, at, 2));
            if (date) (person.*member).push_back(Row{value(values, at, 1).integer, *date});
            return RecordStep::Next;
          },
          [member](PersonRows& person) { (person.*member).clear(); }, stmt, ids,
          [member](PersonRows* person, sqlite3_stmt* row) {
            const auto date = DateColumn(row, 2);
            if (person != nullptr && date) (person->*member).push_back(Row{sqlite3_column_int64(row, 1), *date});
          });
    };
    if (ok && condition_) {
      ok = read_coded("condition_occurrence", condition_pages_, condition_ids_, condition_.get(), filter_.condition_ids, &PersonRows::conditions);
    }
    if (ok && procedure_) {
      ok = read_coded("procedure_occurrence", procedure_pages_, procedure_ids_, procedure_.get(), filter_.procedure_ids, &PersonRows::procedures);
    }
    // PHQ-9 totals from measurement, then observation: one table's rows are cleared only when that
    // table's pages fail, so the observation pass keeps the measurement rows already added.
    const auto score_from_page = [&](PersonRows& person, const std::vector<RecordValue>& values, const std::vector<int>& at) {
      bool supported = false;
      if (!listed(score_ids_, value(values, at, 1), supported)) return supported ? RecordStep::Next : RecordStep::Unsupported;
      std::optional<double> number;
      if (!RecordDouble(value(values, at, 3), number)) return RecordStep::Unsupported;
      const auto date = RecordDate(value(values, at, 2));
      if (date) person.scores.push_back(ScoreRow{value(values, at, 1).integer, *date, number});
      return RecordStep::Next;
    };
    const auto score_from_sql = [](PersonRows* person, sqlite3_stmt* stmt) {
      const auto date = DateColumn(stmt, 2);
      if (person != nullptr && date) person->scores.push_back(ScoreRow{sqlite3_column_int64(stmt, 1), *date, DoubleColumn(stmt, 3)});
    };
    std::vector<std::size_t> scores_before;  // each person's scores before the table being read
    const auto keep_scores_before = [&]() {
      scores_before.resize(persons.size());
      for (std::size_t person_idx = 0; person_idx < persons.size(); ++person_idx) scores_before[person_idx] = persons[person_idx].scores.size();
    };
    const auto clear_new_scores = [&](PersonRows& person) {
      person.scores.resize(scores_before[static_cast<std::size_t>(&person - persons.data())]);
    };
    if (ok && measurement_) {
      keep_scores_before();
      ok = read_table("measurement", measurement_pages_, score_from_page, clear_new_scores, measurement_.get(), filter_.score_ids, score_from_sql);
    }
    if (ok && observation_) {
      keep_scores_before();
      ok = read_table("observation", observation_pages_, score_from_page, clear_new_scores, observation_.get(), filter_.score_ids, score_from_sql);
    }
    if (!ok) return tl::unexpected(ok.error());
    return true;
  }

 private:
  // One row of the drug statements, whose columns from `base` on are person_id, drug_exposure_id,
  // drug_concept_id, start, end, quantity and days_supply.
  static void AddDrugRow(sqlite3_stmt* stmt, PersonRows* person, int base = 0) {
    if (person == nullptr) return;
    const auto start = DateValue(sqlite3_column_value(stmt, base + 3));
    if (!start) return;
    DrugExposureRow& row = person->drug_exposures.emplace_back();
    row.drug_exposure_id = sqlite3_column_int64(stmt, base + 1);
    row.drug_concept_id = sqlite3_column_int64(stmt, base + 2);
    row.start = *start;
    row.end = DateValue(sqlite3_column_value(stmt, base + 4));
    row.quantity = DoubleValue(sqlite3_column_value(stmt, base + 5));
    row.days_supply = IntValue(sqlite3_column_value(stmt, base + 6));
  }

  // Reads the range's drug exposures in rowid order, from the rowid of the range's first row (by the
  // index) to the first row of a later person: from the table's pages when it can (ReadTablePages),
  // else by SQLite's cursor. That gives exactly the rows of the indexed query, in the same order (by
  // person, then rowid), when person_ids never decrease in between and every person of the range has
  // all its rows in between (ReadWhole). False (the rows are to be discarded) otherwise.
  Result<bool> ReadDrugsSequentially(std::int64_t first_id, std::int64_t last_id, std::vector<PersonRows>& persons, bool& from_pages) {
    if (drug_pages_) {
      std::size_t cursor = 0;
      auto read = ReadTablePages(*drug_pages_, first_id, last_id, [&](std::int64_t person_id, const std::vector<RecordValue>& values) {
        while (cursor < persons.size() && persons[cursor].person_id < person_id) ++cursor;
        if (cursor == persons.size() || persons[cursor].person_id != person_id) return RecordStep::Next;
        return AddDrugRecord(persons[cursor], values, drug_pages_->positions);
      });
      if (!read) return tl::unexpected(read.error());
      if (*read == PageRead::OutOfOrder) return false;
      if (*read == PageRead::Read) {
        from_pages = true;
        return true;
      }
      for (PersonRows& person : persons) person.drug_exposures.clear();  // Unsupported: by SQLite's cursor
    }
    const auto failed = [&]() { return tl::unexpected(StorageError(db_.get(), "cannot read OMOP rows", path_)); };
    sqlite3_stmt* first = drug_first_rowid_.get();
    sqlite3_reset(first);
    sqlite3_bind_int64(first, 1, first_id);
    int status = sqlite3_step(first);
    if (status != SQLITE_ROW && status != SQLITE_DONE) return failed();
    if (status == SQLITE_DONE) return true;  // no row from first_id on: the range has none
    const std::int64_t scan_first_rowid = sqlite3_column_int64(first, 0);
    sqlite3_reset(first);

    sqlite3_stmt* scan = drug_scan_.get();
    sqlite3_reset(scan);
    sqlite3_bind_int64(scan, 1, scan_first_rowid);
    std::int64_t scan_end_rowid = std::numeric_limits<std::int64_t>::max();  // first rowid after the stretch
    std::int64_t previous_id = first_id;
    std::int64_t scanned_rows = 0;
    std::size_t cursor = 0;
    while ((status = sqlite3_step(scan)) == SQLITE_ROW) {
      const std::int64_t person_id = sqlite3_column_int64(scan, 1);
      if (person_id > last_id) {
        scan_end_rowid = sqlite3_column_int64(scan, 0);
        break;
      }
      if (person_id < previous_id) {
        sqlite3_reset(scan);
        return false;
      }
      previous_id = person_id;
      ++scanned_rows;
      while (cursor < persons.size() && persons[cursor].person_id < person_id) ++cursor;
      AddDrugRow(scan, cursor < persons.size() && persons[cursor].person_id == person_id ? &persons[cursor] : nullptr, 1);
    }
    if (status != SQLITE_ROW && status != SQLITE_DONE) return failed();
    sqlite3_reset(scan);

    // Rows of persons absent from PERSON are dropped either way; each listed person must have been read whole.
    return ReadWhole(first_id, last_id, persons, scan_first_rowid, scan_end_rowid, scanned_rows);
  }

  // The read transaction and the file for reading tables from their pages: in a UTF-8 database
  // that is not in WAL mode, inside a read transaction this reader holds from here on, so that no
  // writer changes the file meanwhile. False when the pages are not to be read.
  bool OpenPageFile() {
    if (pages_) return true;
    if (page_file_failed_) return false;
    page_file_failed_ = true;
    const char* file_name = sqlite3_db_filename(db_.get(), "main");
    if (file_name == nullptr || *file_name == '\0') return false;
    if (sqlite3_exec(db_.get(), "BEGIN; SELECT 1 FROM person LIMIT 1", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
    auto file = PageFile::Open(file_name);
    if (!file || file->Wal()) {
      sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);
      return false;
    }
    pages_ = std::move(file);
    page_file_failed_ = false;
    return true;
  }

  // Another table read from its pages chunk by chunk (ReadTablePages), when it has a person_id index
  // to check each chunk against; else it stays with its SQL statement.
  void OpenTablePages(const std::string& table_name, std::span<const char* const> names, std::optional<TablePages>& out) {
    TablePages table;
    if (!DescribeTable(db_.get(), table_name, names, table) || table.index_root_page == 0) return;
    auto first_rowid = Prepare(db_.get(), "SELECT rowid FROM " + table_name + " WHERE person_id >= ? ORDER BY person_id LIMIT 1", path_);
    if (!first_rowid || !OpenPageFile()) return;
    table.first_rowid = std::move(*first_rowid);
    out = std::move(table);
  }

  // Reads the rows of persons first_id..last_id of a table from its pages in rowid order, from the
  // range's first row (by the index) to the first row of a later person, giving each row's person_id
  // and values to on_row (which may say Unsupported). Read when person_ids never decreased on the way
  // and the person_id index has exactly as many entries in the range as rows were read, so that the
  // rows read are all of the range's rows; otherwise the caller discards them and uses SQL.
  template <class OnRow>
  Result<PageRead> ReadTablePages(TablePages& table, std::int64_t first_id, std::int64_t last_id, OnRow&& on_row) {
    sqlite3_stmt* first = table.first_rowid.get();
    sqlite3_reset(first);
    sqlite3_bind_int64(first, 1, first_id);
    const int status = sqlite3_step(first);
    if (status != SQLITE_ROW && status != SQLITE_DONE) return tl::unexpected(StorageError(db_.get(), "cannot read OMOP rows", path_));
    if (status == SQLITE_DONE) return PageRead::Read;  // no row from first_id on: the range has none
    const std::int64_t scan_first_rowid = sqlite3_column_int64(first, 0);
    sqlite3_reset(first);
    std::int64_t previous_id = first_id;
    std::int64_t scanned_rows = 0;
    bool out_of_order = false;
    const std::vector<int>& at = table.positions;
    const PageScan scanned =
        pages_->Scan(table.root_page, scan_first_rowid, table.record_columns, [&](std::int64_t /*rowid*/, const std::vector<RecordValue>& values) {
          const RecordValue& person_value = values[static_cast<std::size_t>(at[0])];
          if (person_value.kind != RecordValue::Kind::Integer) return RecordStep::Unsupported;
          const std::int64_t person_id = person_value.integer;
          if (person_id > last_id) return RecordStep::Stop;
          if (person_id < previous_id) {
            out_of_order = true;
            return RecordStep::Stop;
          }
          previous_id = person_id;
          ++scanned_rows;
          return on_row(person_id, values);
        });
    if (scanned == PageScan::Unsupported) return PageRead::Unsupported;
    if (out_of_order) return PageRead::OutOfOrder;
    std::int64_t indexed_rows = 0;
    if (pages_->CountIndex(table.index_root_page, first_id, last_id, indexed_rows) != IndexScan::Done) return PageRead::Unsupported;
    return indexed_rows == scanned_rows ? PageRead::Read : PageRead::OutOfOrder;
  }


  // A drug_exposure record from the pages, read as AddDrugRow reads the same row through SQLite
  // (sqlite3_column_int64/value_double/... on the stored value); a value whose storage class would
  // need SQLite's conversions makes the chunk Unsupported.
  static RecordStep AddDrugRecord(PersonRows& person, const std::vector<RecordValue>& values, const std::vector<int>& at) {
    const auto value = [&](std::size_t column) -> const RecordValue& { return values[static_cast<std::size_t>(at[column])]; };
    const auto start = RecordDate(value(3));
    if (!start) return RecordStep::Next;
    const RecordValue& id = value(1);
    const RecordValue& concept_id = value(2);
    const RecordValue& quantity = value(5);
    const RecordValue& days_supply = value(6);
    if (id.kind != RecordValue::Kind::Integer || concept_id.kind != RecordValue::Kind::Integer) return RecordStep::Unsupported;
    if (quantity.kind == RecordValue::Kind::Text || quantity.kind == RecordValue::Kind::Blob) return RecordStep::Unsupported;
    if (days_supply.kind != RecordValue::Kind::Null && days_supply.kind != RecordValue::Kind::Integer) return RecordStep::Unsupported;
    DrugExposureRow& row = person.drug_exposures.emplace_back();
    row.drug_exposure_id = id.integer;
    row.drug_concept_id = concept_id.integer;
    row.start = *start;
    row.end = RecordDate(value(4));
    if (quantity.kind == RecordValue::Kind::Integer) row.quantity = static_cast<double>(quantity.integer);
    if (quantity.kind == RecordValue::Kind::Real) row.quantity = quantity.real;
    if (days_supply.kind == RecordValue::Kind::Integer) row.days_supply = days_supply.integer;
    return RecordStep::Next;
  }

  // Whether every person of the range has all its rows in [scan_first_rowid, scan_end_rowid), of
  // which the scan read scanned_rows, every one with a person_id in [first_id, last_id].
  Result<bool> ReadWhole(std::int64_t first_id, std::int64_t last_id, std::vector<PersonRows>& persons, std::int64_t scan_first_rowid,
                         std::int64_t scan_end_rowid, std::int64_t scanned_rows) {
    if (drug_pages_) {
      // The index has one entry per row: when as many have a person_id in the range as the scan
      // read, the scanned rows are all of them (persons absent from PERSON too, stricter than needed).
      std::int64_t indexed_rows = 0;
      if (pages_->CountIndex(drug_pages_->index_root_page, first_id, last_id, indexed_rows) == IndexScan::Done) return indexed_rows == scanned_rows;
    }
    // By SQLite: each listed person's first and last rowid.
    const auto failed = [&]() { return tl::unexpected(StorageError(db_.get(), "cannot read OMOP rows", path_)); };
    const auto rowid_of = [&](sqlite3_stmt* stmt, std::int64_t person_id) -> Result<std::optional<std::int64_t>> {
      sqlite3_reset(stmt);
      sqlite3_bind_int64(stmt, 1, person_id);
      const int step = sqlite3_step(stmt);
      if (step != SQLITE_ROW && step != SQLITE_DONE) return failed();
      std::optional<std::int64_t> rowid;
      if (step == SQLITE_ROW) rowid = sqlite3_column_int64(stmt, 0);
      return rowid;  // left as it is: the next use resets it
    };
    for (const PersonRows& person : persons) {
      auto lowest = rowid_of(drug_min_rowid_.get(), person.person_id);
      if (!lowest) return tl::unexpected(lowest.error());
      if (!*lowest) continue;
      if (**lowest < scan_first_rowid || **lowest >= scan_end_rowid) return false;
      auto highest = rowid_of(drug_max_rowid_.get(), person.person_id);
      if (!highest) return tl::unexpected(highest.error());
      if (!*highest || **highest >= scan_end_rowid) return false;
    }
    return true;
  }

  template <class RowFn>
  Result<bool> Run(sqlite3_stmt* stmt, std::int64_t first_id, std::int64_t last_id, const std::vector<ConceptId>& ids, RowFn&& on_row) {
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, first_id);
    sqlite3_bind_int64(stmt, 2, last_id);
    for (std::size_t idx = 0; idx < ids.size(); ++idx) sqlite3_bind_int64(stmt, static_cast<int>(idx) + 3, ids[idx]);
    int status = SQLITE_ROW;
    while ((status = sqlite3_step(stmt)) == SQLITE_ROW) on_row(stmt);
    if (status != SQLITE_DONE) return tl::unexpected(StorageError(db_.get(), "cannot read OMOP rows", path_));
    return true;
  }

  Db db_;
  std::string path_;
  ReadFilter filter_;
  ReadStats stats_;
  Stmt person_, period_, drug_, condition_, procedure_, measurement_, observation_;
  Stmt drug_first_rowid_, drug_scan_, drug_min_rowid_, drug_max_rowid_;  // empty: no sequential path
  std::unique_ptr<PageFile> pages_;  // empty: no table is read from its pages
  bool page_file_failed_ = false;
  std::optional<TablePages> drug_pages_;  // empty: the sequential drug path steps through SQLite's cursor
  std::optional<TablePages> person_pages_, period_pages_, condition_pages_, procedure_pages_, measurement_pages_, observation_pages_;
  std::vector<ConceptId> condition_ids_, procedure_ids_, score_ids_;  // the filter's ids, sorted
};

class SqliteSource final : public Source {
 public:
  SqliteSource(Db db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}

  std::string_view Kind() const override { return "sqlite"; }

  Result<std::vector<ConceptRow>> LookupConcepts(const ConceptLookups& lookups) override {
    std::vector<ConceptRow> out;
    const std::string columns = "SELECT concept_id, vocabulary_id, concept_code, concept_name, concept_class_id, invalid_reason FROM concept WHERE ";
    auto by_code = Prepare(db_.get(), columns + "vocabulary_id = ? AND concept_code = ?", path_);
    if (!by_code) return tl::unexpected(by_code.error());
    auto by_id = Prepare(db_.get(), columns + "concept_id = ?", path_);
    if (!by_id) return tl::unexpected(by_id.error());
    const auto collect = [&](sqlite3_stmt* stmt) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        out.push_back(ConceptRow{sqlite3_column_int64(stmt, 0), Text(stmt, 1), Text(stmt, 2), Text(stmt, 3), Text(stmt, 4), Text(stmt, 5)});
      }
      sqlite3_reset(stmt);
    };
    for (const ConceptCode& code : lookups.codes) {
      sqlite3_bind_text(by_code->get(), 1, code.vocabulary.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(by_code->get(), 2, code.code.c_str(), -1, SQLITE_TRANSIENT);
      collect(by_code->get());
    }
    for (const ConceptId id : lookups.ids) {
      sqlite3_bind_int64(by_id->get(), 1, id);
      collect(by_id->get());
    }
    return out;
  }

  Result<std::vector<DescendantRow>> Descendants(std::span<const ConceptId> ancestors) override {
    std::vector<DescendantRow> out;
    std::vector<std::string> queries;
    if (TableExists(db_.get(), "concept_ancestor")) {
      queries.push_back("SELECT descendant_concept_id FROM concept_ancestor WHERE ancestor_concept_id = ?");
    }
    if (TableExists(db_.get(), "concept_relationship")) {
      queries.push_back("SELECT concept_id_1 FROM concept_relationship WHERE concept_id_2 = ? AND relationship_id IN ('RxNorm has ing', 'Has ingredient') "
                        "AND invalid_reason IS NULL");
    }
    if (TableExists(db_.get(), "drug_strength")) queries.push_back("SELECT drug_concept_id FROM drug_strength WHERE ingredient_concept_id = ?");
    for (const std::string& sql : queries) {
      auto stmt = Prepare(db_.get(), sql, path_);
      if (!stmt) return tl::unexpected(stmt.error());
      for (const ConceptId ancestor : ancestors) {
        sqlite3_bind_int64(stmt->get(), 1, ancestor);
        while (sqlite3_step(stmt->get()) == SQLITE_ROW) out.push_back(DescendantRow{ancestor, sqlite3_column_int64(stmt->get(), 0)});
        sqlite3_reset(stmt->get());
      }
    }
    return out;
  }

  Result<std::vector<StrengthRow>> Strengths(std::span<const ConceptId> ingredients) override {
    std::vector<StrengthRow> out;
    if (!TableExists(db_.get(), "drug_strength")) return out;
    auto stmt = Prepare(db_.get(),
                        "SELECT drug_concept_id, ingredient_concept_id, amount_value, amount_unit_concept_id, numerator_value, "
                        "numerator_unit_concept_id, denominator_value, denominator_unit_concept_id FROM drug_strength WHERE ingredient_concept_id = ?",
                        path_);
    if (!stmt) return tl::unexpected(stmt.error());
    for (const ConceptId ingredient : ingredients) {
      sqlite3_bind_int64(stmt->get(), 1, ingredient);
      while (sqlite3_step(stmt->get()) == SQLITE_ROW) {
        sqlite3_stmt* row = stmt->get();
        out.push_back(StrengthRow{sqlite3_column_int64(row, 0), sqlite3_column_int64(row, 1), DoubleColumn(row, 2), sqlite3_column_int64(row, 3),
                                  DoubleColumn(row, 4), sqlite3_column_int64(row, 5), DoubleColumn(row, 6), sqlite3_column_int64(row, 7)});
      }
      sqlite3_reset(stmt->get());
    }
    return out;
  }

  Result<std::vector<ConceptId>> KnownConcepts() override { return Column("SELECT concept_id FROM concept ORDER BY concept_id"); }

  Result<std::vector<std::int64_t>> PersonIds() override { return Column("SELECT person_id FROM person ORDER BY person_id"); }

  Result<std::unique_ptr<PersonReader>> OpenReader(const ReadFilter& filter) override {
    auto db = OpenDb(path_);
    if (!db) return tl::unexpected(db.error());
    auto reader = std::make_unique<SqliteReader>(std::move(*db), path_, filter);
    if (auto ok = reader->Init(); !ok) return tl::unexpected(ok.error());
    return std::unique_ptr<PersonReader>(std::move(reader));
  }

 private:
  Result<std::vector<std::int64_t>> Column(const std::string& sql) {
    auto stmt = Prepare(db_.get(), sql, path_);
    if (!stmt) return tl::unexpected(stmt.error());
    std::vector<std::int64_t> out;
    int status = SQLITE_ROW;
    while ((status = sqlite3_step(stmt->get())) == SQLITE_ROW) out.push_back(sqlite3_column_int64(stmt->get(), 0));
    if (status != SQLITE_DONE) return tl::unexpected(StorageError(db_.get(), "cannot read", path_));
    return out;
  }

  Db db_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<Source>> OpenSqlite(const std::string& path) {
  auto db = OpenDb(path);
  if (!db) return tl::unexpected(db.error());
  for (const char* table : {"person", "drug_exposure", "concept"}) {
    if (!TableExists(db->get(), table)) {
      return Fail(ErrorCode::Storage, fmt::format("not an OMOP CDM database: table {} is missing", table), path);
    }
  }
  return std::unique_ptr<Source>(std::make_unique<SqliteSource>(std::move(*db), path));
}

}  // namespace refract::omop::internal
