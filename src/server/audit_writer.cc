// SPDX-License-Identifier: Apache-2.0
// Group commit of audit records (leader and followers, no background thread).
#include "audit_writer.h"

#include <utility>

namespace refract::server {

Result<bool> AuditWriter::Append(store::AuditEvent event) {
  std::vector<store::AuditEvent> events;
  events.push_back(std::move(event));
  return Append(std::move(events));
}

Result<bool> AuditWriter::Append(std::vector<store::AuditEvent> events) {
  if (events.empty()) return true;
  std::unique_lock lock(mutex_);
  const std::uint64_t batch = collecting_;
  for (store::AuditEvent& event : events) pending_.push_back(std::move(event));
  auto& slot = results_.try_emplace(batch, Result<bool>(true), 0).first->second;
  ++slot.second;
  while (done_through_ < batch) {
    if (flushing_) {
      done_.wait(lock);
      continue;
    }
    // Lead: write everything collected so far (this caller's batch) in one transaction.
    flushing_ = true;
    std::vector<store::AuditEvent> batch_events = std::move(pending_);
    pending_.clear();
    const std::uint64_t flushing_batch = collecting_++;
    lock.unlock();
    Result<bool> written = store_.AppendAudit(batch_events);
    lock.lock();
    results_[flushing_batch].first = std::move(written);
    done_through_ = flushing_batch;
    flushing_ = false;
    done_.notify_all();
  }
  auto found = results_.find(batch);
  Result<bool> result = found->second.first;
  if (--found->second.second == 0) results_.erase(found);
  return result;
}

}  // namespace refract::server
