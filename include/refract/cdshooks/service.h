// SPDX-License-Identifier: Apache-2.0
/// CDS Hooks 2.0 services of refract as pure request -> response handlers: discovery, patient-view
/// (TRD status, alerts, interactions), order-select and order-sign (interactions, washouts, dose caps
/// with a lower-dose suggestion, PGx guidance, a proposed drug that already failed), and feedback.
/// An adapter (http.h) mounts them on an HTTP server; tests call them directly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/cdshooks/jwt.h"
#include "refract/core/date.h"
#include "refract/core/interactions.h"
#include "refract/core/kb.h"
#include "refract/core/patient.h"
#include "refract/core/pgx.h"
#include "refract/core/report.h"
#include "refract/core/result.h"
#include "refract/fhir/knowledge.h"

namespace refract::cdshooks {

/// What a handler answers: HTTP status, JSON body (null for none) and extra headers.
struct Response {
  int status = 200;
  nlohmann::json body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Reads FHIR data when the CDS Client did not prefetch it: GET {fhir_server}/{query} with the access
/// token the client granted. The HTTP adapter provides one; tests inject their own.
class FhirFetcher {
 public:
  virtual ~FhirFetcher() = default;
  /// Returns the resource or search Bundle; fails with Io (unreachable, non-2xx) or InvalidInput (not JSON).
  [[nodiscard]] virtual Result<nlohmann::json> Get(std::string_view fhir_server, std::string_view query, std::string_view access_token) = 0;
};

/// Receives the feedback a CDS Client sends about cards (accepted, overridden, and why).
class FeedbackSink {
 public:
  virtual ~FeedbackSink() = default;
  virtual void Record(std::string_view service_id, const nlohmann::json& feedback) = 0;
};

/// Remembers, per prefetch, what importing and assessing it gave, so that the hook calls an EHR makes
/// again and again for one patient (order-select fires at every change to a draft order) check only
/// the orders. An entry is found only for the same patient id, assessment date and kind of assessment
/// and a byte-for-byte identical prefetch in which every key the services ask for was sent (so nothing
/// was read from a FHIR server). Import and assessment are pure functions of these and of the loaded
/// knowledge, so a call answered from the memo gets the cards a recomputation would give. Least
/// recently used entries go first. Safe to share between serving threads.
class AssessmentMemo {
 public:
  /// `capacity` entries at most (0 remembers nothing).
  explicit AssessmentMemo(std::size_t capacity);
  ~AssessmentMemo();
  AssessmentMemo(const AssessmentMemo&) = delete;
  AssessmentMemo& operator=(const AssessmentMemo&) = delete;

  struct Counts {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::size_t entries = 0;
  };
  [[nodiscard]] Counts counts() const;

  /// The entry stored under `key`, or null. Type-erased: the handlers own what they store.
  [[nodiscard]] std::shared_ptr<const void> Find(const std::string& key);
  void Store(std::string key, std::shared_ptr<const void> value);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Everything the handlers need. Read-only while serving (the JWT replay cache and the assessment
/// memo guard themselves).
struct CdsHooksContext {
  const KnowledgeBase* kb = nullptr;
  const fhir::FhirKnowledge* fhir = nullptr;
  const PatientParser* parser = nullptr;
  const InteractionKnowledge* interactions = nullptr;  ///< Null: no interaction or washout cards.
  const PgxKnowledge* pgx = nullptr;                   ///< Null: no pharmacogenomic cards.
  EngineInfo engine;
  /// Public base URL of the service ("https://cds.example.org"): JWT audience and card source links.
  std::string base_url;
  /// Where a clinician can open the full assessment (a card link); empty for none.
  std::string app_url;
  std::function<Date()> today;               ///< The assessment date ("as of").
  std::function<std::int64_t()> now_seconds;  ///< For JWT exp and iat.
  FhirFetcher* fetcher = nullptr;             ///< Null: no FHIR-server fallback (missing prefetch answers 412).
  FeedbackSink* feedback = nullptr;
  std::shared_ptr<JwtVerifier> jwt;           ///< Null or disabled: calls are not authenticated.
  std::vector<std::string> allowed_origins;   ///< CORS; empty allows any origin ("*").
  std::shared_ptr<AssessmentMemo> memo;       ///< Null: every call imports and assesses its prefetch.
};

/// GET /cds-services: the discovery document.
[[nodiscard]] Response Discovery(const CdsHooksContext& context, std::string_view authorization);

/// POST /cds-services/{id}: one hook call. 400 for a request that breaks the spec (with the reason),
/// 401 for a failed JWT, 404 for an unknown service, 412 when needed data is neither prefetched nor
/// fetchable, 200 with {"cards": [...]} otherwise (also when the record is incomplete: cards say so).
[[nodiscard]] Response CallService(const CdsHooksContext& context, std::string_view service_id, std::string_view body,
                                   std::string_view authorization);

/// POST /cds-services/{id}/feedback.
[[nodiscard]] Response Feedback(const CdsHooksContext& context, std::string_view service_id, std::string_view body,
                                std::string_view authorization);

/// CORS headers for a response to a request from `origin` (empty when the request had none).
[[nodiscard]] std::vector<std::pair<std::string, std::string>> CorsHeaders(const CdsHooksContext& context, std::string_view origin);

/// The text of the member `name` of the JSON object `text` exactly as written, found without building
/// a document. Nullopt when `text` is not a JSON object at the top, a key is escaped or repeated, the
/// member is missing, or the text ends early; the caller then reads the whole document. Also gives
/// `text` with that member (and one separating comma) cut out, for reading the rest on its own.
struct MemberText {
  std::string_view value;
  std::string rest;
};
[[nodiscard]] std::optional<MemberText> SplitTopLevelMember(std::string_view text, std::string_view name);

/// The service ids refract offers.
inline constexpr std::string_view kPatientViewService = "refract-trd-patient-view";
inline constexpr std::string_view kOrderSelectService = "refract-medication-order-select";
inline constexpr std::string_view kOrderSignService = "refract-medication-order-sign";

/// Longest card summary refract writes, in UTF-16 code units (the spec's limit is 140 characters).
inline constexpr std::size_t kMaxSummaryLength = 139;

/// Cuts text to `limit` UTF-16 code units at a character boundary, ending with an ellipsis when cut.
[[nodiscard]] std::string ShortenSummary(std::string_view text, std::size_t limit = kMaxSummaryLength);

}  // namespace refract::cdshooks
