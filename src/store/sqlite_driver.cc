// SPDX-License-Identifier: Apache-2.0
// SQLite driver: one writer connection behind a mutex (BEGIN IMMEDIATE) and a pool of reader
// connections (WAL lets them read while the writer writes). Prepared statements are cached per
// connection. A private in-memory database has a single connection.
#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include "sql_driver.h"

namespace refract::store::detail {
namespace {

constexpr int kBusyTimeoutMs = 10000;
constexpr int kReaders = 4;

class SqliteConnection final : public SqlTx {
 public:
  SqliteConnection(const std::string& path, bool memory)
      : db_(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX | SQLite::OPEN_URI, kBusyTimeoutMs) {
    // FULL: a committed transaction survives a power loss as well as a killed process.
    if (!memory) db_.exec("PRAGMA journal_mode=WAL");
    db_.exec("PRAGMA synchronous=FULL");
    db_.exec("PRAGMA foreign_keys=ON");
  }

  SqlRows Query(std::string_view sql, const SqlParams& params) override {
    SQLite::Statement& statement = Prepare(sql, params);
    SqlRows rows;
    try {
      while (statement.executeStep()) {
        SqlRow row;
        const int count = statement.getColumnCount();
        row.columns.reserve(static_cast<std::size_t>(count));
        for (int column_idx = 0; column_idx < count; ++column_idx) {
          const SQLite::Column column = statement.getColumn(column_idx);
          if (column.isNull()) {
            row.columns.emplace_back(std::nullopt);
          } else {
            row.columns.emplace_back(column.getString());
          }
        }
        rows.push_back(std::move(row));
      }
    } catch (...) {
      statement.tryReset();
      throw;
    }
    statement.reset();
    return rows;
  }

  std::int64_t Exec(std::string_view sql, const SqlParams& params) override {
    SQLite::Statement& statement = Prepare(sql, params);
    try {
      while (statement.executeStep()) {
      }
    } catch (...) {
      statement.tryReset();
      throw;
    }
    statement.reset();
    return db_.getChanges();
  }

  void Script(std::string_view sql) override { db_.exec(std::string(sql)); }

  void Run(const char* sql) { db_.exec(sql); }

 private:
  SQLite::Statement& Prepare(std::string_view sql, const SqlParams& params) {
    auto found = statements_.find(std::string(sql));
    if (found == statements_.end()) {
      found = statements_.emplace(std::string(sql), std::make_unique<SQLite::Statement>(db_, std::string(sql))).first;
    }
    SQLite::Statement& statement = *found->second;
    statement.clearBindings();
    int index = 1;
    for (const SqlParam& param : params) {
      if (const auto* number = std::get_if<std::int64_t>(&param)) {
        statement.bind(index, *number);
      } else if (const auto* text = std::get_if<std::string>(&param)) {
        statement.bind(index, *text);
      } else {
        statement.bind(index);
      }
      ++index;
    }
    return statement;
  }

  // Declared first so that it is destroyed last, after the statements that refer to it.
  SQLite::Database db_;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> statements_;
};

class SqliteDriver final : public SqlDriver {
 public:
  SqliteDriver(const std::string& path, bool memory) {
    writer_ = std::make_unique<SqliteConnection>(path, memory);
    if (memory) return;
    for (int reader_idx = 0; reader_idx < kReaders; ++reader_idx) {
      readers_.push_back(std::make_unique<SqliteConnection>(path, false));
      free_readers_.push_back(readers_.back().get());
    }
  }

  std::string_view Dialect() const override { return "sqlite"; }

  Result<bool> Transact(bool write, const TxBody& body) override {
    if (write || readers_.empty()) {
      const std::lock_guard lock(writer_mutex_);
      return Run(*writer_, write ? "BEGIN IMMEDIATE" : "BEGIN", body);
    }
    SqliteConnection* reader = nullptr;
    {
      std::unique_lock lock(readers_mutex_);
      readers_available_.wait(lock, [&] { return !free_readers_.empty(); });
      reader = free_readers_.back();
      free_readers_.pop_back();
    }
    auto result = Run(*reader, "BEGIN", body);
    {
      const std::lock_guard lock(readers_mutex_);
      free_readers_.push_back(reader);
    }
    readers_available_.notify_one();
    return result;
  }

  void LockForMigration(SqlTx& /*tx*/) override {
    // BEGIN IMMEDIATE already holds the database's write lock against other processes.
  }

  Result<std::string> IntegrityCheck() override {
    std::string report;
    auto done = Transact(true, [&](SqlTx& tx) -> Result<bool> {
      for (const SqlRow& row : tx.Query("PRAGMA integrity_check", {})) {
        if (!report.empty()) report += "; ";
        report += row.Text(0);
      }
      for (const SqlRow& row : tx.Query("PRAGMA foreign_key_check", {})) {
        if (!report.empty()) report += "; ";
        report += fmt::format("foreign key violation in {}", row.Text(0));
      }
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return report;
  }

 private:
  static Result<bool> Run(SqliteConnection& connection, const char* begin, const TxBody& body) {
    try {
      connection.Run(begin);
    } catch (const std::exception& error) {
      return Fail(ErrorCode::Storage, StorageMessage(error.what()));
    }
    Result<bool> result = true;
    try {
      result = body(connection);
      if (result) {
        connection.Run("COMMIT");
        return result;
      }
    } catch (const std::exception& error) {
      result = Fail(ErrorCode::Storage, StorageMessage(error.what()));
    }
    try {
      connection.Run("ROLLBACK");
    } catch (const std::exception&) {
      // The transaction may already have been rolled back by SQLite itself.
    }
    return result;
  }

  std::mutex writer_mutex_;
  std::unique_ptr<SqliteConnection> writer_;
  std::mutex readers_mutex_;
  std::condition_variable readers_available_;
  std::vector<std::unique_ptr<SqliteConnection>> readers_;
  std::vector<SqliteConnection*> free_readers_;
};

}  // namespace

Result<std::unique_ptr<SqlDriver>> OpenSqlite(std::string_view path) {
  const bool memory = path == ":memory:";
  if (path.empty()) return Fail(ErrorCode::InvalidInput, "sqlite: needs a file path (sqlite:PATH or sqlite::memory:)", "--db");
  try {
    return std::unique_ptr<SqlDriver>(std::make_unique<SqliteDriver>(std::string(path), memory));
  } catch (const std::exception& error) {
    return Fail(ErrorCode::Storage, fmt::format("cannot open SQLite database {}: {}", path, StorageMessage(error.what())), "--db");
  }
}

}  // namespace refract::store::detail
