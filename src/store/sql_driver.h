// SPDX-License-Identifier: Apache-2.0
/// The small SQL layer both store implementations share: prepared statements with bound
/// parameters, rows as text, transactions. SQL is written once with `?` placeholders; the
/// PostgreSQL driver numbers them ($1, $2 ...). Drivers throw; SqlStore turns that into Storage.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "refract/core/result.h"

namespace refract::store::detail {

/// A bound parameter: NULL, an integer or text.
using SqlParam = std::variant<std::nullptr_t, std::int64_t, std::string>;
using SqlParams = std::vector<SqlParam>;

/// One result row, every column as text (NULL as nullopt).
struct SqlRow {
  std::vector<std::optional<std::string>> columns;

  [[nodiscard]] bool IsNull(std::size_t index) const;
  [[nodiscard]] std::string Text(std::size_t index) const;
  [[nodiscard]] std::int64_t Int(std::size_t index) const;
  [[nodiscard]] std::optional<std::int64_t> OptionalInt(std::size_t index) const;
};
using SqlRows = std::vector<SqlRow>;

/// Statements inside one transaction. Methods throw std::exception on database errors.
class SqlTx {
 public:
  virtual ~SqlTx() = default;
  /// Runs a prepared statement and returns its rows.
  virtual SqlRows Query(std::string_view sql, const SqlParams& params) = 0;
  /// Runs a prepared statement and returns the number of rows it changed.
  virtual std::int64_t Exec(std::string_view sql, const SqlParams& params) = 0;
  /// Runs a parameterless script of several statements (migrations only).
  virtual void Script(std::string_view sql) = 0;
};

/// What a transaction body returns: Ok commits; an error rolls back and is passed on.
using TxBody = std::function<Result<bool>(SqlTx&)>;

/// A connection pool for one database.
class SqlDriver {
 public:
  virtual ~SqlDriver() = default;
  [[nodiscard]] virtual std::string_view Dialect() const = 0;
  /// Runs `body` in a transaction: `write` takes the write lock (SQLite) and commits; a read
  /// transaction sees one snapshot. Database exceptions become Storage errors.
  [[nodiscard]] virtual Result<bool> Transact(bool write, const TxBody& body) = 0;
  /// Serialises schema migrations between processes sharing the database (inside a write transaction).
  virtual void LockForMigration(SqlTx& tx) = 0;
  /// The database's consistency check ("ok" or the problems it reports).
  [[nodiscard]] virtual Result<std::string> IntegrityCheck() = 0;
};

/// "sqlite:PATH" or "sqlite::memory:".
[[nodiscard]] Result<std::unique_ptr<SqlDriver>> OpenSqlite(std::string_view path);
/// A libpq connection URL.
[[nodiscard]] Result<std::unique_ptr<SqlDriver>> OpenPostgres(std::string_view url);

/// `?` placeholders numbered as $1, $2 ... outside quoted text.
[[nodiscard]] std::string NumberPlaceholders(std::string_view sql);

/// A driver message without connection details, for Storage errors.
[[nodiscard]] std::string StorageMessage(std::string_view what);

}  // namespace refract::store::detail
