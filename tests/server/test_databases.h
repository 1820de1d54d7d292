// SPDX-License-Identifier: Apache-2.0
/// Databases for store and server tests: a private SQLite :memory: database, or a fresh schema in
/// the PostgreSQL that REFRACT_TEST_PG_URL names (tests skip, saying so, when it is not set).
#pragma once

#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "refract/store/store.h"

namespace refract::testing {

inline constexpr const char* kSkipPostgres =
    "REFRACT_TEST_PG_URL is not set: PostgreSQL store tests skipped (tests/server/run_with_postgres.sh and CI run them against a real "
    "PostgreSQL)";

/// The PostgreSQL URL for tests, when set.
inline std::optional<std::string> PostgresUrl() {
  const char* url = std::getenv("REFRACT_TEST_PG_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

/// A test database: opens the store, and for PostgreSQL creates a schema of its own that is
/// dropped afterwards, so that tests never see each other's rows.
class TestDatabase {
 public:
  explicit TestDatabase(std::string backend) : backend_(std::move(backend)) {}
  ~TestDatabase() {
    store_.reset();
    if (schema_.empty()) return;
    try {
      pqxx::connection connection(*PostgresUrl());
      pqxx::nontransaction work(connection);
      work.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    } catch (const std::exception&) {
      // Leave it: a later run uses another random schema.
    }
  }

  /// The store's URL; for PostgreSQL a new schema selected with search_path.
  [[nodiscard]] std::optional<std::string> Url() {
    if (backend_ == "sqlite") return std::string("sqlite::memory:");
    const auto base = PostgresUrl();
    if (!base) return std::nullopt;
    std::random_device random;
    schema_ = fmt::format("refract_test_{:08x}{:08x}", random(), random());
    pqxx::connection connection(*base);
    pqxx::nontransaction work(connection);
    work.exec("CREATE SCHEMA " + schema_);
    const char separator = base->find('?') == std::string::npos ? '?' : '&';
    return fmt::format("{}{}options=-csearch_path%3D{}", *base, separator, schema_);
  }

  /// Opens the store (skip the test first when Url() has none).
  refract::store::Store& Open() {
    const auto url = Url();
    url_ = *url;
    auto opened = refract::store::OpenStore(*url);
    EXPECT_TRUE(opened) << (opened ? std::string() : opened.error().message);
    if (!opened) throw std::runtime_error("cannot open the test store");
    store_ = std::move(*opened);
    return *store_;
  }

  [[nodiscard]] const std::string& backend() const { return backend_; }
  /// The URL Open() used.
  [[nodiscard]] const std::string& url() const { return url_; }

 private:
  std::string backend_;
  std::string schema_;
  std::string url_;
  std::unique_ptr<refract::store::Store> store_;
};

}  // namespace refract::testing
