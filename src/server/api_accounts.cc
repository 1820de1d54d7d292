// SPDX-License-Identifier: Apache-2.0
// Routes for accounts: first-run set-up, sign-in and sign-out, passwords, clinics, users, audit log.
#include <algorithm>
#include <charconv>
#include <cctype>

#include <fmt/format.h>

#include "internal.h"

namespace refract::server {
namespace {

constexpr std::size_t kMaxUsernameLength = 64;

tl::expected<std::string, HttpError> RequireString(const nlohmann::json& body, const char* key) {
  const auto found = body.find(key);
  if (found == body.end() || !found->is_string() || found->get<std::string>().empty()) {
    return HttpFail(422, "invalid_input", fmt::format("{} is required (a string)", key), fmt::format("body.{}", key));
  }
  return found->get<std::string>();
}

tl::expected<std::string, HttpError> RequireUsername(const nlohmann::json& body) {
  auto username = RequireString(body, "username");
  if (!username) return username;
  const bool valid = username->size() <= kMaxUsernameLength && std::all_of(username->begin(), username->end(), [](char character) {
                       return std::isalnum(static_cast<unsigned char>(character)) != 0 || character == '.' || character == '_' ||
                              character == '-' || character == '@';
                     });
  if (!valid) {
    return HttpFail(422, "invalid_input", fmt::format("a username has 1 to {} letters, digits and . _ - @", kMaxUsernameLength),
                    "body.username");
  }
  return username;
}

tl::expected<std::optional<std::int64_t>, HttpError> OptionalId(const nlohmann::json& body, const char* key) {
  const auto found = body.find(key);
  if (found == body.end() || found->is_null()) return std::optional<std::int64_t>();
  if (!found->is_number_integer() || found->get<std::int64_t>() <= 0) {
    return HttpFail(422, "invalid_input", fmt::format("{} is not a positive integer", key), fmt::format("body.{}", key));
  }
  return std::optional<std::int64_t>(found->get<std::int64_t>());
}

tl::expected<std::optional<std::int64_t>, HttpError> QueryId(const RequestContext& context, const std::string& name) {
  if (!context.HasQuery(name)) return std::optional<std::int64_t>();
  const std::string text = context.Query(name);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value <= 0) {
    return HttpFail(400, "invalid_parameter", fmt::format("{} is not a positive integer", name), fmt::format("query.{}", name));
  }
  return std::optional<std::int64_t>(value);
}

}  // namespace

Outcome ServerImpl::Login(RequestContext& context) {
  auto body = ParseBody(context);
  if (!body) return tl::unexpected(body.error());
  auto username = RequireString(*body, "username");
  if (!username) return tl::unexpected(username.error());
  auto password = RequireString(*body, "password");
  if (!password) return tl::unexpected(password.error());

  const std::string address_key = context.remote_addr;
  const std::string account_key = context.remote_addr + "\n" + *username;
  const std::int64_t wait = std::max(login_by_address_.RetryAfterSeconds(address_key, context.now_ms),
                                     login_by_account_.RetryAfterSeconds(account_key, context.now_ms));
  if (wait > 0) {
    auto event = context.Audit("login_blocked", "session", std::nullopt);
    event.outcome = "denied";
    if (auto recorded = audit_.Append(event); !recorded) return tl::unexpected(FromError(recorded.error()));
    HttpError error{429, "rate_limited", fmt::format("too many failed sign-ins; try again in {} seconds", wait), {}};
    error.retry_after_seconds = wait;
    return tl::unexpected(error);
  }

  auto user = store_.FindUserByName(*username);
  if (!user) return tl::unexpected(FromError(user.error()));
  bool valid = false;
  if (*user) {
    valid = VerifyPassword(*password, (*user)->password_hash) && !(*user)->disabled;
  } else {
    // Spend the same time as for a real account, so that timing does not tell which names exist.
    (void)VerifyPassword(*password, dummy_hash_);
  }
  if (!valid) {
    login_by_address_.RecordFailure(address_key, context.now_ms);
    login_by_account_.RecordFailure(account_key, context.now_ms);
    auto event = context.Audit("login_failed", "session", std::nullopt);
    if (*user) {
      event.actor_user_id = (*user)->id;
      event.actor = (*user)->username;
    }
    event.outcome = "denied";
    if (auto recorded = audit_.Append(event); !recorded) return tl::unexpected(FromError(recorded.error()));
    return HttpFail(401, "invalid_credentials", "wrong username or password");
  }
  login_by_account_.Reset(account_key);

  const std::string token = RandomToken();
  store::Session session;
  session.token_hash = TokenHash(token);
  session.user_id = (*user)->id;
  session.csrf_token = RandomToken();
  session.created_at_ms = context.now_ms;
  session.expires_at_ms = context.now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(options_.session_lifetime).count();
  if (auto expired = store_.DeleteExpiredSessions(context.now_ms); !expired) return tl::unexpected(FromError(expired.error()));
  if (auto created = store_.CreateSession(session); !created) return tl::unexpected(FromError(created.error()));
  context.principal = Principal{**user, session};
  if (auto recorded = audit_.Append(context.Audit("login", "session", std::nullopt)); !recorded) {
    return tl::unexpected(FromError(recorded.error()));
  }
  context.set_cookies.emplace_back("Set-Cookie", SessionCookie(token, options_.session_lifetime.count()));
  return Json({{"user", UserToJson(**user)}, {"csrf_token", session.csrf_token}, {"expires_at_ms", session.expires_at_ms}});
}

void ServerImpl::AddAccountRoutes() {
  Add("GET", "/api/v1/setup", Access::Public,
      [this](RequestContext& /*context*/) -> Outcome { return Json({{"required", !SetupToken().empty()}}); });

  Add("POST", "/api/v1/setup", Access::Public, [this](RequestContext& context) -> Outcome {
    const std::lock_guard lock(setup_mutex_);
    if (setup_token_.empty()) return HttpFail(409, "already_set_up", "the first administrator exists; sign in");
    if (const auto wait = token_by_address_.RetryAfterSeconds(context.remote_addr, context.now_ms); wait > 0) {
      HttpError error{429, "rate_limited", fmt::format("too many wrong set-up tokens; try again in {} seconds", wait), {}};
      error.retry_after_seconds = wait;
      return tl::unexpected(error);
    }
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    auto token = RequireString(*body, "token");
    if (!token) return tl::unexpected(token.error());
    if (!ConstantTimeEquals(*token, setup_token_)) {
      token_by_address_.RecordFailure(context.remote_addr, context.now_ms);
      return HttpFail(403, "invalid_token", "wrong set-up token (refract serve printed it when it started)", "body.token");
    }
    auto username = RequireUsername(*body);
    if (!username) return tl::unexpected(username.error());
    auto password = RequireString(*body, "password");
    if (!password) return tl::unexpected(password.error());
    if (auto policy = CheckPasswordPolicy(*password); !policy) return tl::unexpected(FromError(policy.error()));
    auto hash = HashPassword(*password, options_.password_cost);
    if (!hash) return tl::unexpected(FromError(hash.error()));
    auto event = context.Audit("create", "users", std::nullopt);
    event.actor = "setup";
    auto user = store_.CreateUser(store::NewUser{*username, *hash, store::Role::Admin, std::nullopt, std::nullopt}, event);
    if (!user) return tl::unexpected(FromError(user.error()));
    setup_token_.clear();
    return Json({{"user", UserToJson(*user)}}, 201);
  });

  Add("POST", "/api/v1/session", Access::Public, [this](RequestContext& context) { return Login(context); });

  Add("GET", "/api/v1/session", Access::AnyUser, [](RequestContext& context) -> Outcome {
    return Json({{"user", UserToJson(context.principal->user)},
                 {"csrf_token", context.principal->session.csrf_token},
                 {"expires_at_ms", context.principal->session.expires_at_ms}});
  });

  Add("DELETE", "/api/v1/session", Access::AnyUser, [this](RequestContext& context) -> Outcome {
    if (auto deleted = store_.DeleteSession(context.principal->session.token_hash); !deleted) return tl::unexpected(FromError(deleted.error()));
    if (auto recorded = audit_.Append(context.Audit("logout", "session", std::nullopt)); !recorded) {
      return tl::unexpected(FromError(recorded.error()));
    }
    context.set_cookies.emplace_back("Set-Cookie", SessionCookie("", 0));
    Reply reply;
    reply.status = 204;
    return reply;
  });

  Add("PUT", "/api/v1/session/password", Access::AnyUser, [this](RequestContext& context) -> Outcome {
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    auto current = RequireString(*body, "current_password");
    if (!current) return tl::unexpected(current.error());
    auto next = RequireString(*body, "new_password");
    if (!next) return tl::unexpected(next.error());
    if (!VerifyPassword(*current, context.principal->user.password_hash)) {
      return HttpFail(403, "invalid_credentials", "the current password is wrong", "body.current_password");
    }
    if (auto policy = CheckPasswordPolicy(*next); !policy) {
      return HttpFail(422, "invalid_input", policy.error().message, "body.new_password");
    }
    auto hash = HashPassword(*next, options_.password_cost);
    if (!hash) return tl::unexpected(FromError(hash.error()));
    const auto& user = context.principal->user;
    if (auto set = store_.SetPassword(user.id, *hash, context.Audit("update", fmt::format("users/{}/password", user.id), std::nullopt)); !set) {
      return tl::unexpected(FromError(set.error()));
    }
    // Every session of the user ended with the old password, this one included.
    context.set_cookies.emplace_back("Set-Cookie", SessionCookie("", 0));
    return Json({{"signed_out", true}});
  });

  Add("GET", "/api/v1/clinics", Access::Admin, [this](RequestContext& /*context*/) -> Outcome {
    auto clinics = store_.ListClinics();
    if (!clinics) return tl::unexpected(FromError(clinics.error()));
    nlohmann::json items = nlohmann::json::array();
    for (const store::Clinic& clinic : *clinics) items.push_back({{"id", clinic.id}, {"name", clinic.name}, {"created_at_ms", clinic.created_at_ms}});
    return Json({{"items", items}});
  });

  Add("POST", "/api/v1/clinics", Access::Admin, [this](RequestContext& context) -> Outcome {
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    auto name = RequireString(*body, "name");
    if (!name) return tl::unexpected(name.error());
    auto clinic = store_.CreateClinic(*name, context.Audit("create", "clinics", std::nullopt));
    if (!clinic) return tl::unexpected(FromError(clinic.error()));
    return Json({{"id", clinic->id}, {"name", clinic->name}, {"created_at_ms", clinic->created_at_ms}}, 201);
  });

  Add("GET", "/api/v1/users", Access::Admin, [this](RequestContext& /*context*/) -> Outcome {
    auto users = store_.ListUsers();
    if (!users) return tl::unexpected(FromError(users.error()));
    nlohmann::json items = nlohmann::json::array();
    for (const store::User& user : *users) items.push_back(UserToJson(user));
    return Json({{"items", items}});
  });

  Add("POST", "/api/v1/users", Access::Admin, [this](RequestContext& context) -> Outcome {
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    auto username = RequireUsername(*body);
    if (!username) return tl::unexpected(username.error());
    auto role_name = RequireString(*body, "role");
    if (!role_name) return tl::unexpected(role_name.error());
    const auto role = store::ParseRole(*role_name);
    if (!role) return HttpFail(422, "invalid_input", "role is admin, clinician or patient", "body.role");
    auto clinic_id = OptionalId(*body, "clinic_id");
    if (!clinic_id) return tl::unexpected(clinic_id.error());
    auto patient_id = OptionalId(*body, "patient_id");
    if (!patient_id) return tl::unexpected(patient_id.error());
    store::NewUser user{*username, "", *role, std::nullopt, std::nullopt};
    if (*role == store::Role::Clinician) {
      if (!*clinic_id) return HttpFail(422, "invalid_input", "a clinician needs a clinic_id", "body.clinic_id");
      auto clinics = store_.ListClinics();
      if (!clinics) return tl::unexpected(FromError(clinics.error()));
      if (std::none_of(clinics->begin(), clinics->end(), [&](const store::Clinic& clinic) { return clinic.id == **clinic_id; })) {
        return HttpFail(422, "invalid_input", fmt::format("no clinic {}", **clinic_id), "body.clinic_id");
      }
      user.clinic_id = *clinic_id;
    }
    if (*role == store::Role::Patient) {
      if (!*patient_id) return HttpFail(422, "invalid_input", "a patient account needs a patient_id", "body.patient_id");
      auto patient = store_.GetPatient(**patient_id);
      if (!patient) return HttpFail(422, "invalid_input", fmt::format("no patient {}", **patient_id), "body.patient_id");
      user.patient_id = patient->id;
      user.clinic_id = patient->clinic_id;
    }
    std::string password;
    if (body->contains("password")) {
      auto given = RequireString(*body, "password");
      if (!given) return tl::unexpected(given.error());
      if (auto policy = CheckPasswordPolicy(*given); !policy) return tl::unexpected(FromError(policy.error()));
      password = *given;
    }
    const bool generated = password.empty();
    if (generated) password = RandomPassword();
    auto hash = HashPassword(password, options_.password_cost);
    if (!hash) return tl::unexpected(FromError(hash.error()));
    user.password_hash = *hash;
    auto created = store_.CreateUser(user, context.Audit("create", "users", user.patient_id));
    if (!created) return tl::unexpected(FromError(created.error()));
    nlohmann::json out{{"user", UserToJson(*created)}};
    // A generated password is shown once, here, and never stored in clear.
    if (generated) out["password"] = password;
    return Json(out, 201);
  });

  Add("PATCH", "/api/v1/users/{user_id}", Access::Admin, [this](RequestContext& context) -> Outcome {
    auto user_id = PathId(context, "user_id");
    if (!user_id) return tl::unexpected(user_id.error());
    auto body = ParseBody(context);
    if (!body) return tl::unexpected(body.error());
    auto user = store_.GetUser(*user_id);
    if (!user) return tl::unexpected(FromError(user.error()));
    nlohmann::json out;
    if (body->contains("disabled")) {
      if (!(*body)["disabled"].is_boolean()) return HttpFail(422, "invalid_input", "disabled is true or false", "body.disabled");
      const bool disabled = (*body)["disabled"].get<bool>();
      if (disabled && *user_id == context.principal->user.id) return HttpFail(422, "invalid_input", "you cannot disable yourself", "body.disabled");
      auto set = store_.SetUserDisabled(*user_id, disabled, context.Audit(disabled ? "disable" : "enable", fmt::format("users/{}", *user_id), std::nullopt));
      if (!set) return tl::unexpected(FromError(set.error()));
    }
    if (body->value("reset_password", false)) {
      const std::string password = RandomPassword();
      auto hash = HashPassword(password, options_.password_cost);
      if (!hash) return tl::unexpected(FromError(hash.error()));
      auto set = store_.SetPassword(*user_id, *hash, context.Audit("reset_password", fmt::format("users/{}", *user_id), std::nullopt));
      if (!set) return tl::unexpected(FromError(set.error()));
      out["password"] = password;
    }
    auto updated = store_.GetUser(*user_id);
    if (!updated) return tl::unexpected(FromError(updated.error()));
    out["user"] = UserToJson(*updated);
    return Json(out);
  });

  Add("GET", "/api/v1/audit", Access::Admin, [this](RequestContext& context) -> Outcome {
    store::AuditFilter filter;
    auto patient_id = QueryId(context, "patient_id");
    if (!patient_id) return tl::unexpected(patient_id.error());
    auto user_id = QueryId(context, "user_id");
    if (!user_id) return tl::unexpected(user_id.error());
    auto before = QueryId(context, "before");
    if (!before) return tl::unexpected(before.error());
    auto limit = QueryId(context, "limit");
    if (!limit) return tl::unexpected(limit.error());
    filter.patient_id = *patient_id;
    filter.user_id = *user_id;
    filter.before_id = *before;
    filter.limit = static_cast<int>(std::min<std::int64_t>(limit->value_or(100), 500));
    auto page = store_.ListAudit(filter);
    if (!page) return tl::unexpected(FromError(page.error()));
    nlohmann::json items = nlohmann::json::array();
    for (const store::AuditEvent& event : page->items) {
      nlohmann::json item{{"id", event.id},           {"at_ms", event.at_ms},           {"actor", event.actor},
                          {"action", event.action},   {"resource", event.resource},     {"remote_addr", event.remote_addr},
                          {"outcome", event.outcome}};
      item["actor_user_id"] = event.actor_user_id ? nlohmann::json(*event.actor_user_id) : nlohmann::json();
      item["patient_id"] = event.patient_id ? nlohmann::json(*event.patient_id) : nlohmann::json();
      items.push_back(std::move(item));
    }
    nlohmann::json out{{"items", items}};
    out["next_before"] = page->next_after ? nlohmann::json(*page->next_after) : nlohmann::json();
    return Json(out);
  });
}

}  // namespace refract::server
