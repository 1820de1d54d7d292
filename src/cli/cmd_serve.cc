// SPDX-License-Identifier: Apache-2.0
// `refract serve`: the clinic server (web app and /api/v1) on SQLite or PostgreSQL.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <optional>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "refract/app/app.h"
#include "refract/cdshooks/http.h"
#include "refract/cdshooks/jwt.h"
#include "refract/cdshooks/service.h"
#include "refract/core/interactions.h"
#include "refract/core/pgx.h"
#include "refract/fhir/knowledge.h"
#include "refract/server/security.h"
#include "refract/server/server.h"
#include "refract/store/store.h"

namespace refract::cli {
namespace {

struct ServeArgs {
  std::string db = "sqlite:refract-clinic.db";
  std::string listen = "127.0.0.1:8080";
  std::string tls_cert;
  std::string tls_key;
  bool behind_https_proxy = false;
  bool trust_forwarded_for = false;
  std::string web_root;
  std::string public_url;
  std::string locale;
  std::string kb_dir;
  std::string as_of;
  int threads = 64;
  bool demo = false;
  std::string seed = "examples";
  bool quiet = false;
  bool no_cds_hooks = false;
  std::vector<std::string> cds_issuers;  ///< ISS=KEYFILE (a JWK Set JSON file or a PEM public key).
  std::vector<std::string> cds_origins;
  int cds_memo = 256;  ///< Prefetches whose assessment CDS Hooks remembers.
};

/// The CDS Hooks service of `refract serve` and what it reads, alive as long as the server.
struct CdsHooksService {
  std::unique_ptr<fhir::FhirKnowledge> fhir;
  std::unique_ptr<cdshooks::FhirFetcher> fetcher;
  cdshooks::CdsHooksContext context;
};

/// Builds the CDS Hooks context. With trusted issuers every call needs their signed JWT and the
/// FHIR-server fallback is on; without, calls are not authenticated and the fallback is off (the
/// server must never fetch a URL an anonymous caller names), so a missing prefetch answers 412.
Result<std::unique_ptr<CdsHooksService>> MakeCdsHooks(const ServeArgs& args, const KnowledgeBase& kb, std::optional<Date> as_of) {
  auto service = std::make_unique<CdsHooksService>();
  auto fhir = fhir::LoadFhirKnowledge(kb);
  if (!fhir) return tl::unexpected(fhir.error());
  service->fhir = std::make_unique<fhir::FhirKnowledge>(std::move(*fhir));
  const auto& interactions = kb.Derived<Result<InteractionKnowledge>>(&LoadInteractionKnowledge);
  if (!interactions) return tl::unexpected(interactions.error());
  const auto& pgx = kb.Derived<Result<PgxKnowledge>>(&LoadPgxKnowledge);
  if (!pgx) return tl::unexpected(pgx.error());
  cdshooks::CdsHooksContext& context = service->context;
  context.kb = &kb;
  context.fhir = service->fhir.get();
  context.parser = &app::Parser();
  context.interactions = &*interactions;
  context.pgx = &*pgx;
  context.engine = app::Engine();
  std::string base = !args.public_url.empty() ? args.public_url : (args.tls_cert.empty() ? "http://" : "https://") + args.listen;
  while (!base.empty() && base.back() == '/') base.pop_back();
  context.base_url = base;
  context.app_url = base + "/";
  context.today = [as_of] { return as_of ? *as_of : app::Today(); };
  context.now_seconds = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  context.allowed_origins = args.cds_origins;
  if (args.cds_memo > 0) context.memo = std::make_shared<cdshooks::AssessmentMemo>(static_cast<std::size_t>(args.cds_memo));
  if (!args.cds_issuers.empty()) {
    cdshooks::JwtConfig config;
    config.enabled = true;
    for (const std::string& entry : args.cds_issuers) {
      const auto equals = entry.find('=');
      if (equals == std::string::npos || equals == 0 || equals + 1 == entry.size()) {
        return Fail(ErrorCode::InvalidInput, fmt::format("\"{}\" is not ISSUER=KEYFILE", entry), "--cds-hooks-issuer");
      }
      cdshooks::TrustedIssuer issuer;
      issuer.iss = entry.substr(0, equals);
      const std::string file = entry.substr(equals + 1);
      auto text = app::ReadFile(file);
      if (!text) return tl::unexpected(text.error());
      if (text->find("-----BEGIN") != std::string::npos) {
        issuer.public_keys_pem.push_back(*text);
      } else {
        issuer.jwks = nlohmann::json::parse(*text, nullptr, false);
        if (issuer.jwks.is_discarded()) return Fail(ErrorCode::InvalidInput, "neither a PEM public key nor a JWK Set (JSON)", file);
      }
      config.issuers.push_back(std::move(issuer));
    }
    auto verifier = cdshooks::JwtVerifier::Create(config);
    if (!verifier) return tl::unexpected(verifier.error());
    context.jwt = std::move(*verifier);
    service->fetcher = cdshooks::MakeHttpFhirFetcher(10);
    context.fetcher = service->fetcher.get();
  }
  return service;
}

// 127.0.0.0/8, ::1 and localhost: only this machine can connect.
bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

store::AuditEvent SystemEvent(std::string action, std::string resource) {
  store::AuditEvent event;
  event.at_ms = NowMs();
  event.actor = "system";
  event.action = std::move(action);
  event.resource = std::move(resource);
  event.remote_addr = "local";
  return event;
}

// Creates the user or gives it a new password; returns the password (generated, never shipped).
Result<std::string> DemoLogin(store::Store& store, const std::string& username, store::Role role, std::optional<std::int64_t> clinic_id,
                              std::optional<std::int64_t> patient_id, const server::PasswordCost& cost) {
  const std::string password = server::RandomPassword();
  auto hash = server::HashPassword(password, cost);
  if (!hash) return tl::unexpected(hash.error());
  auto existing = store.FindUserByName(username);
  if (!existing) return tl::unexpected(existing.error());
  if (*existing) {
    auto set = store.SetPassword((*existing)->id, *hash, SystemEvent("reset_password", fmt::format("users/{}", (*existing)->id)));
    if (!set) return tl::unexpected(set.error());
    return password;
  }
  auto created = store.CreateUser(store::NewUser{username, *hash, role, clinic_id, patient_id}, SystemEvent("create", "users"));
  if (!created) return tl::unexpected(created.error());
  return password;
}

// The demo: a clinic with the example patients, and one-time logins generated now.
Result<std::vector<std::string>> SeedDemo(store::Store& store, const KnowledgeBase& kb, const std::string& seed_dir, const server::PasswordCost& cost) {
  auto clinics = store.ListClinics();
  if (!clinics) return tl::unexpected(clinics.error());
  std::int64_t clinic_id = 0;
  const auto demo_clinic = std::find_if(clinics->begin(), clinics->end(), [](const store::Clinic& clinic) { return clinic.name == "Demo clinic"; });
  if (demo_clinic != clinics->end()) {
    clinic_id = demo_clinic->id;
  } else {
    auto created = store.CreateClinic("Demo clinic", SystemEvent("create", "clinics"));
    if (!created) return tl::unexpected(created.error());
    clinic_id = created->id;
    std::vector<std::filesystem::path> files;
    std::error_code error;
    for (const auto& file : std::filesystem::directory_iterator(seed_dir, error)) {
      if (file.path().extension() == ".json") files.push_back(file.path());
    }
    if (error) return Fail(ErrorCode::Io, fmt::format("cannot read the seed directory: {}", error.message()), seed_dir);
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      auto text = app::ReadFile(path);
      if (!text) return tl::unexpected(text.error());
      auto json = app::ParseJsonText(*text, path.string());
      if (!json) return tl::unexpected(json.error());
      const std::string id = json->value("id", path.stem().string());
      const std::string label = id.starts_with("example-") ? id.substr(8) : id;
      auto patient = server::ImportPatient(store, kb, clinic_id, *json, label, SystemEvent("create", "patients"));
      if (!patient) return tl::unexpected(Error{patient.error().code, patient.error().message, path.string()});
    }
  }
  auto first = store.ListPatients(clinic_id, std::nullopt, 1);
  if (!first) return tl::unexpected(first.error());
  std::vector<std::string> lines;
  auto admin = DemoLogin(store, "admin", store::Role::Admin, std::nullopt, std::nullopt, cost);
  if (!admin) return tl::unexpected(admin.error());
  lines.push_back(fmt::format("  {:<10} password {}   (users and the audit log)", "admin", *admin));
  auto clinician = DemoLogin(store, "clinician", store::Role::Clinician, clinic_id, std::nullopt, cost);
  if (!clinician) return tl::unexpected(clinician.error());
  lines.push_back(fmt::format("  {:<10} password {}   (the patients of the Demo clinic)", "clinician", *clinician));
  if (!first->items.empty()) {
    auto patient = DemoLogin(store, "patient", store::Role::Patient, clinic_id, first->items.front().id, cost);
    if (!patient) return tl::unexpected(patient.error());
    lines.push_back(fmt::format("  {:<10} password {}   (self-reports of {})", "patient", *patient, first->items.front().label));
  }
  return lines;
}

int RunServe(const ServeArgs& args) {
  server::ServerOptions options;
  const std::size_t colon = args.listen.rfind(':');
  if (colon == std::string::npos) return Report(Error{ErrorCode::InvalidInput, "expected ADDRESS:PORT, e.g. 127.0.0.1:8080", "--listen"});
  options.host = args.listen.substr(0, colon);
  try {
    options.port = std::stoi(args.listen.substr(colon + 1));
  } catch (const std::exception&) {
    return Report(Error{ErrorCode::InvalidInput, "the port is not a number", "--listen"});
  }
  if (options.port < 0 || options.port > 65535) return Report(Error{ErrorCode::InvalidInput, "the port is 0 to 65535", "--listen"});
  options.tls_cert_file = args.tls_cert;
  options.tls_key_file = args.tls_key;
  options.behind_https_proxy = args.behind_https_proxy;
  options.trust_forwarded_for = args.trust_forwarded_for;
  options.web_root = args.web_root;
  options.public_url = args.public_url;
  options.locale = args.locale;
  options.threads = args.threads;
  if (!args.as_of.empty()) {
    options.as_of = ParseDate(args.as_of);
    if (!options.as_of) return Report(Error{ErrorCode::InvalidInput, fmt::format("\"{}\" is not a valid date (expected YYYY-MM-DD)", args.as_of), "--as-of"});
  }
  options.access_log = !args.quiet;
  // The access log and errors go to standard error; standard output has the URL and logins.
  spdlog::set_default_logger(spdlog::stderr_color_mt("refract"));

  auto kb = app::LoadKb(KbDir(args.kb_dir));
  if (!kb) return Report(kb.error());
  auto store = store::OpenStore(args.db);
  if (!store) return Report(store.error());
  // A database that fails its own check is not served: a clinician must not read a damaged record.
  auto integrity = (*store)->IntegrityCheck();
  if (!integrity) return Report(integrity.error());
  if (*integrity != "ok") return Report(Error{ErrorCode::Storage, fmt::format("the database failed its integrity check: {}", *integrity), "--db"});

  std::vector<std::string> demo_logins;
  if (args.demo) {
    auto seeded = SeedDemo(**store, *kb, args.seed, options.password_cost);
    if (!seeded) return Report(seeded.error());
    demo_logins = std::move(*seeded);
  }

  // Signals go to one thread that waits for them; the server's threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<CdsHooksService> cds_hooks;
  if (!args.no_cds_hooks) {
    auto made = MakeCdsHooks(args, *kb, options.as_of);
    if (!made) return Report(made.error());
    cds_hooks = std::move(*made);
    options.mount = [&context = cds_hooks->context](httplib::Server& http) { cdshooks::MountCdsHooks(http, context); };
  }

  auto server = server::Server::Create(**store, *kb, options);
  if (!server) return Report(server.error());
  auto version = (*store)->SchemaVersion();
  std::cout << fmt::format("refract serve: {} on {} (schema version {}), kb {}\n", (*server)->url(), (*store)->Dialect(),
                           version ? *version : 0, kb->version());
  const std::string setup = (*server)->SetupToken();
  if (!setup.empty()) {
    std::cout << fmt::format("First-run set-up: no user exists yet. Open {}/#/setup and enter this one-time set-up token:\n  {}\n",
                             (*server)->url(), setup);
  }
  if (!demo_logins.empty()) {
    std::cout << "Demo logins (passwords generated at this start; none is shipped):\n";
    for (const std::string& line : demo_logins) std::cout << line << "\n";
  }
  if (cds_hooks) {
    std::cout << fmt::format("CDS Hooks 2.0: discovery at {}/cds-services ({})\n", (*server)->url(),
                             cds_hooks->context.jwt ? "JWT from the configured issuers required; FHIR-server fallback on"
                                                    : "no --cds-hooks-issuer: calls are not authenticated and the FHIR-server fallback is off");
    // Anyone who can reach the port can post a record and read refract's cards about it.
    if (!cds_hooks->context.jwt && !IsLoopback(options.host)) {
      std::cerr << fmt::format(
          "refract serve: warning: CDS Hooks on {} answer anyone who can reach this address without authentication; give "
          "--cds-hooks-issuer ISSUER=KEYFILE, listen on a loopback address, or turn CDS Hooks off with --no-cds-hooks\n",
          options.host);
    }
  }
  std::cout << "Press Ctrl-C to stop.\n" << std::flush;
  (*server)->Start();
  int received = 0;
  sigwait(&signals, &received);
  std::cout << "refract serve: stopping\n" << std::flush;
  (*server)->Stop();
  return 0;
}

void AddServeCommands(CLI::App& app, std::vector<Handler>& handlers) {
  static ServeArgs args;
  auto* serve = app.add_subcommand("serve", "run the clinic server: web app and JSON API (/api/v1)");
  serve->add_option("--db", args.db, "sqlite:PATH (default sqlite:refract-clinic.db) or postgresql://user@host:port/db");
  serve->add_option("--listen", args.listen, "ADDRESS:PORT to listen on (default 127.0.0.1:8080)");
  serve->add_option("--tls-cert", args.tls_cert, "PEM certificate chain: serve HTTPS (with --tls-key)");
  serve->add_option("--tls-key", args.tls_key, "PEM private key for --tls-cert");
  serve->add_flag("--behind-https-proxy", args.behind_https_proxy, "a reverse proxy terminates HTTPS: mark cookies Secure");
  serve->add_flag("--trust-forwarded-for", args.trust_forwarded_for, "take client addresses from X-Forwarded-For (set by the proxy)");
  serve->add_option("--web-root", args.web_root, "serve the web app from this directory instead of the built-in copy");
  serve->add_option("--public-url", args.public_url, "base URL of self-report links (default: the request's Host)");
  serve->add_option("--locale", args.locale, "crisis line locale (US, CA; default: the KB's)");
  serve->add_option("--kb", args.kb_dir, "use this KB directory instead of the built-in KB");
  serve->add_option("--as-of", args.as_of, "assess as of this date instead of today (demonstrations)");
  serve->add_option("--threads", args.threads, "worker threads (default 64; one per open connection)")->check(CLI::Range(1, 4096));
  serve->add_flag("--demo", args.demo, "seed a Demo clinic with the example patients and print one-time demo logins");
  serve->add_option("--seed", args.seed, "directory of patient records for --demo (default examples)");
  serve->add_flag("--quiet", args.quiet, "no access log");
  serve->add_option("--cds-hooks-issuer", args.cds_issuers,
                    "ISSUER=KEYFILE: an EHR allowed to call CDS Hooks and its public key (JWK Set JSON or PEM); repeatable; "
                    "requires signed JWTs and enables the FHIR-server fallback");
  serve->add_option("--cds-hooks-origin", args.cds_origins, "an origin allowed by CORS for CDS Hooks (default any); repeatable");
  serve->add_option("--cds-hooks-memo", args.cds_memo,
                    "remember the assessment of this many recent CDS Hooks prefetches, so repeated hooks for a patient check only the orders "
                    "(default 256; 0 assesses every call afresh)")
      ->check(CLI::Range(0, 1000000));
  serve->add_flag("--no-cds-hooks", args.no_cds_hooks, "do not serve CDS Hooks under /cds-services");
  handlers.push_back(Handler{serve, [] { return RunServe(args); }});
}

const RegisterCommands kRegister{&AddServeCommands};

}  // namespace
}  // namespace refract::cli
