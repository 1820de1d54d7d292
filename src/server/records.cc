// SPDX-License-Identifier: Apache-2.0
// Record assembly, splitting, checking and cached assessment.
#include "records.h"

#include <fmt/format.h>

#include "refract/app/app.h"
#include "refract/core/assessment.h"
#include "refract/core/chart.h"
#include "refract/core/report.h"
#include "refract/server/server.h"

namespace refract::server {
namespace {

constexpr std::size_t kCacheEntries = 4096;
constexpr const char* kLabel = "record";

}  // namespace

Records::Records(const KnowledgeBase& kb, std::string locale) : kb_(kb), locale_(std::move(locale)) {}

nlohmann::json Records::Assemble(const PatientData& data) {
  nlohmann::json record = data.patient.profile.is_object() ? data.patient.profile : nlohmann::json::object();
  record["schema"] = "refract.patient/v1";
  record["id"] = data.patient.record_id;
  for (const std::string_view section : store::kSections) {
    nlohmann::json items = nlohmann::json::array();
    for (const store::Entry& entry : data.entries) {
      if (entry.section == section) items.push_back(entry.body);
    }
    if (!items.empty()) record[std::string(section)] = std::move(items);
  }
  return record;
}

Result<SplitRecord> Records::Split(const nlohmann::json& record) {
  if (!record.is_object()) return Fail(ErrorCode::InvalidInput, "the record is not a JSON object", "record#");
  const auto id = record.find("id");
  if (id == record.end() || !id->is_string() || id->get<std::string>().empty()) {
    return Fail(ErrorCode::InvalidInput, "the record has no id", "record#/id");
  }
  SplitRecord split;
  split.record_id = id->get<std::string>();
  for (const auto& [key, value] : record.items()) {
    if (key == "schema" || key == "id") continue;
    if (!store::IsSection(key)) {
      split.profile[key] = value;
      continue;
    }
    if (!value.is_array()) return Fail(ErrorCode::InvalidInput, fmt::format("{} is not an array", key), fmt::format("record#/{}", key));
    for (const auto& item : value) split.entries.push_back(store::NewEntry{key, item, store::EntrySource::Import});
  }
  return split;
}

Result<PatientRecord> Records::Check(const nlohmann::json& record) const {
  auto parsed = app::Parser().Parse(kb_, record, kLabel);
  if (!parsed) return tl::unexpected(parsed.error());
  EvaluateOptions options;
  options.as_of = app::Today();
  options.locale = locale_;
  auto evaluated = Evaluate(kb_, *parsed, options);
  if (!evaluated) return tl::unexpected(evaluated.error());
  return parsed;
}

Records::Key Records::CacheKey(std::int64_t patient_id, std::int64_t version, Date as_of, const std::string& criteria) {
  return fmt::format("{}/{}/{}/{}", patient_id, version, FormatDate(as_of), criteria);
}

std::shared_ptr<const AssessedPatient> Records::Cached(std::int64_t patient_id, std::int64_t version, Date as_of, const std::string& criteria) {
  const Key key = CacheKey(patient_id, version, as_of, criteria);
  const std::lock_guard lock(mutex_);
  const auto found = cache_.find(key);
  if (found == cache_.end()) return nullptr;
  recency_.splice(recency_.begin(), recency_, found->second.second);
  return found->second.first;
}

void Records::Remember(const Key& key, std::shared_ptr<const AssessedPatient> value) {
  const std::lock_guard lock(mutex_);
  if (cache_.contains(key)) return;
  recency_.push_front(key);
  cache_.emplace(key, std::make_pair(std::move(value), recency_.begin()));
  while (cache_.size() > kCacheEntries) {
    cache_.erase(recency_.back());
    recency_.pop_back();
  }
}

Result<std::shared_ptr<const AssessedPatient>> Records::Assess(const PatientData& data, Date as_of, const std::string& criteria) {
  if (auto cached = Cached(data.patient.id, data.patient.version, as_of, criteria)) return cached;
  const nlohmann::json record = Assemble(data);
  auto parsed = app::Parser().Parse(kb_, record, kLabel);
  if (!parsed) return tl::unexpected(parsed.error());
  EvaluateOptions options;
  options.as_of = as_of;
  options.criteria_id = criteria;
  options.locale = locale_;
  auto assessment = Evaluate(kb_, *parsed, options);
  if (!assessment) return tl::unexpected(assessment.error());
  auto assessed = std::make_shared<AssessedPatient>();
  assessed->assessment = AssessmentToJson(*assessment, app::Engine());
  assessed->timeline = TimelineChartSpec(*assessment);
  assessed->version = data.patient.version;
  std::shared_ptr<const AssessedPatient> shared = std::move(assessed);
  Remember(CacheKey(data.patient.id, data.patient.version, as_of, criteria), shared);
  return shared;
}

Result<store::Patient> ImportPatient(store::Store& store, const KnowledgeBase& kb, std::int64_t clinic_id, const nlohmann::json& record,
                                     const std::string& label, const store::AuditEvent& audit) {
  const Records records(kb, "");
  if (auto checked = records.Check(record); !checked) return tl::unexpected(checked.error());
  auto split = Records::Split(record);
  if (!split) return tl::unexpected(split.error());
  return store.CreatePatient(clinic_id, split->record_id, label, split->profile, split->entries, std::nullopt, audit);
}

}  // namespace refract::server
