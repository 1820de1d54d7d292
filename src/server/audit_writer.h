// SPDX-License-Identifier: Apache-2.0
/// Durable audit records for reads, with group commit: concurrent requests share one transaction
/// (one fsync) instead of paying one each, and no request answers before its record is committed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "refract/store/store.h"

namespace refract::server {

class AuditWriter {
 public:
  explicit AuditWriter(store::Store& store) : store_(store) {}

  /// Appends the event and returns once it is committed, or the store's error.
  ///
  /// The first caller to find no write in progress writes every waiting event in one
  /// transaction; callers that arrive meanwhile wait and go in the next one.
  [[nodiscard]] Result<bool> Append(store::AuditEvent event);
  /// Appends several events together (a list page's one record per patient shown).
  [[nodiscard]] Result<bool> Append(std::vector<store::AuditEvent> events);

 private:
  store::Store& store_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::vector<store::AuditEvent> pending_;
  std::uint64_t collecting_ = 1;  // The batch new events join.
  std::uint64_t done_through_ = 0;
  bool flushing_ = false;
  std::map<std::uint64_t, std::pair<Result<bool>, int>> results_;  // Batch -> result and callers still to read it.
};

}  // namespace refract::server
