// SPDX-License-Identifier: Apache-2.0
// The server's infrastructure: binding (HTTP or HTTPS), the route table and dispatch, sessions,
// CSRF, security headers, error replies, the web app's files, and the access log.
#include "refract/server/server.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "internal.h"
#include "refract/app/app.h"

namespace refract::server {
namespace detail {
/// The built web app (webapp/, built by Vite), as (path, contents).
const std::vector<std::pair<std::string_view, std::string_view>>& WebAppFiles();
}  // namespace detail

namespace {

constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
    "manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t position = 0;
  while (position <= path.size()) {
    std::size_t slash = path.find('/', position);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > position) segments.emplace_back(path.substr(position, slash - position));
    position = slash + 1;
  }
  return segments;
}

bool IsUnsafeMethod(std::string_view method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

std::string CookieValue(const httplib::Request& http, std::string_view name) {
  const std::string header = http.get_header_value("Cookie");
  std::size_t position = 0;
  while (position < header.size()) {
    std::size_t end = header.find(';', position);
    if (end == std::string::npos) end = header.size();
    std::string_view pair(header.data() + position, end - position);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name) return std::string(pair.substr(equals + 1));
    position = end + 1;
  }
  return {};
}

nlohmann::json ErrorBody(const HttpError& error) {
  nlohmann::json body{{"code", error.code}, {"message", error.message}};
  if (!error.location.empty()) body["location"] = error.location;
  return nlohmann::json{{"error", body}};
}

void SetSecurityHeaders(httplib::Response& response, bool secure) {
  response.set_header("Content-Security-Policy", kContentSecurityPolicy);
  response.set_header("X-Content-Type-Options", "nosniff");
  response.set_header("X-Frame-Options", "DENY");
  response.set_header("Referrer-Policy", "no-referrer");
  response.set_header("Cross-Origin-Opener-Policy", "same-origin");
  response.set_header("Cross-Origin-Resource-Policy", "same-origin");
  response.set_header("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()");
  if (secure) response.set_header("Strict-Transport-Security", "max-age=31536000");
}

}  // namespace

HttpError FromError(const Error& error) {
  switch (error.code) {
    case ErrorCode::InvalidInput: return HttpError{422, "invalid_input", error.message, error.location};
    case ErrorCode::NotFound: return HttpError{404, "not_found", error.message, error.location};
    case ErrorCode::Storage:
      spdlog::error("storage error: {}", error.message);
      return HttpError{500, "storage", "the database did not answer as expected; the error is logged", {}};
    case ErrorCode::KbSchema:
    case ErrorCode::KbReference:
    case ErrorCode::Io:
    case ErrorCode::Internal: break;
  }
  spdlog::error("internal error: {}", error.message);
  return HttpError{500, "internal", "internal error; the error is logged", {}};
}

std::string ContentTypeFor(std::string_view path) {
  const auto ends = [&](std::string_view suffix) { return path.ends_with(suffix); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json") || ends(".map")) return "application/json";
  if (ends(".webmanifest")) return "application/manifest+json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".woff2")) return "font/woff2";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::string RequestContext::Query(const std::string& name) const { return http->get_param_value(name); }
bool RequestContext::HasQuery(const std::string& name) const { return http->has_param(name); }
std::string RequestContext::Header(const std::string& name) const { return http->get_header_value(name); }
const std::string& RequestContext::Body() const { return http->body; }

store::AuditEvent RequestContext::Audit(std::string action, std::string resource, std::optional<std::int64_t> patient_id) const {
  store::AuditEvent event;
  event.at_ms = now_ms;
  if (principal) {
    event.actor_user_id = principal->user.id;
    event.actor = principal->user.username;
  } else {
    event.actor = "anonymous";
  }
  event.action = std::move(action);
  event.resource = std::move(resource);
  event.patient_id = patient_id;
  event.remote_addr = remote_addr;
  return event;
}

ServerImpl::ServerImpl(store::Store& store, const KnowledgeBase& kb, ServerOptions options)
    : store_(store),
      kb_(kb),
      options_(std::move(options)),
      records_(kb, options_.locale),
      audit_(store),
      login_by_address_(30, std::chrono::minutes(15)),
      login_by_account_(5, std::chrono::minutes(15)),
      token_by_address_(20, std::chrono::minutes(15)) {
  auto interactions = LoadInteractionKnowledge(kb_);
  if (interactions) {
    interactions_.emplace(std::move(*interactions));
  } else {
    interactions_error_ = interactions.error().message;
  }
  AddMetaRoutes();
  AddAccountRoutes();
  AddPatientRoutes();
  AddSelfReportRoutes();
  AddFhirRoutes();
}

ServerImpl::~ServerImpl() { Stop(); }

void ServerImpl::Add(std::string method, std::string path, Access access, Handler handler) {
  Route route;
  route.segments = SplitPath(path);
  route.method = std::move(method);
  route.path = std::move(path);
  route.access = access;
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
}

bool ServerImpl::SecureCookies() const { return options_.behind_https_proxy || !options_.tls_cert_file.empty(); }

std::string ServerImpl::SessionCookie(const std::string& value, std::int64_t max_age_seconds) const {
  // The __Host- prefix makes the browser insist on Secure, Path=/ and no Domain.
  const std::string name = SecureCookies() ? "__Host-refract_session" : "refract_session";
  return fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", name, value, max_age_seconds,
                     SecureCookies() ? "; Secure" : "");
}

std::string ServerImpl::ClientAddress(const httplib::Request& http) const {
  if (options_.trust_forwarded_for) {
    const std::string forwarded = http.get_header_value("X-Forwarded-For");
    if (!forwarded.empty()) {
      const std::size_t comma = forwarded.rfind(',');
      std::string last = comma == std::string::npos ? forwarded : forwarded.substr(comma + 1);
      last.erase(0, last.find_first_not_of(' '));
      if (!last.empty()) return last;
    }
  }
  return http.remote_addr;
}

std::string ServerImpl::url() const {
  const bool tls = !options_.tls_cert_file.empty();
  const std::string host = options_.host == "0.0.0.0" ? "127.0.0.1" : options_.host;
  return fmt::format("{}://{}:{}", tls ? "https" : "http", host, port_);
}

std::string ServerImpl::SetupToken() const {
  const std::lock_guard lock(setup_mutex_);
  return setup_token_;
}

Result<bool> ServerImpl::Bind() {
  if (!options_.web_root.empty()) {
    std::error_code error;
    for (const auto& file : std::filesystem::recursive_directory_iterator(options_.web_root, error)) {
      if (!file.is_regular_file()) continue;
      auto text = app::ReadFile(file.path());
      if (!text) return tl::unexpected(text.error());
      assets_[std::filesystem::relative(file.path(), options_.web_root).generic_string()] = std::move(*text);
    }
    if (error) return Fail(ErrorCode::Io, fmt::format("cannot read the web root: {}", error.message()), options_.web_root);
  } else {
    for (const auto& [path, content] : detail::WebAppFiles()) assets_[std::string(path)] = std::string(content);
  }

  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
      return Fail(ErrorCode::InvalidInput, "TLS needs both a certificate and a private key", "--tls-cert");
    }
    auto tls = std::make_unique<httplib::SSLServer>(options_.tls_cert_file.c_str(), options_.tls_key_file.c_str());
    if (!tls->is_valid()) return Fail(ErrorCode::Io, "cannot load the TLS certificate or key", options_.tls_cert_file);
    http_ = std::move(tls);
  } else {
    http_ = std::make_unique<httplib::Server>();
  }
  const std::size_t threads = static_cast<std::size_t>(std::max(1, options_.threads));
  // httplib takes ownership of the queue it is given.
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Answers go out as soon as they are written: without TCP_NODELAY, Nagle's algorithm and the
  // client's delayed ACK hold a multi-segment answer for about 40 ms on a keep-alive connection.
  http_->set_tcp_nodelay(true);
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_read_timeout(std::chrono::seconds(10));
  http_->set_write_timeout(std::chrono::seconds(10));
  http_->set_keep_alive_max_count(1000);
  http_->set_keep_alive_timeout(5);
  if (options_.mount) options_.mount(*http_);
  // Every other request goes to Dispatch, which routes with the table of Add() (404 and 405 included).
  const auto dispatch = [this](const httplib::Request& http, httplib::Response& response) { Dispatch(http, response); };
  const std::string every_path = "/.*";
  http_->Get(every_path, dispatch);
  http_->Post(every_path, dispatch);
  http_->Put(every_path, dispatch);
  http_->Patch(every_path, dispatch);
  http_->Delete(every_path, dispatch);
  http_->Options(every_path, dispatch);
  // Errors httplib answers itself (413 payload too large, 400 malformed request): JSON with headers.
  http_->set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& /*http*/, httplib::Response& response) {
    if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    SetSecurityHeaders(response, SecureCookies());
    const std::string code = response.status == 413 ? "payload_too_large" : response.status == 404 ? "not_found" : "bad_request";
    const std::string message = response.status == 413 ? fmt::format("the request body is larger than {} bytes", options_.max_body_bytes)
                                                       : "the request could not be read";
    response.set_content(ErrorBody(HttpError{response.status, code, message, {}}).dump(), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_->set_exception_handler([](const httplib::Request& /*http*/, httplib::Response& response, std::exception_ptr /*error*/) {
    response.status = 500;
    response.set_content(ErrorBody(HttpError{500, "internal", "internal error; the error is logged", {}}).dump(), "application/json");
  });

  auto dummy = HashPassword(RandomToken(), options_.password_cost);
  if (!dummy) return tl::unexpected(dummy.error());
  dummy_hash_ = std::move(*dummy);

  auto users = store_.CountUsers();
  if (!users) return tl::unexpected(users.error());
  if (*users == 0) {
    const std::lock_guard lock(setup_mutex_);
    setup_token_ = RandomToken(24);
  }

  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
    if (port_ <= 0) return Fail(ErrorCode::Io, fmt::format("cannot listen on {}", options_.host), "--listen");
  } else {
    if (!http_->bind_to_port(options_.host, options_.port)) {
      return Fail(ErrorCode::Io, fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)", options_.host, options_.port),
                  "--listen");
    }
    port_ = options_.port;
  }
  return true;
}

void ServerImpl::Run() { http_->listen_after_bind(); }

void ServerImpl::Start() {
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  while (!http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void ServerImpl::Stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

void ServerImpl::Dispatch(const httplib::Request& http, httplib::Response& response) {
  const auto started = std::chrono::steady_clock::now();
  SetSecurityHeaders(response, SecureCookies());
  std::string route_name = "static";
  if (!http.path.starts_with("/api/")) {
    ServeStatic(http, response);
  } else {
    RequestContext context;
    context.http = &http;
    context.method = http.method;
    context.remote_addr = ClientAddress(http);
    context.now_ms = NowMs();
    Outcome outcome = HttpFail(500, "internal", "internal error; the error is logged");
    try {
      outcome = Handle(http, context);
    } catch (const std::exception& error) {
      // Last resort: the message names the failing operation, never request or record content.
      spdlog::error("unhandled exception in {} {}: {}", http.method, context.route.empty() ? "(no route)" : context.route, error.what());
      outcome = HttpFail(500, "internal", "internal error; the error is logged");
    }
    route_name = context.route.empty() ? "(unrouted)" : context.route;
    response.set_header("Cache-Control", "no-store");
    for (const auto& [name, value] : context.set_cookies) response.set_header(name, value);
    if (outcome) {
      response.status = outcome->status;
      for (const auto& [name, value] : outcome->headers) {
        // A route's own header (the report's Content-Security-Policy) replaces the default one.
        response.headers.erase(name);
        response.set_header(name, value);
      }
      if (!outcome->content_type.empty()) {
        response.set_content(outcome->text, outcome->content_type);
      } else if (outcome->status != 204) {
        response.set_content(outcome->body.dump(), "application/json");
      }
    } else {
      response.status = outcome.error().status;
      if (outcome.error().retry_after_seconds > 0) response.set_header("Retry-After", std::to_string(outcome.error().retry_after_seconds));
      response.set_content(ErrorBody(outcome.error()).dump(), "application/json");
    }
  }
  if (options_.access_log) {
    const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("{} {} {} {:.1f}ms", http.method, route_name, response.status, elapsed);
  }
}

Outcome ServerImpl::Handle(const httplib::Request& http, RequestContext& context) {
  const std::vector<std::string> segments = SplitPath(http.path);
  const Route* best = nullptr;
  int best_literals = -1;
  bool path_known = false;
  std::map<std::string, std::string, std::less<>> best_params;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string, std::less<>> params;
    int literals = 0;
    bool matches = true;
    for (std::size_t segment_idx = 0; segment_idx < segments.size() && matches; ++segment_idx) {
      const std::string& pattern = route.segments[segment_idx];
      if (pattern.size() > 2 && pattern.front() == '{' && pattern.back() == '}') {
        params[pattern.substr(1, pattern.size() - 2)] = segments[segment_idx];
      } else if (pattern == segments[segment_idx]) {
        ++literals;
      } else {
        matches = false;
      }
    }
    if (!matches) continue;
    path_known = true;
    // The most literal route wins: /patients/{id}/assessment before /patients/{id}/{section}.
    if (route.method == http.method && literals > best_literals) {
      best = &route;
      best_literals = literals;
      best_params = std::move(params);
    }
  }
  if (best == nullptr) {
    if (path_known) return HttpFail(405, "method_not_allowed", fmt::format("{} is not allowed here", http.method));
    return HttpFail(404, "not_found", "no such endpoint");
  }
  context.route = best->path;
  context.path = std::move(best_params);
  if (auto denied = Authenticate(context, best->access)) return tl::unexpected(*denied);
  if (IsUnsafeMethod(http.method)) {
    if (auto refused = CheckCsrf(context)) return tl::unexpected(*refused);
    // FHIR routes also take FHIR's own media type; like application/json, a cross-site form cannot send it.
    const std::string content_type = http.get_header_value("Content-Type");
    const bool fhir_body = best->path.find("/fhir") != std::string::npos && content_type.starts_with("application/fhir+json");
    if (!http.body.empty() && !content_type.starts_with("application/json") && !fhir_body) {
      return HttpFail(415, "unsupported_media_type", "send the body as application/json");
    }
  }
  return best->handler(context);
}

std::optional<HttpError> ServerImpl::Authenticate(RequestContext& context, Access access) {
  if (access == Access::Public || access == Access::Invitation) return std::nullopt;
  const std::string token = CookieValue(*context.http, SecureCookies() ? "__Host-refract_session" : "refract_session");
  if (token.empty()) return HttpError{401, "unauthenticated", "sign in first", {}};
  auto found = store_.FindSession(TokenHash(token), context.now_ms);
  if (!found) return FromError(found.error());
  if (!*found) return HttpError{401, "unauthenticated", "the session has ended; sign in again", {}};
  context.principal = Principal{(*found)->second, (*found)->first};
  const store::Role role = context.principal->user.role;
  const bool allowed = access == Access::AnyUser || (access == Access::Admin && role == store::Role::Admin) ||
                       (access == Access::Clinician && role == store::Role::Clinician) ||
                       (access == Access::PatientUser && role == store::Role::Patient);
  if (allowed) return std::nullopt;
  const std::string needed = access == Access::Admin ? "admin" : access == Access::Clinician ? "clinician" : "patient";
  // A refused attempt at patient data is audited like an access.
  if (context.route.find("{patient_id}") != std::string::npos) {
    std::optional<std::int64_t> patient_id;
    const auto id = context.path.find("patient_id");
    if (id != context.path.end()) {
      try {
        patient_id = std::stoll(id->second);
      } catch (const std::exception&) {
        patient_id.reset();
      }
    }
    // The resource as requested (ids only): "patients/12/assessment".
    auto event = context.Audit("denied", context.http->path.substr(std::string_view("/api/v1/").size()), patient_id);
    event.outcome = "denied";
    if (auto recorded = audit_.Append(event); !recorded) return FromError(recorded.error());
  }
  return HttpError{403, "forbidden", fmt::format("this needs the {} role", needed), {}};
}

std::optional<HttpError> ServerImpl::CheckCsrf(const RequestContext& context) const {
  const std::string origin = context.Header("Origin");
  if (!origin.empty()) {
    const bool secure = SecureCookies();
    const std::string expected = fmt::format("{}://{}", secure ? "https" : "http", context.Header("Host"));
    if (origin != expected) return HttpError{403, "csrf_failed", "the request comes from another site", {}};
  }
  // Without a session (sign-in, set-up, self-report links) there is no ambient authority to abuse.
  if (!context.principal) return std::nullopt;
  const std::string token = context.Header("X-CSRF-Token");
  if (token.empty() || !ConstantTimeEquals(token, context.principal->session.csrf_token)) {
    return HttpError{403, "csrf_failed", "the X-CSRF-Token header is missing or wrong; reload the page", {}};
  }
  return std::nullopt;
}

void ServerImpl::ServeStatic(const httplib::Request& http, httplib::Response& response) {
  if (http.method != "GET" && http.method != "HEAD") {
    response.status = 405;
    response.set_content("method not allowed\n", "text/plain; charset=utf-8");
    return;
  }
  std::string path = http.path == "/" ? "index.html" : http.path == "/r" ? "self-report.html" : http.path.substr(1);
  const auto found = assets_.find(path);
  if (found == assets_.end() || path.find("..") != std::string::npos) {
    response.status = 404;
    response.set_content("not found\n", "text/plain; charset=utf-8");
    return;
  }
  // Hashed bundle names never change content; pages are revalidated.
  response.set_header("Cache-Control", path.starts_with("assets/") ? "public, max-age=31536000, immutable" : "no-cache");
  response.status = 200;
  response.set_content(found->second, ContentTypeFor(path));
}

tl::expected<nlohmann::json, HttpError> ServerImpl::ParseBody(const RequestContext& context) const {
  if (context.Body().empty()) return HttpFail(400, "invalid_json", "the request needs a JSON body", "body");
  auto parsed = app::ParseJsonText(context.Body(), "body");
  if (!parsed) return HttpFail(400, "invalid_json", parsed.error().message, parsed.error().location);
  if (!parsed->is_object()) return HttpFail(400, "invalid_json", "the body is not a JSON object", "body");
  return std::move(*parsed);
}

tl::expected<std::int64_t, HttpError> ServerImpl::PathId(const RequestContext& context, const std::string& name) const {
  const auto found = context.path.find(name);
  const std::string text = found == context.path.end() ? std::string() : found->second;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value <= 0) {
    return HttpFail(404, "not_found", fmt::format("no such {}", name.substr(0, name.size() - 3)));
  }
  return value;
}

tl::expected<bool, HttpError> ServerImpl::AuditRead(const RequestContext& context, std::int64_t patient_id, const std::string& resource) {
  auto recorded = audit_.Append(context.Audit("read", resource, patient_id));
  if (!recorded) return tl::unexpected(FromError(recorded.error()));
  return true;
}

tl::expected<PatientData, HttpError> ServerImpl::LoadPatient(RequestContext& context, bool with_entries) {
  auto patient_id = PathId(context, "patient_id");
  if (!patient_id) return tl::unexpected(patient_id.error());
  const auto not_found = [&]() -> tl::expected<PatientData, HttpError> {
    auto event = context.Audit("denied", fmt::format("patients/{}", *patient_id), *patient_id);
    event.outcome = "not_found";
    if (auto recorded = audit_.Append(event); !recorded) return tl::unexpected(FromError(recorded.error()));
    return HttpFail(404, "not_found", fmt::format("no patient {} in your clinic", *patient_id));
  };
  PatientData data;
  if (with_entries) {
    auto record = store_.GetRecord(*patient_id);
    if (!record) return record.error().code == ErrorCode::NotFound ? not_found() : tl::unexpected(FromError(record.error()));
    data.patient = std::move(record->first);
    data.entries = std::move(record->second);
  } else {
    auto patient = store_.GetPatient(*patient_id);
    if (!patient) return patient.error().code == ErrorCode::NotFound ? not_found() : tl::unexpected(FromError(patient.error()));
    data.patient = std::move(*patient);
  }
  // Clinic scoping: a patient of another clinic does not exist for this user.
  if (!context.principal || !context.principal->user.clinic_id || *context.principal->user.clinic_id != data.patient.clinic_id) {
    return not_found();
  }
  return data;
}

tl::expected<Date, HttpError> ServerImpl::AsOf(const RequestContext& context) const {
  if (context.HasQuery("as_of")) {
    const auto parsed = ParseDate(context.Query("as_of"));
    if (!parsed) return HttpFail(400, "invalid_parameter", "as_of is not a date (YYYY-MM-DD)", "query.as_of");
    return *parsed;
  }
  if (options_.as_of) return *options_.as_of;
  return app::Today();
}

tl::expected<EvaluatedRecord, HttpError> ServerImpl::EvaluateStored(const RequestContext& context, const PatientData& data, Date as_of) const {
  auto parsed = app::Parser().Parse(kb_, Records::Assemble(data), "record");
  if (!parsed) return tl::unexpected(FromError(parsed.error()));
  EvaluateOptions options;
  options.as_of = as_of;
  options.criteria_id = context.Query("criteria");
  options.locale = options_.locale;
  auto assessment = Evaluate(kb_, *parsed, options);
  if (!assessment) return HttpFail(400, "invalid_parameter", assessment.error().message, "query.criteria");
  return EvaluatedRecord{std::move(*parsed), std::move(*assessment)};
}

std::string ServerImpl::SelfReportUrl(const RequestContext& context, const std::string& token) const {
  std::string base = options_.public_url;
  if (base.empty()) base = fmt::format("{}://{}", SecureCookies() ? "https" : "http", context.Header("Host"));
  while (!base.empty() && base.back() == '/') base.pop_back();
  // The token travels in the fragment: browsers never send it to a server, so no log sees it.
  return fmt::format("{}/r#{}", base, token);
}

nlohmann::json UserToJson(const store::User& user) {
  nlohmann::json out{{"id", user.id},
                     {"username", user.username},
                     {"role", std::string(store::RoleName(user.role))},
                     {"disabled", user.disabled},
                     {"created_at_ms", user.created_at_ms}};
  out["clinic_id"] = user.clinic_id ? nlohmann::json(*user.clinic_id) : nlohmann::json();
  out["patient_id"] = user.patient_id ? nlohmann::json(*user.patient_id) : nlohmann::json();
  return out;
}

nlohmann::json EntryToJson(const store::Entry& entry) {
  nlohmann::json out{{"id", entry.id},
                     {"section", SectionPathName(entry.section)},
                     {"source", std::string(store::EntrySourceName(entry.source))},
                     {"created_at_ms", entry.created_at_ms},
                     {"updated_at_ms", entry.updated_at_ms},
                     {"body", entry.body}};
  out["created_by"] = entry.created_by ? nlohmann::json(*entry.created_by) : nlohmann::json();
  return out;
}

std::optional<std::string> SectionFromPath(std::string_view name) {
  if (name == "scores") return "scales";
  std::string section(name);
  std::replace(section.begin(), section.end(), '-', '_');
  if (section == "scales" || !store::IsSection(section)) return std::nullopt;
  return section;
}

std::string SectionPathName(std::string_view section) {
  if (section == "scales") return "scores";
  std::string name(section);
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

Server::Server(std::unique_ptr<ServerImpl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Create(store::Store& store, const KnowledgeBase& kb, ServerOptions options) {
  auto impl = std::make_unique<ServerImpl>(store, kb, std::move(options));
  auto bound = impl->Bind();
  if (!bound) return tl::unexpected(bound.error());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port(); }
std::vector<std::string> Server::Routes() const {
  std::vector<std::string> routes;
  for (const Route& route : impl_->routes()) routes.push_back(route.method + " " + route.path);
  return routes;
}
std::string Server::url() const { return impl_->url(); }
std::string Server::SetupToken() const { return impl_->SetupToken(); }
void Server::Run() { impl_->Run(); }
void Server::Start() { impl_->Start(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace refract::server
