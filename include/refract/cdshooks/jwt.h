// SPDX-License-Identifier: Apache-2.0
/// Verification of the JWT bearer token a CDS Client (the EHR) sends with every CDS Hooks call:
/// signature (RS256/384/512, ES256/384/512) against configured issuers' keys, expiry, audience, replay.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/result.h"

namespace refract::cdshooks {

/// An EHR allowed to call the services, and the public keys its tokens are signed with.
struct TrustedIssuer {
  std::string iss;                           ///< The token's "iss" claim, matched exactly.
  nlohmann::json jwks;                       ///< A JWK Set ({"keys": [...]}) of RSA or EC public keys; may be null.
  std::vector<std::string> public_keys_pem;  ///< SubjectPublicKeyInfo PEM keys (matched when the token has no kid).
};

/// How tokens are checked. Disabled means every call is accepted without a token.
struct JwtConfig {
  bool enabled = false;
  std::vector<TrustedIssuer> issuers;
  std::int64_t clock_skew_seconds = 60;  ///< Tolerance for exp and iat between the EHR's clock and ours.
  bool require_jti = true;               ///< Reject tokens without jti, and a jti seen before.
};

/// The claims of a verified token.
struct VerifiedJwt {
  std::string iss;
  std::string sub;
  std::string jti;
  std::string tenant;
  std::int64_t exp = 0;
};

/// Verifies tokens against a configuration. Thread-safe: the replay cache is guarded.
class JwtVerifier {
 public:
  /// Reads the keys of every issuer. Fails with InvalidInput naming the issuer and key that cannot be read
  /// (an unsupported kty or crv, bad base64url, a PEM that is not a public key).
  [[nodiscard]] static Result<std::shared_ptr<JwtVerifier>> Create(const JwtConfig& config);

  /// Checks "Bearer <jwt>" for a call to `audience` (the service's URL) at `now` (seconds since the epoch).
  /// Fails with InvalidInput and a message naming what is wrong (the adapter answers 401).
  [[nodiscard]] Result<VerifiedJwt> Verify(std::string_view authorization, std::string_view audience, std::int64_t now) const;

  [[nodiscard]] bool enabled() const;

  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

 private:
  struct State;
  explicit JwtVerifier(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

/// Base64url without padding (RFC 7515), for tests and tools that make tokens.
[[nodiscard]] std::string Base64UrlEncode(std::string_view bytes);
/// The reverse; nothing when the text is not base64url.
[[nodiscard]] std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace refract::cdshooks
