// SPDX-License-Identifier: Apache-2.0
/// The CDS Hooks services on a cpp-httplib server: routes, CORS (preflight included), the JSON content
/// type, and an HTTP FHIR client for the prefetch fallback.
#pragma once

#include <memory>
#include <string>

#include "refract/cdshooks/service.h"

namespace httplib {
class Server;
}

namespace refract::cdshooks {

/// Mounts GET /cds-services, POST /cds-services/{id}, POST /cds-services/{id}/feedback and OPTIONS on
/// both. `context` must outlive the server. A handler that throws answers 500 with {"error": ...}.
void MountCdsHooks(httplib::Server& server, const CdsHooksContext& context);

/// A FhirFetcher over HTTP(S) with cpp-httplib: GET {server}/{query}, Accept application/fhir+json,
/// Authorization: Bearer {token} when a token is given; times out after `timeout_seconds`.
[[nodiscard]] std::unique_ptr<FhirFetcher> MakeHttpFhirFetcher(int timeout_seconds = 5);

}  // namespace refract::cdshooks
