// SPDX-License-Identifier: Apache-2.0
// Patient self-report: invitations (one-time, expiring links sent by a clinician), the pages the
// link opens (form and submission, without an account), and /me for patients with an account.
#include <algorithm>

#include <fmt/format.h>

#include "internal.h"
#include "refract/app/app.h"
#include "refract/app/embedded.h"
#include "refract/core/scales.h"

namespace refract::server {
namespace {

constexpr std::int64_t kDefaultInvitationHours = 72;
constexpr const char* kDailyLog = "daily_log";

// The instruments a patient account may fill in without an invitation.
const std::vector<std::string>& PatientInstruments() {
  static const std::vector<std::string> instruments{"phq9", "gad7", kDailyLog};
  return instruments;
}

// "scale.phq9" -> "phq9": the name records use.
std::string ShortScaleName(const std::string& id) { return id.starts_with("scale.") ? id.substr(6) : id; }

// A scale a patient can fill in alone: self-rated, with the wording of every item.
tl::expected<ScaleDefinition, std::string> SelfReportScale(const KnowledgeBase& kb, const std::string& name) {
  auto scale = FindScale(kb, name);
  if (!scale) return tl::unexpected(scale.error().message);
  if (scale->rater != "self") return tl::unexpected(fmt::format("{} is not a self-report scale", scale->short_name));
  if (std::any_of(scale->items.begin(), scale->items.end(), [](const ScaleItem& item) { return item.text.empty(); })) {
    return tl::unexpected(fmt::format("the KB does not carry the wording of {}, so patients cannot fill it in here", scale->short_name));
  }
  return *scale;
}

const nlohmann::json& DailyLogFields() {
  static const nlohmann::json fields = [] {
    const auto schema = nlohmann::json::parse(embedded::PatientSchema(), nullptr, false);
    nlohmann::json properties = schema.is_discarded() ? nlohmann::json::object()
                                                      : schema.value("/$defs/daily_entry/properties"_json_pointer, nlohmann::json::object());
    properties.erase("date");
    return properties;
  }();
  return fields;
}

std::string Status(const store::Invitation& invitation, std::int64_t now_ms) {
  if (invitation.used_at_ms) return "used";
  if (invitation.revoked_at_ms) return "revoked";
  if (invitation.expires_at_ms <= now_ms) return "expired";
  return "open";
}

nlohmann::json InvitationJson(const store::Invitation& invitation, std::int64_t now_ms) {
  nlohmann::json out{{"id", invitation.id},
                     {"patient_id", invitation.patient_id},
                     {"instruments", invitation.instruments},
                     {"created_by", invitation.created_by},
                     {"created_at_ms", invitation.created_at_ms},
                     {"expires_at_ms", invitation.expires_at_ms},
                     {"status", Status(invitation, now_ms)}};
  out["used_at_ms"] = invitation.used_at_ms ? nlohmann::json(*invitation.used_at_ms) : nlohmann::json();
  out["revoked_at_ms"] = invitation.revoked_at_ms ? nlohmann::json(*invitation.revoked_at_ms) : nlohmann::json();
  return out;
}

}  // namespace

Outcome ServerImpl::SelfReportForm(const std::vector<std::string>& instruments) const {
  nlohmann::json items = nlohmann::json::array();
  for (const std::string& instrument : instruments) {
    if (instrument == kDailyLog) {
      items.push_back({{"id", kDailyLog}, {"kind", "daily_log"}, {"name", "Daily log"}, {"fields", DailyLogFields()}});
      continue;
    }
    auto scale = SelfReportScale(kb_, instrument);
    if (!scale) return HttpFail(500, "internal", scale.error());
    std::string recall;
    for (const auto& [path, raw] : kb_.FilesOfKind("scale")) {
      if (raw != nullptr && raw->value("id", "") == scale->id) recall = raw->value("recall", "");
    }
    nlohmann::json questions = nlohmann::json::array();
    for (const ScaleItem& item : scale->items) {
      questions.push_back({{"label", item.label}, {"text", item.text}, {"min", item.min}, {"max", item.max}, {"answers", item.answers}});
    }
    items.push_back({{"id", ShortScaleName(scale->id)}, {"kind", "scale"}, {"name", scale->name}, {"short_name", scale->short_name},
                     {"recall", recall}, {"items", questions}});
  }
  nlohmann::json crisis = nullptr;
  if (const nlohmann::json* lines = kb_.RawFile("rules/mbc.crisis_lines.json")) {
    const std::string locale = options_.locale.empty() ? lines->value("default_locale", "") : options_.locale;
    for (const auto& line : lines->value("lines", nlohmann::json::array())) {
      if (line.value("locale", "") == locale) crisis = {{"text", line.value("text", "")}, {"emergency", line.value("emergency", "")}};
    }
  }
  return Json({{"instruments", items}, {"crisis", crisis}});
}

tl::expected<std::vector<store::NewEntry>, HttpError> ServerImpl::SelfReportEntries(const nlohmann::json& body,
                                                                                     const std::vector<std::string>& allowed,
                                                                                     Date today) const {
  std::vector<store::NewEntry> entries;
  const std::string date = FormatDate(today);
  const auto scales = body.find("scales");
  if (scales != body.end()) {
    if (!scales->is_array()) return HttpFail(422, "invalid_input", "scales is a list", "body.scales");
    for (std::size_t scale_idx = 0; scale_idx < scales->size(); ++scale_idx) {
      const nlohmann::json& answer = (*scales)[scale_idx];
      const std::string where = fmt::format("body.scales[{}]", scale_idx);
      if (!answer.is_object() || !answer.contains("scale") || !answer["scale"].is_string()) {
        return HttpFail(422, "invalid_input", "each answer names its scale", where + ".scale");
      }
      auto scale = FindScale(kb_, answer["scale"].get<std::string>());
      const std::string name = scale ? ShortScaleName(scale->id) : std::string();
      if (!scale || std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return HttpFail(422, "invalid_input", fmt::format("{} is not part of this self-report", answer["scale"].get<std::string>()), where + ".scale");
      }
      if (!answer.contains("items") || !answer["items"].is_array()) return HttpFail(422, "invalid_input", "items is a list of answers", where + ".items");
      entries.push_back(store::NewEntry{"scales", {{"scale", name}, {"date", date}, {"items", answer["items"]}, {"rater", "self"}},
                                        store::EntrySource::SelfReport});
    }
  }
  const auto daily = body.find(kDailyLog);
  if (daily != body.end() && !daily->is_null()) {
    if (std::find(allowed.begin(), allowed.end(), kDailyLog) == allowed.end()) {
      return HttpFail(422, "invalid_input", "the daily log is not part of this self-report", "body.daily_log");
    }
    if (!daily->is_object()) return HttpFail(422, "invalid_input", "daily_log is an object", "body.daily_log");
    nlohmann::json entry = *daily;
    entry["date"] = date;
    entries.push_back(store::NewEntry{"daily_log", entry, store::EntrySource::SelfReport});
  }
  if (entries.empty()) return HttpFail(422, "invalid_input", "there is nothing to save: answer a questionnaire or the daily log", "body");
  return entries;
}

void ServerImpl::AddSelfReportRoutes() {
  Add("POST", "/api/v1/patients/{patient_id}/invitations", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto data = LoadPatient(context, false);
    if (!data) return tl::unexpected(data.error());
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    std::vector<std::string> instruments;
    const auto requested = body->find("instruments");
    if (requested == body->end() || !requested->is_array() || requested->empty()) {
      return HttpFail(422, "invalid_input", "instruments lists what to fill in, e.g. [\"phq9\", \"gad7\", \"daily_log\"]", "body.instruments");
    }
    for (std::size_t instrument_idx = 0; instrument_idx < requested->size(); ++instrument_idx) {
      const nlohmann::json& instrument = (*requested)[instrument_idx];
      const std::string where = fmt::format("body.instruments[{}]", instrument_idx);
      if (!instrument.is_string()) return HttpFail(422, "invalid_input", "an instrument is a name", where);
      std::string name = instrument.get<std::string>();
      if (name != kDailyLog) {
        auto scale = SelfReportScale(kb_, name);
        if (!scale) return HttpFail(422, "invalid_input", scale.error(), where);
        name = ShortScaleName(scale->id);
      }
      if (std::find(instruments.begin(), instruments.end(), name) == instruments.end()) instruments.push_back(name);
    }
    std::int64_t hours = kDefaultInvitationHours;
    if (body->contains("expires_in_hours")) {
      const nlohmann::json& value = (*body)["expires_in_hours"];
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 || value.get<std::int64_t>() > options_.max_invitation_lifetime.count()) {
        return HttpFail(422, "invalid_input", fmt::format("expires_in_hours is a whole number from 1 to {}", options_.max_invitation_lifetime.count()),
                        "body.expires_in_hours");
      }
      hours = value.get<std::int64_t>();
    }
    const std::string token = RandomToken();
    const std::int64_t expires = context.now_ms + hours * 3600 * 1000;
    auto invitation = store_.CreateInvitation(data->patient.id, TokenHash(token), instruments, context.principal->user.id, expires,
                                              context.Audit("create", "", data->patient.id));
    if (!invitation) return tl::unexpected(FromError(invitation.error()));
    // The token is shown once, here; the store keeps only its hash.
    return Json({{"invitation", InvitationJson(*invitation, context.now_ms)}, {"url", SelfReportUrl(context, token)}, {"token", token}}, 201);
  });

  Add("GET", "/api/v1/patients/{patient_id}/invitations", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto data = LoadPatient(context, false);
    if (!data) return tl::unexpected(data.error());
    auto invitations = store_.ListInvitations(data->patient.id);
    if (!invitations) return tl::unexpected(FromError(invitations.error()));
    nlohmann::json items = nlohmann::json::array();
    for (const store::Invitation& invitation : *invitations) items.push_back(InvitationJson(invitation, context.now_ms));
    if (auto audited = AuditRead(context, data->patient.id, fmt::format("patients/{}/invitations", data->patient.id)); !audited) {
      return tl::unexpected(audited.error());
    }
    return Json({{"items", items}});
  });

  Add("DELETE", "/api/v1/patients/{patient_id}/invitations/{invitation_id}", Access::Clinician, [this](RequestContext& context) -> Outcome {
    auto invitation_id = PathId(context, "invitation_id");
    if (!invitation_id) return tl::unexpected(invitation_id.error());
    auto data = LoadPatient(context, false);
    if (!data) return tl::unexpected(data.error());
    auto revoked = store_.RevokeInvitation(
        data->patient.id, *invitation_id,
        context.Audit("revoke", fmt::format("patients/{}/invitations/{}", data->patient.id, *invitation_id), data->patient.id));
    if (!revoked) return tl::unexpected(FromError(revoked.error()));
    Reply reply;
    reply.status = 204;
    return reply;
  });

  // The link's token arrives as "Authorization: Invitation TOKEN" (the page reads it from the
  // URL's fragment, which browsers never send); wrong tokens count against the address.
  const auto invitation_for = [this](RequestContext& context) -> tl::expected<std::pair<store::Invitation, std::string>, HttpError> {
    if (const auto wait = token_by_address_.RetryAfterSeconds(context.remote_addr, context.now_ms); wait > 0) {
      HttpError error{429, "rate_limited", fmt::format("too many invalid links from this address; try again in {} seconds", wait), {}};
      error.retry_after_seconds = wait;
      return tl::unexpected(error);
    }
    const std::string header = context.Header("Authorization");
    const std::string token = header.starts_with("Invitation ") ? header.substr(11) : std::string();
    if (token.empty()) return HttpFail(401, "invalid_link", "this page needs the link your clinic sent you");
    const std::string hash = TokenHash(token);
    auto found = store_.FindInvitation(hash);
    if (!found) return tl::unexpected(FromError(found.error()));
    if (!*found) {
      token_by_address_.RecordFailure(context.remote_addr, context.now_ms);
      return HttpFail(404, "invalid_link", "this link is not valid; ask your clinic for a new one");
    }
    const std::string status = Status(**found, context.now_ms);
    if (status == "used") return HttpFail(410, "link_used", "this link has been used already; ask your clinic for a new one");
    if (status == "revoked") return HttpFail(410, "link_revoked", "this link was withdrawn by your clinic");
    if (status == "expired") return HttpFail(410, "link_expired", "this link has expired; ask your clinic for a new one");
    return std::make_pair(**found, hash);
  };

  Add("GET", "/api/v1/self-report", Access::Invitation, [this, invitation_for](RequestContext& context) -> Outcome {
    auto invitation = invitation_for(context);
    if (!invitation) return tl::unexpected(invitation.error());
    auto event = context.Audit("read", fmt::format("patients/{}/invitations/{}", invitation->first.patient_id, invitation->first.id),
                               invitation->first.patient_id);
    event.actor = fmt::format("invitation:{}", invitation->first.id);
    if (auto recorded = audit_.Append(event); !recorded) return tl::unexpected(FromError(recorded.error()));
    auto form = SelfReportForm(invitation->first.instruments);
    if (form) form->body["expires_at_ms"] = invitation->first.expires_at_ms;
    return form;
  });

  const auto safety = [this](const std::vector<store::NewEntry>& entries) {
    // A positive suicide item (the KB's critical safety items) shows the crisis line at once.
    for (const store::NewEntry& entry : entries) {
      if (entry.section != "scales") continue;
      auto scale = FindScale(kb_, entry.body.value("scale", ""));
      if (!scale) continue;
      std::vector<std::optional<int>> items;
      for (const auto& item : entry.body["items"]) items.push_back(item.is_number_integer() ? std::optional<int>(item.get<int>()) : std::nullopt);
      const ScaleScore score = ScoreScale(*scale, items, std::nullopt, "");
      for (const SafetyItemResult& result : score.safety) {
        if (result.state == Truth::True && result.rule != nullptr && result.rule->severity == "critical") return true;
      }
    }
    return false;
  };

  Add("POST", "/api/v1/self-report", Access::Invitation, [this, invitation_for, safety](RequestContext& context) -> Outcome {
    auto invitation = invitation_for(context);
    if (!invitation) return tl::unexpected(invitation.error());
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    auto entries = SelfReportEntries(*body, invitation->first.instruments, options_.as_of.value_or(app::Today()));
    if (!entries) return tl::unexpected(entries.error());
    auto record = store_.GetRecord(invitation->first.patient_id);
    if (!record) return tl::unexpected(FromError(record.error()));
    if (auto checked = CheckWithNewEntries(PatientData{record->first, record->second}, *entries); !checked) {
      return tl::unexpected(checked.error());
    }
    auto added = store_.RedeemInvitation(invitation->second, context.now_ms, *entries, context.Audit("redeem", "", invitation->first.patient_id));
    if (!added) {
      if (added.error().code == ErrorCode::NotFound) return HttpFail(410, "link_used", added.error().message);
      return tl::unexpected(FromError(added.error()));
    }
    nlohmann::json out{{"saved", added->size()}};
    if (safety(*entries)) {
      auto form = SelfReportForm({});
      out["crisis"] = form ? form->body["crisis"] : nlohmann::json();
    }
    return Json(out, 201);
  });

  Add("GET", "/api/v1/me/self-report-form", Access::PatientUser,
      [this](RequestContext& /*context*/) -> Outcome { return SelfReportForm(PatientInstruments()); });

  Add("GET", "/api/v1/me/self-reports", Access::PatientUser, [this](RequestContext& context) -> Outcome {
    const std::int64_t patient_id = *context.principal->user.patient_id;
    auto record = store_.GetRecord(patient_id);
    if (!record) return tl::unexpected(FromError(record.error()));
    nlohmann::json items = nlohmann::json::array();
    for (const store::Entry& entry : record->second) {
      if (entry.source == store::EntrySource::SelfReport) items.push_back(EntryToJson(entry));
    }
    if (auto audited = AuditRead(context, patient_id, fmt::format("patients/{}/self-reports", patient_id)); !audited) {
      return tl::unexpected(audited.error());
    }
    return Json({{"items", items}});
  });

  Add("POST", "/api/v1/me/self-reports", Access::PatientUser, [this, safety](RequestContext& context) -> Outcome {
    const std::int64_t patient_id = *context.principal->user.patient_id;
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    auto entries = SelfReportEntries(*body, PatientInstruments(), options_.as_of.value_or(app::Today()));
    if (!entries) return tl::unexpected(entries.error());
    auto record = store_.GetRecord(patient_id);
    if (!record) return tl::unexpected(FromError(record.error()));
    if (auto checked = CheckWithNewEntries(PatientData{record->first, record->second}, *entries); !checked) {
      return tl::unexpected(checked.error());
    }
    auto added = store_.AddEntries(patient_id, *entries, context.principal->user.id,
                                   context.Audit("create", fmt::format("patients/{}/self-reports", patient_id), patient_id));
    if (!added) return tl::unexpected(FromError(added.error()));
    nlohmann::json out{{"saved", added->size()}};
    if (safety(*entries)) {
      auto form = SelfReportForm({});
      out["crisis"] = form ? form->body["crisis"] : nlohmann::json();
    }
    return Json(out, 201);
  });
}

}  // namespace refract::server
