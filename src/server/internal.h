// SPDX-License-Identifier: Apache-2.0
/// Inside the clinic server: the request context, the route table, error replies, and ServerImpl,
/// whose handler groups live in api_*.cc.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "audit_writer.h"
#include "records.h"
#include "refract/core/interactions.h"
#include "refract/server/server.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace refract::fhir {
class FhirKnowledge;
}  // namespace refract::fhir

namespace refract::server {

/// An HTTP error answer: status, stable code, message, location ("body.items[3]", "query.limit").
struct HttpError {
  int status = 500;
  std::string code;
  std::string message;
  std::string location;
  std::int64_t retry_after_seconds = 0;  ///< Sent as Retry-After (rate limits).
};

[[nodiscard]] inline tl::unexpected<HttpError> HttpFail(int status, std::string code, std::string message, std::string location = {}) {
  return tl::unexpected<HttpError>(HttpError{status, std::move(code), std::move(message), std::move(location)});
}

/// The one ErrorCode mapping of the server: InvalidInput 422, NotFound 404, the rest 500.
[[nodiscard]] HttpError FromError(const Error& error);

/// A successful answer: JSON `body`, or `text` with its `content_type`.
struct Reply {
  int status = 200;
  nlohmann::json body;
  std::string content_type;
  std::string text;
  std::vector<std::pair<std::string, std::string>> headers;
};
using Outcome = tl::expected<Reply, HttpError>;

[[nodiscard]] inline Outcome Json(nlohmann::json body, int status = 200) {
  Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

/// A FHIR Bundle read into a record that the engine can assess, with the import report.
struct FhirImported {
  nlohmann::json record;  ///< refract.patient/v1
  nlohmann::json report;  ///< refract.fhir-import-report/v1
  PatientRecord patient;
};

/// A FHIR Bundle imported for storing: the import, and its record split into profile and entries.
struct FhirImportedForStore {
  FhirImported imported;
  SplitRecord split;
};

/// A stored record as the engine read it, and its assessment.
struct EvaluatedRecord {
  PatientRecord patient;
  Assessment assessment;
};

/// Who may call a route.
enum class Access {
  Public,      ///< Anyone (health, OpenAPI, login, first-run set-up).
  Invitation,  ///< A self-report link's token (Authorization: Invitation TOKEN).
  AnyUser,     ///< Any signed-in user.
  Admin,
  Clinician,
  PatientUser,
};

/// The signed-in user of a request and their session.
struct Principal {
  store::User user;
  store::Session session;
};

/// One request as the handlers see it.
struct RequestContext {
  const httplib::Request* http = nullptr;
  std::string method;
  std::string route;  ///< The route template, e.g. "/api/v1/patients/{patient_id}".
  std::map<std::string, std::string, std::less<>> path;
  std::optional<Principal> principal;
  std::string remote_addr;
  std::int64_t now_ms = 0;
  std::vector<std::pair<std::string, std::string>> set_cookies;  ///< Set by login and logout.

  [[nodiscard]] std::string Query(const std::string& name) const;
  [[nodiscard]] bool HasQuery(const std::string& name) const;
  [[nodiscard]] std::string Header(const std::string& name) const;
  [[nodiscard]] const std::string& Body() const;
  /// The signed-in user's audit identity.
  [[nodiscard]] store::AuditEvent Audit(std::string action, std::string resource, std::optional<std::int64_t> patient_id) const;
};

using Handler = std::function<Outcome(RequestContext&)>;

struct Route {
  std::string method;
  std::string path;
  Access access = Access::Public;
  Handler handler;
  std::vector<std::string> segments;
};

class ServerImpl {
 public:
  ServerImpl(store::Store& store, const KnowledgeBase& kb, ServerOptions options);
  ~ServerImpl();

  [[nodiscard]] Result<bool> Bind();
  void Run();
  void Start();
  void Stop();
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const;
  [[nodiscard]] std::string SetupToken() const;
  /// Every route, in registration order (the OpenAPI test compares them with the document).
  [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }

 private:
  friend class Server;

  // Infrastructure (server.cc).
  void Add(std::string method, std::string path, Access access, Handler handler);
  void Dispatch(const httplib::Request& http, httplib::Response& response);
  Outcome Handle(const httplib::Request& http, RequestContext& context);
  [[nodiscard]] std::optional<HttpError> Authenticate(RequestContext& context, Access access);
  [[nodiscard]] std::optional<HttpError> CheckCsrf(const RequestContext& context) const;
  void ServeStatic(const httplib::Request& http, httplib::Response& response);
  [[nodiscard]] std::string ClientAddress(const httplib::Request& http) const;
  [[nodiscard]] bool SecureCookies() const;
  [[nodiscard]] std::string SessionCookie(const std::string& value, std::int64_t max_age_seconds) const;

  // Helpers shared by the handler groups.
  [[nodiscard]] tl::expected<nlohmann::json, HttpError> ParseBody(const RequestContext& context) const;
  [[nodiscard]] tl::expected<std::int64_t, HttpError> PathId(const RequestContext& context, const std::string& name) const;
  /// The patient when the caller's clinic holds it; otherwise NotFound (and a denied audit record).
  [[nodiscard]] tl::expected<PatientData, HttpError> LoadPatient(RequestContext& context, bool with_entries);
  [[nodiscard]] tl::expected<bool, HttpError> AuditRead(const RequestContext& context, std::int64_t patient_id, const std::string& resource);
  [[nodiscard]] tl::expected<Date, HttpError> AsOf(const RequestContext& context) const;
  /// A stored patient's record, parsed and evaluated on `as_of` with the request's `criteria`.
  [[nodiscard]] tl::expected<EvaluatedRecord, HttpError> EvaluateStored(const RequestContext& context, const PatientData& data, Date as_of) const;
  [[nodiscard]] std::string SelfReportUrl(const RequestContext& context, const std::string& token) const;
  /// The FHIR code maps of the KB (loaded on first use); 503 when the KB's FHIR data cannot be read.
  [[nodiscard]] tl::expected<const fhir::FhirKnowledge*, HttpError> LoadFhir() const;
  /// Imports a Bundle (query `patient` picks its patient) into a record that parses and evaluates;
  /// what the engine cannot read is left out and reported.
  [[nodiscard]] tl::expected<FhirImported, HttpError> ImportFhir(const RequestContext& context, const nlohmann::json& bundle) const;
  /// The request body's Bundle imported and split for storing (the import routes).
  [[nodiscard]] tl::expected<FhirImportedForStore, HttpError> ImportBodyForStore(const RequestContext& context) const;

  // Handler groups.
  void AddMetaRoutes();        // api_meta.cc: health, OpenAPI, drugs, scales
  void AddAccountRoutes();     // api_accounts.cc: setup, session, users, clinics, audit
  void AddPatientRoutes();     // api_patients.cc: patients, entries, assessment, what-if, report
  void AddSelfReportRoutes();  // api_self_report.cc: invitations, self-report, /me
  void AddFhirRoutes();        // api_fhir.cc: FHIR import, assess and export

  Outcome Login(RequestContext& context);
  Outcome SelfReportForm(const std::vector<std::string>& instruments) const;
  tl::expected<std::vector<store::NewEntry>, HttpError> SelfReportEntries(const nlohmann::json& body, const std::vector<std::string>& allowed,
                                                                         Date today) const;
  tl::expected<bool, HttpError> CheckWithNewEntries(const PatientData& data, const std::vector<store::NewEntry>& added) const;

  store::Store& store_;
  const KnowledgeBase& kb_;
  ServerOptions options_;
  Records records_;
  std::optional<InteractionKnowledge> interactions_;
  std::string interactions_error_;
  AuditWriter audit_;
  RateLimiter login_by_address_;
  RateLimiter login_by_account_;
  RateLimiter token_by_address_;
  std::vector<Route> routes_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex setup_mutex_;
  std::string setup_token_;
  std::string dummy_hash_;  // Verified against when a username is unknown (equal timing).
  std::map<std::string, std::string, std::less<>> assets_;
};

/// Content type of a file by its extension.
[[nodiscard]] std::string ContentTypeFor(std::string_view path);

/// JSON forms of store values (never a password hash).
[[nodiscard]] nlohmann::json PatientToJson(const store::Patient& patient);
[[nodiscard]] nlohmann::json UserToJson(const store::User& user);
[[nodiscard]] nlohmann::json EntryToJson(const store::Entry& entry);

/// URL path names of record sections ("scores" for scales, "daily-log" ...) and back.
[[nodiscard]] std::optional<std::string> SectionFromPath(std::string_view name);
[[nodiscard]] std::string SectionPathName(std::string_view section);

}  // namespace refract::server
