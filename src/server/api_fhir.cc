// SPDX-License-Identifier: Apache-2.0
// FHIR R4 through the clinic API: import a Bundle as a new patient or into a patient of the caller's
// clinic, assess a Bundle without storing it, and export a stored patient as a Bundle. The same
// library calls as `refract import-fhir`, `assess --fhir` and `export-fhir`, behind the server's
// session, role, CSRF and audit checks.
#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include <fmt/format.h>

#include "internal.h"
#include "refract/app/app.h"
#include "refract/core/chart.h"
#include "refract/core/report.h"
#include "refract/fhir/export.h"
#include "refract/fhir/import.h"
#include "refract/fhir/knowledge.h"

namespace refract::server {
namespace {

// Profile keys an import never changes: the record's identity and the importer's own note.
bool IsFixedProfileKey(std::string_view key) { return key == "schema" || key == "id" || key == "description"; }

// The FHIR instant of `now_ms` (UTC, seconds), for the export's Provenance.
std::string Instant(std::int64_t now_ms) {
  const std::time_t seconds = static_cast<std::time_t>(now_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                     utc.tm_sec);
}

// A course body without its id: two courses are the same when everything else is.
nlohmann::json WithoutId(nlohmann::json body) {
  if (body.is_object()) body.erase("id");
  return body;
}

bool SameEntry(const std::string& section, const nlohmann::json& left, const nlohmann::json& right) {
  if (section == "medications") return WithoutId(left) == WithoutId(right);
  return left == right;
}

/// What merging an imported record into a stored one did.
struct Merge {
  nlohmann::json profile;
  std::vector<std::string> profile_added;  ///< "person.sex", "diagnoses[]", "history"
  std::vector<std::string> profile_kept;   ///< Stored values that differ from the bundle's (the stored one stays).
  std::vector<store::NewEntry> entries;
  std::map<std::string, int> added_by_section;
  int duplicates = 0;
};

// Adds what the stored profile lacks: missing keys, missing fields of objects, missing items of
// lists. A stored value that differs from the bundle's is kept and named.
void MergeProfile(const nlohmann::json& imported, Merge& merge) {
  for (const auto& [key, value] : imported.items()) {
    if (IsFixedProfileKey(key) || store::IsSection(key)) continue;
    if (!merge.profile.contains(key)) {
      merge.profile[key] = value;
      merge.profile_added.push_back(key);
      continue;
    }
    nlohmann::json& stored = merge.profile[key];
    if (stored == value) continue;
    if (stored.is_object() && value.is_object()) {
      for (const auto& [field, field_value] : value.items()) {
        if (!stored.contains(field)) {
          stored[field] = field_value;
          merge.profile_added.push_back(key + "." + field);
        } else if (stored[field] != field_value) {
          merge.profile_kept.push_back(key + "." + field);
        }
      }
      continue;
    }
    if (stored.is_array() && value.is_array()) {
      bool added = false;
      for (const auto& item : value) {
        if (std::find(stored.begin(), stored.end(), item) != stored.end()) continue;
        stored.push_back(item);
        added = true;
      }
      if (added) merge.profile_added.push_back(key + "[]");
      continue;
    }
    merge.profile_kept.push_back(key);
  }
}

// Adds the imported entries the record does not hold yet. Imported course ids that the record
// already uses are renamed (and `augments` references to them follow), so that ids stay unique.
void MergeEntries(const std::vector<store::Entry>& stored, const std::vector<store::NewEntry>& imported, Merge& merge) {
  std::set<std::string> course_ids;
  for (const store::Entry& entry : stored) {
    if (entry.section == "medications" && entry.body.contains("id") && entry.body["id"].is_string()) course_ids.insert(entry.body["id"].get<std::string>());
  }
  for (const store::NewEntry& entry : imported) {
    if (entry.section == "medications" && entry.body.contains("id") && entry.body["id"].is_string()) course_ids.insert(entry.body["id"].get<std::string>());
  }
  std::map<std::string, std::string> renamed;
  int next_course = 1;
  const auto fresh_course_id = [&] {
    while (course_ids.contains(fmt::format("fhir-course-{}", next_course))) ++next_course;
    std::string id = fmt::format("fhir-course-{}", next_course);
    course_ids.insert(id);
    return id;
  };
  std::set<std::string> stored_ids;
  for (const store::Entry& entry : stored) {
    if (entry.section == "medications" && entry.body.contains("id") && entry.body["id"].is_string()) stored_ids.insert(entry.body["id"].get<std::string>());
  }
  for (const store::NewEntry& entry : imported) {
    const auto duplicate = std::find_if(stored.begin(), stored.end(), [&](const store::Entry& existing) {
      return existing.section == entry.section && SameEntry(entry.section, existing.body, entry.body);
    });
    if (duplicate != stored.end()) {
      // A course the record already has: imported courses that augment it point at the stored one.
      if (entry.section == "medications" && entry.body.contains("id") && duplicate->body.contains("id")) {
        renamed[entry.body["id"].get<std::string>()] = duplicate->body["id"].get<std::string>();
      }
      ++merge.duplicates;
      continue;
    }
    store::NewEntry added = entry;
    added.source = store::EntrySource::Import;
    if (added.section == "medications" && added.body.contains("id") && added.body["id"].is_string()) {
      const std::string id = added.body["id"].get<std::string>();
      if (stored_ids.contains(id)) {
        renamed[id] = fresh_course_id();
        added.body["id"] = renamed[id];
      }
    }
    merge.entries.push_back(std::move(added));
    ++merge.added_by_section[entry.section];
  }
  for (store::NewEntry& entry : merge.entries) {
    if (entry.section != "medications" || !entry.body.contains("augments") || !entry.body["augments"].is_string()) continue;
    const auto found = renamed.find(entry.body["augments"].get<std::string>());
    if (found != renamed.end()) entry.body["augments"] = found->second;
  }
}

nlohmann::json AddedJson(const Merge& merge) {
  nlohmann::json added = nlohmann::json::object();
  for (const auto& [section, count] : merge.added_by_section) added[SectionPathName(section)] = count;
  return added;
}

}  // namespace

tl::expected<const fhir::FhirKnowledge*, HttpError> ServerImpl::LoadFhir() const {
  // Loaded on first use and kept with the KB: most servers never see a FHIR request.
  const auto& knowledge = kb_.Derived<Result<fhir::FhirKnowledge>>(&fhir::LoadFhirKnowledge);
  if (!knowledge) return HttpFail(503, "unavailable", fmt::format("FHIR is unavailable: {}", knowledge.error().message));
  return &*knowledge;
}

tl::expected<FhirImported, HttpError> ServerImpl::ImportFhir(const RequestContext& context, const nlohmann::json& bundle) const {
  auto knowledge = LoadFhir();
  if (!knowledge) return tl::unexpected(knowledge.error());
  fhir::ImportOptions options;
  options.label = "body";
  options.patient_id = context.Query("patient");
  // What the engine cannot read is left out of the record and reported, never stored.
  options.check = [this](const nlohmann::json& record) -> std::optional<Error> {
    auto checked = records_.Check(record);
    if (!checked) return checked.error();
    return std::nullopt;
  };
  auto imported = fhir::ImportBundle(**knowledge, bundle, options);
  if (!imported) return tl::unexpected(FromError(imported.error()));
  auto checked = records_.Check(imported->record);
  if (!checked) return tl::unexpected(FromError(checked.error()));
  return FhirImported{std::move(imported->record), fhir::ImportReportToJson(imported->report), std::move(*checked)};
}

tl::expected<FhirImportedForStore, HttpError> ServerImpl::ImportBodyForStore(const RequestContext& context) const {
  auto bundle = ParseBody(context);
  if (!bundle) return tl::unexpected(bundle.error());
  auto imported = ImportFhir(context, *bundle);
  if (!imported) return tl::unexpected(imported.error());
  auto split = Records::Split(imported->record);
  if (!split) return tl::unexpected(FromError(split.error()));
  return FhirImportedForStore{std::move(*imported), std::move(*split)};
}

void ServerImpl::AddFhirRoutes() {
  Add("POST", "/api/v1/fhir/import", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto read = ImportBodyForStore(context);
    if (!read) return tl::unexpected(read.error());
    FhirImported* imported = &read->imported;
    SplitRecord* split = &read->split;
    for (store::NewEntry& entry : split->entries) entry.source = store::EntrySource::Import;
    const auto& user = context.principal->user;
    auto patient = store_.CreatePatient(*user.clinic_id, split->record_id, context.Query("label"), split->profile, split->entries, user.id,
                                        context.Audit("import", "patients", std::nullopt));
    if (!patient) return tl::unexpected(FromError(patient.error()));
    Reply reply;
    reply.status = 201;
    reply.body = {{"patient", PatientToJson(*patient)}, {"report", std::move(imported->report)}};
    reply.headers.emplace_back("Location", fmt::format("/api/v1/patients/{}", patient->id));
    return reply;
  });

  Add("POST", "/api/v1/fhir/assess", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto as_of = AsOf(context);
    if (!as_of) return tl::unexpected(as_of.error());
    auto bundle = ParseBody(context);
    if (!bundle) return tl::unexpected(bundle.error());
    auto imported = ImportFhir(context, *bundle);
    if (!imported) return tl::unexpected(imported.error());
    EvaluateOptions options;
    options.as_of = *as_of;
    options.criteria_id = context.Query("criteria");
    options.locale = options_.locale;
    auto assessment = Evaluate(kb_, imported->patient, options);
    if (!assessment) return HttpFail(400, "invalid_parameter", assessment.error().message, "query.criteria");
    // Nothing is stored, but patient data passed through: the audit log says who assessed a bundle.
    if (auto audited = audit_.Append(context.Audit("assess", "fhir/assess", std::nullopt)); !audited) {
      return tl::unexpected(FromError(audited.error()));
    }
    return Json({{"record", std::move(imported->record)},
                 {"report", std::move(imported->report)},
                 {"assessment", AssessmentToJson(*assessment, app::Engine())},
                 {"timeline", TimelineChartSpec(*assessment)}});
  });

  Add("POST", "/api/v1/patients/{patient_id}/fhir/import", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    auto read = ImportBodyForStore(context);
    if (!read) return tl::unexpected(read.error());
    FhirImported* imported = &read->imported;
    SplitRecord* split = &read->split;
    Merge merge;
    merge.profile = data->patient.profile.is_object() ? data->patient.profile : nlohmann::json::object();
    MergeProfile(split->profile, merge);
    MergeEntries(data->entries, split->entries, merge);
    // The record as it would be after the import must stay assessable.
    PatientData changed = *data;
    changed.patient.profile = merge.profile;
    for (const store::NewEntry& entry : merge.entries) {
      store::Entry added;
      added.section = entry.section;
      added.body = entry.body;
      added.sort_date = store::SortDateOf(entry.section, entry.body);
      changed.entries.push_back(std::move(added));
    }
    if (auto checked = records_.Check(Records::Assemble(changed)); !checked) return tl::unexpected(FromError(checked.error()));
    const std::string resource = fmt::format("patients/{}/fhir/import", data->patient.id);
    store::Patient patient = data->patient;
    if (merge.profile_added.empty() && merge.entries.empty()) {
      if (auto audited = AuditRead(context, data->patient.id, resource); !audited) return tl::unexpected(audited.error());
    } else {
      // One transaction: the profile, the entries, one version and one audit record, or nothing. The
      // version guard refuses the import when someone else wrote the record since it was read.
      const std::optional<nlohmann::json> profile = merge.profile_added.empty() ? std::nullopt : std::optional<nlohmann::json>(merge.profile);
      auto merged = store_.MergeIntoPatient(data->patient.id, profile, merge.entries, data->patient.version, context.principal->user.id,
                                            context.Audit("import", resource, data->patient.id));
      if (!merged) {
        HttpError error = FromError(merged.error());
        if (error.location == "body.version") error = HttpError{409, "conflict", "the record changed while the bundle was imported; import it again", {}};
        return tl::unexpected(error);
      }
      patient = *merged;
    }
    return Json({{"patient", PatientToJson(patient)},
                 {"report", std::move(imported->report)},
                 {"added", AddedJson(merge)},
                 {"duplicates", merge.duplicates},
                 {"profile_added", merge.profile_added},
                 {"profile_kept", merge.profile_kept}});
  });

  Add("GET", "/api/v1/patients/{patient_id}/fhir", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto as_of = AsOf(context);
    if (!as_of) return tl::unexpected(as_of.error());
    const std::string content = context.HasQuery("content") ? context.Query("content") : "all";
    if (content != "all" && content != "record" && content != "assessment") {
      return HttpFail(400, "invalid_parameter", "content is all, record or assessment", "query.content");
    }
    const std::string bundle_type = context.HasQuery("bundle_type") ? context.Query("bundle_type") : "collection";
    if (bundle_type != "collection" && bundle_type != "transaction") {
      return HttpFail(400, "invalid_parameter", "bundle_type is collection or transaction", "query.bundle_type");
    }
    auto knowledge = LoadFhir();
    if (!knowledge) return tl::unexpected(knowledge.error());
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    auto evaluated = EvaluateStored(context, *data, *as_of);
    if (!evaluated) return tl::unexpected(evaluated.error());
    fhir::ExportOptions export_options;
    export_options.engine = app::Engine();
    export_options.generated_at = Instant(context.now_ms);
    export_options.bundle_type = bundle_type;
    export_options.include_record = content != "assessment";
    export_options.include_assessment = content != "record";
    const nlohmann::json bundle = fhir::ExportBundle(**knowledge, evaluated->patient, &evaluated->assessment,
                                                    evaluated->assessment.interactions.get(), export_options);
    if (auto audited = AuditRead(context, data->patient.id, fmt::format("patients/{}/fhir", data->patient.id)); !audited) {
      return tl::unexpected(audited.error());
    }
    Reply reply;
    reply.content_type = "application/fhir+json";
    reply.text = bundle.dump();
    return reply;
  });
}

}  // namespace refract::server
