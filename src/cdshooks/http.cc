// SPDX-License-Identifier: Apache-2.0
// cpp-httplib adapter of the CDS Hooks handlers, and the HTTP FHIR client of the prefetch fallback.
#include "refract/cdshooks/http.h"

#include <exception>

#include <fmt/format.h>
#include <httplib.h>

#include "refract/cdshooks/json_text.h"

namespace refract::cdshooks {
namespace {

void Send(const CdsHooksContext& context, const httplib::Request& request, httplib::Response& response, const Response& answer) {
  for (const auto& [name, value] : CorsHeaders(context, request.get_header_value("Origin"))) response.set_header(name, value);
  for (const auto& [name, value] : answer.headers) response.set_header(name, value);
  response.status = answer.status;
  if (!answer.body.is_null()) response.set_content(JsonText(answer.body), "application/json");
}

template <class Handler>
auto Guarded(const CdsHooksContext& context, Handler handler) {
  return [&context, handler](const httplib::Request& request, httplib::Response& response) {
    try {
      Send(context, request, response, handler(request));
    } catch (const std::exception& error) {
      Send(context, request, response, Response{500, {{"error", fmt::format("internal error: {}", error.what())}}, {}});
    }
  };
}

class HttpFhirFetcher final : public FhirFetcher {
 public:
  explicit HttpFhirFetcher(int timeout_seconds) : timeout_seconds_(timeout_seconds) {}

  Result<nlohmann::json> Get(std::string_view fhir_server, std::string_view query, std::string_view access_token) override {
    std::string base(fhir_server);
    while (!base.empty() && base.back() == '/') base.pop_back();
    // Split "https://host:port/path" into the client's origin and the path prefix.
    const auto scheme = base.find("://");
    const auto path_start = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    const std::string origin = path_start == std::string::npos ? base : base.substr(0, path_start);
    const std::string prefix = path_start == std::string::npos ? std::string() : base.substr(path_start);
    httplib::Client client(origin);
    client.set_connection_timeout(timeout_seconds_, 0);
    client.set_read_timeout(timeout_seconds_, 0);
    httplib::Headers headers{{"Accept", "application/fhir+json"}};
    if (!access_token.empty()) headers.emplace("Authorization", "Bearer " + std::string(access_token));
    const auto result = client.Get(prefix + "/" + std::string(query), headers);
    if (!result) return Fail(ErrorCode::Io, fmt::format("GET {}/{} failed: {}", base, query, httplib::to_string(result.error())));
    if (result->status < 200 || result->status >= 300) return Fail(ErrorCode::Io, fmt::format("GET {}/{} answered {}", base, query, result->status));
    auto json = nlohmann::json::parse(result->body, nullptr, false);
    if (json.is_discarded()) return Fail(ErrorCode::InvalidInput, fmt::format("GET {}/{} did not return JSON", base, query));
    return json;
  }

 private:
  int timeout_seconds_;
};

}  // namespace

void MountCdsHooks(httplib::Server& server, const CdsHooksContext& context) {
  server.Get("/cds-services", Guarded(context, [&context](const httplib::Request& request) {
               return Discovery(context, request.get_header_value("Authorization"));
             }));
  server.Post(R"(/cds-services/([A-Za-z0-9._-]+)/feedback)", Guarded(context, [&context](const httplib::Request& request) {
                return Feedback(context, request.matches[1].str(), request.body, request.get_header_value("Authorization"));
              }));
  server.Post(R"(/cds-services/([A-Za-z0-9._-]+))", Guarded(context, [&context](const httplib::Request& request) {
                return CallService(context, request.matches[1].str(), request.body, request.get_header_value("Authorization"));
              }));
  server.Options(R"(/cds-services(/.*)?)", Guarded(context, [](const httplib::Request&) { return Response{204, nullptr, {}}; }));
}

std::unique_ptr<FhirFetcher> MakeHttpFhirFetcher(int timeout_seconds) { return std::make_unique<HttpFhirFetcher>(timeout_seconds); }

}  // namespace refract::cdshooks
