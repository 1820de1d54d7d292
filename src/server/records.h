// SPDX-License-Identifier: Apache-2.0
/// Stored patients as refract.patient/v1 records: assembling, splitting an imported record into
/// profile and entries, checking that a record stays assessable, and assessing with a cache.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/date.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/result.h"
#include "refract/store/store.h"

namespace refract::server {

/// A patient with the entries of their record.
struct PatientData {
  store::Patient patient;
  std::vector<store::Entry> entries;
};

/// An assessment as the API returns it, shared by concurrent readers of the cache.
struct AssessedPatient {
  nlohmann::json assessment;  ///< refract.assessment/v1.
  nlohmann::json timeline;    ///< The Vega-Lite timeline spec.
  std::int64_t version = 0;
};

/// A record split for storage.
struct SplitRecord {
  std::string record_id;
  nlohmann::json profile = nlohmann::json::object();
  std::vector<store::NewEntry> entries;
};

class Records {
 public:
  explicit Records(const KnowledgeBase& kb, std::string locale);

  /// The record: the profile, "schema" and "id", then each section's entries in record order.
  [[nodiscard]] static nlohmann::json Assemble(const PatientData& data);
  /// Profile and entries of a whole record. Fails with InvalidInput when it is not an object with an id.
  [[nodiscard]] static Result<SplitRecord> Split(const nlohmann::json& record);
  /// Parses the record and evaluates it once: what is stored must stay assessable. Errors name
  /// "record#/pointer".
  [[nodiscard]] Result<PatientRecord> Check(const nlohmann::json& record) const;
  /// The assessment on `as_of` under `criteria` (empty: the KB's default), from the cache when the
  /// record's version is unchanged. Fails with InvalidInput for an unknown criteria id.
  [[nodiscard]] Result<std::shared_ptr<const AssessedPatient>> Assess(const PatientData& data, Date as_of, const std::string& criteria);
  /// The cached assessment for this version, if any (list pages use it before loading entries).
  [[nodiscard]] std::shared_ptr<const AssessedPatient> Cached(std::int64_t patient_id, std::int64_t version, Date as_of,
                                                              const std::string& criteria);

 private:
  using Key = std::string;
  static Key CacheKey(std::int64_t patient_id, std::int64_t version, Date as_of, const std::string& criteria);
  void Remember(const Key& key, std::shared_ptr<const AssessedPatient> value);

  const KnowledgeBase& kb_;
  std::string locale_;
  std::mutex mutex_;
  std::list<Key> recency_;  // Most recent first.
  std::unordered_map<Key, std::pair<std::shared_ptr<const AssessedPatient>, std::list<Key>::iterator>> cache_;
};

}  // namespace refract::server
