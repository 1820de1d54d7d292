// SPDX-License-Identifier: Apache-2.0
/// The clinic HTTP server: the JSON REST API under /api/v1 (described by /api/v1/openapi.json),
/// the web app, sessions, CSRF protection, roles and clinic scoping, and the audit log.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/date.h"
#include "refract/core/kb.h"
#include "refract/core/result.h"
#include "refract/server/security.h"
#include "refract/store/store.h"

namespace httplib {
class Server;
}

namespace refract::server {

/// How the server listens and behaves.
struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  ///< 0 picks a free port (tests).
  /// PEM certificate chain and private key: both given serve HTTPS (and mark cookies Secure).
  std::string tls_cert_file;
  std::string tls_key_file;
  /// Marks cookies Secure and sends HSTS without TLS here: the server sits behind an HTTPS proxy.
  bool behind_https_proxy = false;
  /// Takes the client address from the last X-Forwarded-For hop (set by the proxy), for the audit
  /// log and rate limits. Only for a server that the proxy alone can reach.
  bool trust_forwarded_for = false;
  std::size_t max_body_bytes = 1024 * 1024;
  /// Worker threads; a keep-alive connection holds one while it is open.
  int threads = 64;
  /// Serve the web app from this directory instead of the copy built into the binary (development).
  std::string web_root;
  /// Base of self-report links ("https://clinic.example.org"); empty uses the request's Host.
  std::string public_url;
  /// Crisis line locale for self-report pages ("US", "CA"); empty uses the KB's default.
  std::string locale;
  std::chrono::seconds session_lifetime{std::chrono::hours(8)};
  std::chrono::hours max_invitation_lifetime{std::chrono::hours(24 * 7)};
  PasswordCost password_cost;
  /// Assess as of this date instead of today (demo and tests); an `as_of` query parameter wins.
  std::optional<Date> as_of;
  /// Writes one line per request (method, route template, status, milliseconds; never a path or body).
  bool access_log = true;
  /// Routes of other services with their own authentication (CDS Hooks under /cds-services), mounted
  /// before the clinic's own; the clinic's session, CSRF and role checks do not apply to them.
  std::function<void(httplib::Server&)> mount;
};

/// Stores a whole refract.patient/v1 record as a new patient of `clinic_id`, after checking that
/// it parses and evaluates. Fails with InvalidInput (naming "record#/pointer") for a record the
/// engine cannot read or a record id the clinic already has.
[[nodiscard]] Result<store::Patient> ImportPatient(store::Store& store, const KnowledgeBase& kb, std::int64_t clinic_id,
                                                   const nlohmann::json& record, const std::string& label, const store::AuditEvent& audit);

class ServerImpl;

/// One running server. The store and the KB must outlive it.
class Server {
 public:
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Builds the server and binds its port. Fails with Io when the address cannot be bound or the
  /// certificate cannot be read, Storage when the store does not answer.
  [[nodiscard]] static Result<std::unique_ptr<Server>> Create(store::Store& store, const KnowledgeBase& kb, ServerOptions options);

  /// The bound port (the chosen one when the options asked for 0).
  [[nodiscard]] int port() const;
  /// "http://127.0.0.1:8080" (or https) as the server sees itself.
  [[nodiscard]] std::string url() const;
  /// The one-time first-run set-up token while no user exists; empty afterwards.
  [[nodiscard]] std::string SetupToken() const;

  /// Every route as "METHOD /api/v1/path/{param}", in registration order (checked against the OpenAPI document).
  [[nodiscard]] std::vector<std::string> Routes() const;

  /// Serves until Stop() is called from another thread (or a signal handler's thread).
  void Run();
  /// Serves on a background thread; returns once the server accepts connections.
  void Start();
  /// Stops serving and waits for the background thread, if any.
  void Stop();

 private:
  explicit Server(std::unique_ptr<ServerImpl> impl);
  std::unique_ptr<ServerImpl> impl_;
};

}  // namespace refract::server
