// SPDX-License-Identifier: Apache-2.0
// Routes for patients of the caller's clinic: list, create, read, update; record entries per
// section; dose changes; the assessment and report; current interactions and the what-if.
#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "internal.h"
#include "refract/app/app.h"
#include "refract/core/report.h"

namespace refract::server {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;

// The list view's summary of an assessment: TRD status and the alerts, most severe first.
nlohmann::json SummaryJson(const store::Patient& patient, const AssessedPatient* assessed) {
  nlohmann::json out = PatientToJson(patient);
  if (assessed == nullptr) {
    out["trd_status"] = nullptr;
    out["alerts"] = nlohmann::json::array();
    out["alert_counts"] = {{"critical", 0}, {"warning", 0}, {"info", 0}};
    return out;
  }
  const nlohmann::json& assessment = assessed->assessment;
  out["trd_status"] = assessment.contains("trd") ? assessment["trd"].value("status", "") : "";
  nlohmann::json alerts = nlohmann::json::array();
  nlohmann::json counts{{"critical", 0}, {"warning", 0}, {"info", 0}};
  for (const auto& alert : assessment.value("alerts", nlohmann::json::array())) {
    const std::string severity = alert.value("severity", "info");
    if (counts.contains(severity)) counts[severity] = counts[severity].get<int>() + 1;
    alerts.push_back({{"severity", severity}, {"code", alert.value("code", "")}, {"message", alert.value("message", "")}});
  }
  out["alerts"] = alerts;
  out["alert_counts"] = counts;
  out["as_of"] = assessment.value("as_of", "");
  return out;
}

tl::expected<int, HttpError> PageSize(const RequestContext& context) {
  if (!context.HasQuery("limit")) return kDefaultPageSize;
  const std::string text = context.Query("limit");
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 1 || value > kMaxPageSize) {
    return HttpFail(400, "invalid_parameter", fmt::format("limit is an integer from 1 to {}", kMaxPageSize), "query.limit");
  }
  return value;
}

tl::expected<std::optional<std::int64_t>, HttpError> After(const RequestContext& context) {
  if (!context.HasQuery("after")) return std::optional<std::int64_t>();
  const std::string text = context.Query("after");
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) {
    return HttpFail(400, "invalid_parameter", "after is the next_after value of the previous page", "query.after");
  }
  return std::optional<std::int64_t>(value);
}

// A stored course's id for `augments` references: the next free "course-N".
std::string NextCourseId(const std::vector<store::Entry>& entries) {
  int highest = 0;
  for (const store::Entry& entry : entries) {
    if (entry.section != "medications") continue;
    const std::string id = entry.body.value("id", "");
    if (!id.starts_with("course-")) continue;
    int number = 0;
    const auto [end, error] = std::from_chars(id.data() + 7, id.data() + id.size(), number);
    if (error == std::errc() && end == id.data() + id.size()) highest = std::max(highest, number);
  }
  return fmt::format("course-{}", highest + 1);
}

// Where an entry lands in the assembled record's section array.
std::size_t IndexInSection(const std::vector<store::Entry>& entries, std::string_view section, std::int64_t entry_id) {
  std::size_t index = 0;
  for (const store::Entry& entry : entries) {
    if (entry.section != section) continue;
    if (entry.id == entry_id) return index;
    ++index;
  }
  return index;
}

}  // namespace

nlohmann::json PatientToJson(const store::Patient& patient) {
  return {{"id", patient.id},
          {"record_id", patient.record_id},
          {"label", patient.label},
          {"version", patient.version},
          {"created_at_ms", patient.created_at_ms},
          {"updated_at_ms", patient.updated_at_ms}};
}

tl::expected<bool, HttpError> ServerImpl::CheckWithNewEntries(const PatientData& data, const std::vector<store::NewEntry>& added) const {
  PatientData changed = data;
  for (const store::NewEntry& entry : added) {
    store::Entry stored;
    stored.section = entry.section;
    stored.body = entry.body;
    changed.entries.push_back(std::move(stored));
  }
  auto checked = records_.Check(Records::Assemble(changed));
  if (!checked) return tl::unexpected(FromError(checked.error()));
  return true;
}

namespace {

// Checks the record as it would be after a change to one entry, and reports an error inside that
// entry at "body#/..." (the request body), anything else at "record#/...".
tl::expected<bool, HttpError> CheckChangedRecord(const Records& records, const PatientData& changed, std::string_view section,
                                                 std::optional<std::size_t> index) {
  auto checked = records.Check(Records::Assemble(changed));
  if (checked) return true;
  HttpError error = FromError(checked.error());
  if (index) {
    const std::string prefix = fmt::format("record#/{}/{}", section, *index);
    if (error.location == prefix || error.location.starts_with(prefix + "/")) error.location = "body#" + error.location.substr(prefix.size());
  }
  return tl::unexpected(error);
}

}  // namespace

void ServerImpl::AddPatientRoutes() {
  Add("GET", "/api/v1/patients", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto limit = PageSize(context);
    if (!limit) return tl::unexpected(limit.error());
    auto after = After(context);
    if (!after) return tl::unexpected(after.error());
    auto as_of = AsOf(context);
    if (!as_of) return tl::unexpected(as_of.error());
    auto page = store_.ListPatients(*context.principal->user.clinic_id, *after, *limit);
    if (!page) return tl::unexpected(FromError(page.error()));
    nlohmann::json items = nlohmann::json::array();
    std::vector<store::AuditEvent> reads;
    for (const store::Patient& patient : page->items) {
      auto assessed = records_.Cached(patient.id, patient.version, *as_of, "");
      if (!assessed) {
        auto record = store_.GetRecord(patient.id);
        if (!record) return tl::unexpected(FromError(record.error()));
        auto fresh = records_.Assess(PatientData{record->first, record->second}, *as_of, "");
        if (fresh) assessed = *fresh;
      }
      items.push_back(SummaryJson(patient, assessed.get()));
      reads.push_back(context.Audit("read", fmt::format("patients/{}/summary", patient.id), patient.id));
    }
    if (auto audited = audit_.Append(std::move(reads)); !audited) return tl::unexpected(FromError(audited.error()));
    nlohmann::json out{{"items", items}};
    out["next_after"] = page->next_after ? nlohmann::json(*page->next_after) : nlohmann::json();
    return Json(out);
  });

  Add("POST", "/api/v1/patients", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    const auto record = body->find("record");
    if (record == body->end() || !record->is_object()) {
      return HttpFail(422, "invalid_input", "record is required: a refract.patient/v1 object", "body.record");
    }
    const std::string label = body->value("label", "");
    if (body->contains("label") && !(*body)["label"].is_string()) return HttpFail(422, "invalid_input", "label is a string", "body.label");
    if (auto checked = records_.Check(*record); !checked) return tl::unexpected(FromError(checked.error()));
    auto split = Records::Split(*record);
    if (!split) return tl::unexpected(FromError(split.error()));
    for (store::NewEntry& entry : split->entries) entry.source = store::EntrySource::Clinician;
    const auto& user = context.principal->user;
    auto patient = store_.CreatePatient(*user.clinic_id, split->record_id, label, split->profile, split->entries, user.id,
                                        context.Audit("create", "patients", std::nullopt));
    if (!patient) return tl::unexpected(FromError(patient.error()));
    Reply reply;
    reply.status = 201;
    reply.body = {{"patient", PatientToJson(*patient)}};
    reply.headers.emplace_back("Location", fmt::format("/api/v1/patients/{}", patient->id));
    return reply;
  });

  Add("GET", "/api/v1/patients/{patient_id}", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    if (auto audited = AuditRead(context, data->patient.id, fmt::format("patients/{}", data->patient.id)); !audited) {
      return tl::unexpected(audited.error());
    }
    nlohmann::json entries = nlohmann::json::object();
    for (const std::string_view section : store::kSections) entries[SectionPathName(section)] = nlohmann::json::array();
    for (const store::Entry& entry : data->entries) entries[SectionPathName(entry.section)].push_back(EntryToJson(entry));
    return Json({{"patient", PatientToJson(data->patient)}, {"record", Records::Assemble(*data)}, {"entries", entries}});
  });

  Add("PATCH", "/api/v1/patients/{patient_id}", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    std::string label = data->patient.label;
    if (body->contains("label")) {
      if (!(*body)["label"].is_string()) return HttpFail(422, "invalid_input", "label is a string", "body.label");
      label = (*body)["label"].get<std::string>();
    }
    PatientData changed = *data;
    if (body->contains("profile")) {
      const nlohmann::json& profile = (*body)["profile"];
      if (!profile.is_object()) return HttpFail(422, "invalid_input", "profile is an object", "body.profile");
      for (const auto& [key, value] : profile.items()) {
        if (key == "schema" || key == "id" || store::IsSection(key)) {
          return HttpFail(422, "invalid_input", fmt::format("{} is not part of the profile (use its own endpoint)", key),
                          fmt::format("body.profile.{}", key));
        }
      }
      changed.patient.profile = profile;
    }
    if (auto checked = CheckChangedRecord(records_, changed, "", std::nullopt); !checked) return tl::unexpected(checked.error());
    std::optional<std::int64_t> version;
    if (body->contains("version")) {
      if (!(*body)["version"].is_number_integer()) return HttpFail(422, "invalid_input", "version is an integer", "body.version");
      version = (*body)["version"].get<std::int64_t>();
    }
    auto updated = store_.UpdatePatient(data->patient.id, label, changed.patient.profile, version,
                                        context.Audit("update", fmt::format("patients/{}", data->patient.id), data->patient.id));
    if (!updated) {
      HttpError error = FromError(updated.error());
      if (error.location == "body.version") {
        error.status = 409;
        error.code = "conflict";
      }
      return tl::unexpected(error);
    }
    return Json({{"patient", PatientToJson(*updated)}});
  });

  Add("GET", "/api/v1/patients/{patient_id}/assessment", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto as_of = AsOf(context);
    if (!as_of) return tl::unexpected(as_of.error());
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    const std::string criteria = context.Query("criteria");
    auto assessed = records_.Assess(*data, *as_of, criteria);
    if (!assessed) {
      HttpError error = FromError(assessed.error());
      if (assessed.error().code == ErrorCode::InvalidInput) {
        error.status = 400;
        error.code = "invalid_parameter";
        error.location = "query.criteria";
      }
      return tl::unexpected(error);
    }
    if (auto audited = AuditRead(context, data->patient.id, fmt::format("patients/{}/assessment", data->patient.id)); !audited) {
      return tl::unexpected(audited.error());
    }
    return Json({{"patient", PatientToJson(data->patient)}, {"assessment", (*assessed)->assessment}, {"timeline", (*assessed)->timeline}});
  });

  Add("GET", "/api/v1/patients/{patient_id}/report", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto as_of = AsOf(context);
    if (!as_of) return tl::unexpected(as_of.error());
    const std::string format = context.HasQuery("format") ? context.Query("format") : "html";
    if (format != "html" && format != "text") return HttpFail(400, "invalid_parameter", "format is html or text", "query.format");
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    auto evaluated = EvaluateStored(context, *data, *as_of);
    if (!evaluated) return tl::unexpected(evaluated.error());
    if (auto audited = AuditRead(context, data->patient.id, fmt::format("patients/{}/report", data->patient.id)); !audited) {
      return tl::unexpected(audited.error());
    }
    Reply reply;
    if (format == "text") {
      reply.content_type = "text/plain; charset=utf-8";
      reply.text = RenderText(evaluated->assessment, app::Engine(), false);
      return reply;
    }
    // The report is one self-contained page without scripts; it carries its own style element.
    reply.content_type = "text/html; charset=utf-8";
    reply.text = RenderHtml(evaluated->assessment, app::Engine());
    reply.headers.emplace_back("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'");
    return reply;
  });

  const auto interactions = [this](RequestContext& context, bool what_if) -> Outcome {
    if (!interactions_) return HttpFail(503, "unavailable", fmt::format("interaction checking is unavailable: {}", interactions_error_));
    auto as_of = AsOf(context);
    if (!as_of) return tl::unexpected(as_of.error());
    nlohmann::json body = nlohmann::json::object();
    if (what_if) {
      auto parsed_body = ParseBody(context);
      if (!parsed_body) return tl::unexpected(parsed_body.error());
      body = std::move(*parsed_body);
      if (body.contains("as_of")) {
        const auto date = body["as_of"].is_string() ? ParseDate(body["as_of"].get<std::string>()) : std::nullopt;
        if (!date) return HttpFail(422, "invalid_input", "as_of is a date (YYYY-MM-DD)", "body.as_of");
        *as_of = *date;
      }
    }
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    auto parsed = app::Parser().Parse(kb_, Records::Assemble(*data), "record");
    if (!parsed) return tl::unexpected(FromError(parsed.error()));
    Regimen regimen = RegimenFromPatient(kb_, *parsed, *as_of);
    nlohmann::json out{{"as_of", FormatDate(*as_of)}};
    out["current"] = InteractionsToJson(*interactions_, CheckRegimen(*interactions_, regimen, *as_of));
    if (what_if) {
      const auto add = body.find("add");
      if (add == body.end() || !add->is_array() || add->empty()) {
        return HttpFail(422, "invalid_input", "add is a non-empty list of {\"drug\": NAME, \"mg_per_day\": NUMBER}", "body.add");
      }
      nlohmann::json proposed = nlohmann::json::array();
      for (std::size_t add_idx = 0; add_idx < add->size(); ++add_idx) {
        const nlohmann::json& item = (*add)[add_idx];
        const std::string where = fmt::format("body.add[{}]", add_idx);
        if (!item.is_object() || !item.contains("drug") || !item["drug"].is_string()) {
          return HttpFail(422, "invalid_input", "each addition names a drug", where + ".drug");
        }
        std::optional<double> mg_per_day;
        if (item.contains("mg_per_day") && !item["mg_per_day"].is_null()) {
          if (!item["mg_per_day"].is_number() || item["mg_per_day"].get<double>() < 0) {
            return HttpFail(422, "invalid_input", "mg_per_day is a number of at least 0", where + ".mg_per_day");
          }
          mg_per_day = item["mg_per_day"].get<double>();
        }
        const std::string name = item["drug"].get<std::string>();
        auto drug = kb_.ResolveDrug(name);
        if (!drug) return HttpFail(422, "invalid_input", drug.error().message, where + ".drug");
        AddProposed(regimen, **drug, name, mg_per_day);
        proposed.push_back({{"drug", (*drug)->id}, {"inn", (*drug)->inn}, {"mg_per_day", mg_per_day ? nlohmann::json(*mg_per_day) : nlohmann::json()}});
      }
      out["proposed"] = proposed;
      out["what_if"] = InteractionsToJson(*interactions_, CheckRegimen(*interactions_, regimen, *as_of));
    }
    if (auto audited = AuditRead(context, data->patient.id, fmt::format("patients/{}/interactions", data->patient.id)); !audited) {
      return tl::unexpected(audited.error());
    }
    return Json(out);
  };
  Add("GET", "/api/v1/patients/{patient_id}/interactions", Access::Clinician,
      [interactions](RequestContext& context) { return interactions(context, false); });
  Add("POST", "/api/v1/patients/{patient_id}/interactions/what-if", Access::Clinician,
      [interactions](RequestContext& context) { return interactions(context, true); });

  Add("GET", "/api/v1/patients/{patient_id}/{section}", Access::Clinician, [this](RequestContext& context) -> Outcome {
    const auto section = SectionFromPath(context.path.at("section"));
    if (!section) return HttpFail(404, "not_found", "no such endpoint");
    auto limit = PageSize(context);
    if (!limit) return tl::unexpected(limit.error());
    auto after = After(context);
    if (!after) return tl::unexpected(after.error());
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    std::vector<const store::Entry*> selected;
    for (const store::Entry& entry : data->entries) {
      if (entry.section == *section && entry.id > after->value_or(0)) selected.push_back(&entry);
    }
    std::sort(selected.begin(), selected.end(), [](const store::Entry* left, const store::Entry* right) { return left->id < right->id; });
    nlohmann::json items = nlohmann::json::array();
    nlohmann::json next = nullptr;
    for (const store::Entry* entry : selected) {
      if (static_cast<int>(items.size()) == *limit) {
        next = items.back()["id"];
        break;
      }
      items.push_back(EntryToJson(*entry));
    }
    if (auto audited = AuditRead(context, data->patient.id, fmt::format("patients/{}/{}", data->patient.id, *section)); !audited) {
      return tl::unexpected(audited.error());
    }
    return Json({{"items", items}, {"next_after", next}});
  });

  Add("POST", "/api/v1/patients/{patient_id}/{section}", Access::Clinician, [this](RequestContext& context) -> Outcome {
    const auto section = SectionFromPath(context.path.at("section"));
    if (!section) return HttpFail(404, "not_found", "no such endpoint");
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    if (*section == "medications" && !body->contains("id")) (*body)["id"] = NextCourseId(data->entries);
    PatientData changed = *data;
    store::Entry added;
    added.section = *section;
    added.body = *body;
    added.sort_date = store::SortDateOf(*section, *body);
    changed.entries.push_back(added);
    const std::size_t index = static_cast<std::size_t>(
        std::count_if(data->entries.begin(), data->entries.end(), [&](const store::Entry& entry) { return entry.section == *section; }));
    if (auto checked = CheckChangedRecord(records_, changed, *section, index); !checked) return tl::unexpected(checked.error());
    const auto& user = context.principal->user;
    auto entry = store_.AddEntry(data->patient.id, store::NewEntry{*section, *body, store::EntrySource::Clinician}, user.id,
                                 context.Audit("create", "", data->patient.id));
    if (!entry) return tl::unexpected(FromError(entry.error()));
    Reply reply;
    reply.status = 201;
    reply.body = EntryToJson(*entry);
    reply.headers.emplace_back("Location", fmt::format("/api/v1/patients/{}/{}/{}", data->patient.id, SectionPathName(*section), entry->id));
    return reply;
  });

  Add("GET", "/api/v1/patients/{patient_id}/{section}/{entry_id}", Access::Clinician, [this](RequestContext& context) -> Outcome {
    const auto section = SectionFromPath(context.path.at("section"));
    if (!section) return HttpFail(404, "not_found", "no such endpoint");
    auto entry_id = PathId(context, "entry_id");
    if (!entry_id) return tl::unexpected(entry_id.error());
    auto data = LoadPatient(context, false);
    if (!data) return tl::unexpected(data.error());
    auto entry = store_.GetEntry(data->patient.id, *entry_id);
    if (!entry && entry.error().code != ErrorCode::NotFound) return tl::unexpected(FromError(entry.error()));
    if (!entry || entry->section != *section) return HttpFail(404, "not_found", fmt::format("no entry {} in {}", *entry_id, SectionPathName(*section)));
    if (auto audited = AuditRead(context, data->patient.id, fmt::format("patients/{}/{}/{}", data->patient.id, *section, *entry_id)); !audited) {
      return tl::unexpected(audited.error());
    }
    return Json(EntryToJson(*entry));
  });

  Add("PUT", "/api/v1/patients/{patient_id}/{section}/{entry_id}", Access::Clinician, [this](RequestContext& context) -> Outcome {
    const auto section = SectionFromPath(context.path.at("section"));
    if (!section) return HttpFail(404, "not_found", "no such endpoint");
    auto entry_id = PathId(context, "entry_id");
    if (!entry_id) return tl::unexpected(entry_id.error());
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    PatientData changed = *data;
    const auto found = std::find_if(changed.entries.begin(), changed.entries.end(),
                                    [&](const store::Entry& entry) { return entry.id == *entry_id && entry.section == *section; });
    if (found == changed.entries.end()) return HttpFail(404, "not_found", fmt::format("no entry {} in {}", *entry_id, SectionPathName(*section)));
    // A course keeps its id: other courses may refer to it.
    if (*section == "medications" && found->body.contains("id") && !body->contains("id")) (*body)["id"] = found->body["id"];
    found->body = *body;
    if (auto checked = CheckChangedRecord(records_, changed, *section, IndexInSection(changed.entries, *section, *entry_id)); !checked) {
      return tl::unexpected(checked.error());
    }
    auto entry = store_.UpdateEntry(data->patient.id, *entry_id, *body,
                                    context.Audit("update", fmt::format("patients/{}/{}/{}", data->patient.id, *section, *entry_id), data->patient.id));
    if (!entry) return tl::unexpected(FromError(entry.error()));
    return Json(EntryToJson(*entry));
  });

  Add("DELETE", "/api/v1/patients/{patient_id}/{section}/{entry_id}", Access::Clinician, [this](RequestContext& context) -> Outcome {
    const auto section = SectionFromPath(context.path.at("section"));
    if (!section) return HttpFail(404, "not_found", "no such endpoint");
    auto entry_id = PathId(context, "entry_id");
    if (!entry_id) return tl::unexpected(entry_id.error());
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    PatientData changed = *data;
    const auto found = std::find_if(changed.entries.begin(), changed.entries.end(),
                                    [&](const store::Entry& entry) { return entry.id == *entry_id && entry.section == *section; });
    if (found == changed.entries.end()) return HttpFail(404, "not_found", fmt::format("no entry {} in {}", *entry_id, SectionPathName(*section)));
    changed.entries.erase(found);
    // Removing a course that another augments would leave the record unreadable.
    if (auto checked = CheckChangedRecord(records_, changed, *section, std::nullopt); !checked) return tl::unexpected(checked.error());
    auto deleted = store_.DeleteEntry(data->patient.id, *entry_id,
                                      context.Audit("delete", fmt::format("patients/{}/{}/{}", data->patient.id, *section, *entry_id), data->patient.id));
    if (!deleted) return tl::unexpected(FromError(deleted.error()));
    Reply reply;
    reply.status = 204;
    return reply;
  });

  Add("POST", "/api/v1/patients/{patient_id}/medications/{entry_id}/doses", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto entry_id = PathId(context, "entry_id");
    if (!entry_id) return tl::unexpected(entry_id.error());
    auto data = LoadPatient(context, true);
    if (!data) return tl::unexpected(data.error());
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    const auto from = body->contains("from") && (*body)["from"].is_string() ? ParseDate((*body)["from"].get<std::string>()) : std::nullopt;
    if (!from) return HttpFail(422, "invalid_input", "from is the date of the dose change (YYYY-MM-DD)", "body.from");
    if (!body->contains("mg_per_day") || !(*body)["mg_per_day"].is_number()) {
      return HttpFail(422, "invalid_input", "mg_per_day is the new total daily dose in mg", "body.mg_per_day");
    }
    PatientData changed = *data;
    const auto found = std::find_if(changed.entries.begin(), changed.entries.end(),
                                    [&](const store::Entry& entry) { return entry.id == *entry_id && entry.section == "medications"; });
    if (found == changed.entries.end()) return HttpFail(404, "not_found", fmt::format("no medication course {}", *entry_id));
    nlohmann::json doses = found->body.value("doses", nlohmann::json::array());
    const std::string from_text = FormatDate(*from);
    nlohmann::json step{{"from", from_text}, {"mg_per_day", (*body)["mg_per_day"]}};
    // A change on a date that already has a step replaces it; steps stay in date order.
    doses.erase(std::remove_if(doses.begin(), doses.end(), [&](const nlohmann::json& existing) { return existing.value("from", "") == from_text; }),
                doses.end());
    doses.push_back(step);
    std::stable_sort(doses.begin(), doses.end(),
                     [](const nlohmann::json& left, const nlohmann::json& right) { return left.value("from", "") < right.value("from", ""); });
    found->body["doses"] = doses;
    const std::size_t index = IndexInSection(changed.entries, "medications", *entry_id);
    auto checked = CheckChangedRecord(records_, changed, "medications", index);
    if (!checked) return tl::unexpected(checked.error());
    auto entry = store_.UpdateEntry(data->patient.id, *entry_id, found->body,
                                    context.Audit("update", fmt::format("patients/{}/medications/{}/doses", data->patient.id, *entry_id), data->patient.id));
    if (!entry) return tl::unexpected(FromError(entry.error()));
    return Json(EntryToJson(*entry), 201);
  });
}

}  // namespace refract::server
