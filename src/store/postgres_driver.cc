// SPDX-License-Identifier: Apache-2.0
// PostgreSQL driver (libpqxx): a pool of connections, each with its own prepared statements.
// A connection that breaks is dropped and replaced on next use.
#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "sql_driver.h"

namespace refract::store::detail {
namespace {

constexpr std::size_t kPoolSize = 8;

class PostgresConnection {
 public:
  explicit PostgresConnection(const std::string& url) : connection_(url) {}

  // The statement's server-side name, preparing it on first use.
  const std::string& Prepared(std::string_view sql) {
    auto found = names_.find(std::string(sql));
    if (found != names_.end()) return found->second;
    std::string name = fmt::format("refract_{}", names_.size() + 1);
    connection_.prepare(name, NumberPlaceholders(sql));
    return names_.emplace(std::string(sql), std::move(name)).first->second;
  }

  pqxx::connection& connection() { return connection_; }

 private:
  pqxx::connection connection_;
  std::unordered_map<std::string, std::string> names_;
};

class PostgresTx final : public SqlTx {
 public:
  PostgresTx(PostgresConnection& connection, pqxx::work& work) : connection_(connection), work_(work) {}

  SqlRows Query(std::string_view sql, const SqlParams& params) override {
    const pqxx::result result = Execute(sql, params);
    SqlRows rows;
    rows.reserve(result.size());
    for (const auto& source_row : result) {
      SqlRow row;
      row.columns.reserve(source_row.size());
      for (const auto& field : source_row) {
        if (field.is_null()) {
          row.columns.emplace_back(std::nullopt);
        } else {
          row.columns.emplace_back(std::string(field.c_str(), field.size()));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  std::int64_t Exec(std::string_view sql, const SqlParams& params) override {
    return static_cast<std::int64_t>(Execute(sql, params).affected_rows());
  }

  void Script(std::string_view sql) override { work_.exec(std::string(sql)); }

 private:
  pqxx::result Execute(std::string_view sql, const SqlParams& params) {
    const std::string& name = connection_.Prepared(sql);
    // Every parameter goes as text; the server infers its type from the statement.
    std::vector<std::string> texts(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (std::size_t param_idx = 0; param_idx < params.size(); ++param_idx) {
      if (const auto* number = std::get_if<std::int64_t>(&params[param_idx])) {
        texts[param_idx] = std::to_string(*number);
        values[param_idx] = texts[param_idx].c_str();
      } else if (const auto* text = std::get_if<std::string>(&params[param_idx])) {
        values[param_idx] = text->c_str();
      }
    }
    return work_.exec_prepared(name, pqxx::prepare::make_dynamic_params(values));
  }

  PostgresConnection& connection_;
  pqxx::work& work_;
};

class PostgresDriver final : public SqlDriver {
 public:
  explicit PostgresDriver(std::string url) : url_(std::move(url)) {
    // Connect once now so that a wrong URL fails at start-up, not on the first request.
    free_.push_back(std::make_unique<PostgresConnection>(url_));
    created_ = 1;
  }

  std::string_view Dialect() const override { return "postgresql"; }

  Result<bool> Transact(bool /*write*/, const TxBody& body) override {
    std::unique_ptr<PostgresConnection> connection;
    try {
      connection = Acquire();
    } catch (const std::exception& error) {
      return Fail(ErrorCode::Storage, StorageMessage(error.what()));
    }
    Result<bool> result = true;
    bool broken = false;
    try {
      pqxx::work work(connection->connection());
      PostgresTx tx(*connection, work);
      result = body(tx);
      if (result) work.commit();
      // Without commit, the work's destructor rolls back.
    } catch (const pqxx::broken_connection& error) {
      broken = true;
      result = Fail(ErrorCode::Storage, StorageMessage(error.what()));
    } catch (const std::exception& error) {
      result = Fail(ErrorCode::Storage, StorageMessage(error.what()));
    }
    Release(broken ? nullptr : std::move(connection));
    return result;
  }

  void LockForMigration(SqlTx& tx) override {
    // A transaction-scoped advisory lock: two servers starting together migrate one after the other.
    tx.Query("SELECT pg_advisory_xact_lock(7463190)", {});
  }

  Result<std::string> IntegrityCheck() override {
    // PostgreSQL keeps its own consistency (WAL, checksums when enabled); check that the schema's
    // tables answer and that no entry points at a missing patient.
    std::string report = "ok";
    auto done = Transact(false, [&](SqlTx& tx) -> Result<bool> {
      const auto rows = tx.Query("SELECT COUNT(*) FROM entries e LEFT JOIN patients p ON p.id = e.patient_id WHERE p.id IS NULL", {});
      if (!rows.empty() && rows[0].Int(0) != 0) report = fmt::format("{} entries without a patient", rows[0].Int(0));
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return report;
  }

 private:
  std::unique_ptr<PostgresConnection> Acquire() {
    {
      std::unique_lock lock(mutex_);
      available_.wait(lock, [&] { return !free_.empty() || created_ < kPoolSize; });
      if (!free_.empty()) {
        auto connection = std::move(free_.back());
        free_.pop_back();
        return connection;
      }
      ++created_;
    }
    try {
      return std::make_unique<PostgresConnection>(url_);
    } catch (...) {
      const std::lock_guard lock(mutex_);
      --created_;
      available_.notify_one();
      throw;
    }
  }

  void Release(std::unique_ptr<PostgresConnection> connection) {
    {
      const std::lock_guard lock(mutex_);
      if (connection) {
        free_.push_back(std::move(connection));
      } else {
        --created_;
      }
    }
    available_.notify_one();
  }

  std::string url_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<PostgresConnection>> free_;
  std::size_t created_ = 0;
};

}  // namespace

Result<std::unique_ptr<SqlDriver>> OpenPostgres(std::string_view url) {
  try {
    return std::unique_ptr<SqlDriver>(std::make_unique<PostgresDriver>(std::string(url)));
  } catch (const std::exception& error) {
    return Fail(ErrorCode::Storage, fmt::format("cannot connect to PostgreSQL: {}", StorageMessage(error.what())), "--db");
  }
}

}  // namespace refract::store::detail
