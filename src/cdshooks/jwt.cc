// SPDX-License-Identifier: Apache-2.0
// JWT bearer verification with OpenSSL 3 (EVP): JWK and PEM public keys, RS* and ES* signatures.
#include "refract/cdshooks/jwt.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

namespace refract::cdshooks {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct Key {
  std::string kid;
  std::string family;  ///< "RSA" or "EC"
  int ec_bytes = 0;    ///< Size of r and s for EC keys (32, 48, 66).
  std::shared_ptr<EVP_PKEY> pkey;
};

struct BnDeleter {
  void operator()(BIGNUM* number) const { BN_free(number); }
};

std::optional<Pkey> RsaFromJwk(const std::string& n, const std::string& e) {
  const auto n_bytes = Base64UrlDecode(n);
  const auto e_bytes = Base64UrlDecode(e);
  if (!n_bytes || !e_bytes) return std::nullopt;
  std::unique_ptr<BIGNUM, BnDeleter> modulus(BN_bin2bn(reinterpret_cast<const unsigned char*>(n_bytes->data()), static_cast<int>(n_bytes->size()), nullptr));
  std::unique_ptr<BIGNUM, BnDeleter> exponent(BN_bin2bn(reinterpret_cast<const unsigned char*>(e_bytes->data()), static_cast<int>(e_bytes->size()), nullptr));
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, modulus.get());
  OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, exponent.get());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(builder);
  EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* key = nullptr;
  const bool ok = context != nullptr && EVP_PKEY_fromdata_init(context) == 1 && EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(context);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(builder);
  if (!ok) return std::nullopt;
  return Pkey(key);
}

std::optional<Pkey> EcFromJwk(const std::string& crv, const std::string& x, const std::string& y) {
  const char* group = crv == "P-256" ? "prime256v1" : crv == "P-384" ? "secp384r1" : crv == "P-521" ? "secp521r1" : nullptr;
  const auto x_bytes = Base64UrlDecode(x);
  const auto y_bytes = Base64UrlDecode(y);
  if (group == nullptr || !x_bytes || !y_bytes) return std::nullopt;
  std::string point = std::string(1, '\x04') + *x_bytes + *y_bytes;
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(builder);
  EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  const bool ok = context != nullptr && EVP_PKEY_fromdata_init(context) == 1 && EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(context);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(builder);
  if (!ok) return std::nullopt;
  return Pkey(key);
}

int EcBytes(EVP_PKEY* key) { return (EVP_PKEY_get_bits(key) + 7) / 8; }

std::string Str(const nlohmann::json& json, const char* key) {
  const auto found = json.find(key);
  return found != json.end() && found->is_string() ? found->get<std::string>() : std::string();
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char character : bytes) {
    buffer = (buffer << 8) | static_cast<unsigned char>(character);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3F];
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char character : text) {
    if (character == '=') break;
    const auto value = kAlphabet.find(character);
    if (value == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

struct JwtVerifier::State {
  JwtConfig config;
  std::map<std::string, std::vector<Key>> keys;  ///< By issuer.
  mutable std::mutex mutex;
  mutable std::map<std::string, std::int64_t> seen_jti;  ///< jti -> exp, pruned as tokens expire.
  mutable std::int64_t last_prune = 0;
};

JwtVerifier::JwtVerifier(std::unique_ptr<State> state) : state_(std::move(state)) {}
JwtVerifier::~JwtVerifier() = default;

bool JwtVerifier::enabled() const { return state_->config.enabled; }

Result<std::shared_ptr<JwtVerifier>> JwtVerifier::Create(const JwtConfig& config) {
  auto state = std::make_unique<State>();
  state->config = config;
  for (const TrustedIssuer& issuer : config.issuers) {
    auto& keys = state->keys[issuer.iss];
    if (issuer.jwks.is_object()) {
      const auto found = issuer.jwks.find("keys");
      if (found == issuer.jwks.end() || !found->is_array()) return Fail(ErrorCode::InvalidInput, fmt::format("JWK set of issuer \"{}\" has no keys", issuer.iss));
      for (std::size_t key_idx = 0; key_idx < found->size(); ++key_idx) {
        const nlohmann::json& jwk = (*found)[key_idx];
        const std::string kty = Str(jwk, "kty");
        std::optional<Pkey> key;
        if (kty == "RSA") key = RsaFromJwk(Str(jwk, "n"), Str(jwk, "e"));
        if (kty == "EC") key = EcFromJwk(Str(jwk, "crv"), Str(jwk, "x"), Str(jwk, "y"));
        if (!key) {
          return Fail(ErrorCode::InvalidInput, fmt::format("key {} of issuer \"{}\" is not a readable RSA or EC (P-256, P-384, P-521) public JWK", key_idx, issuer.iss));
        }
        const int bytes = kty == "EC" ? EcBytes(key->get()) : 0;
        keys.push_back(Key{Str(jwk, "kid"), kty, bytes, std::shared_ptr<EVP_PKEY>(key->release(), EVP_PKEY_free)});
      }
    }
    for (std::size_t key_idx = 0; key_idx < issuer.public_keys_pem.size(); ++key_idx) {
      const std::string& pem = issuer.public_keys_pem[key_idx];
      BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
      EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
      BIO_free(bio);
      if (key == nullptr) return Fail(ErrorCode::InvalidInput, fmt::format("PEM key {} of issuer \"{}\" is not a public key", key_idx, issuer.iss));
      const bool is_ec = EVP_PKEY_is_a(key, "EC") == 1;
      keys.push_back(Key{"", is_ec ? "EC" : "RSA", is_ec ? EcBytes(key) : 0, std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free)});
    }
  }
  return std::shared_ptr<JwtVerifier>(new JwtVerifier(std::move(state)));
}

Result<VerifiedJwt> JwtVerifier::Verify(std::string_view authorization, std::string_view audience, std::int64_t now) const {
  const auto unauthorized = [](std::string message) { return Fail(ErrorCode::InvalidInput, std::move(message), "Authorization"); };
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() || authorization.substr(0, kBearer.size()) != kBearer) return unauthorized("missing Authorization: Bearer token");
  const std::string_view token = authorization.substr(kBearer.size());
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? std::string_view::npos : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return unauthorized("the token is not a JWT (three base64url parts)");
  const auto header_text = Base64UrlDecode(token.substr(0, first));
  const auto payload_text = Base64UrlDecode(token.substr(first + 1, second - first - 1));
  const auto signature = Base64UrlDecode(token.substr(second + 1));
  if (!header_text || !payload_text || !signature) return unauthorized("the JWT is not base64url");
  const auto header = nlohmann::json::parse(*header_text, nullptr, false);
  const auto payload = nlohmann::json::parse(*payload_text, nullptr, false);
  if (!header.is_object() || !payload.is_object()) return unauthorized("the JWT header or payload is not a JSON object");
  const std::string alg = Str(header, "alg");
  const EVP_MD* digest = nullptr;
  std::string family;
  if (alg == "RS256" || alg == "ES256") digest = EVP_sha256();
  if (alg == "RS384" || alg == "ES384") digest = EVP_sha384();
  if (alg == "RS512" || alg == "ES512") digest = EVP_sha512();
  if (digest == nullptr) return unauthorized(fmt::format("JWT algorithm \"{}\" is not accepted (RS256, RS384, RS512, ES256, ES384, ES512)", alg));
  family = alg[0] == 'R' ? "RSA" : "EC";
  const std::string iss = Str(payload, "iss");
  const auto issuer = state_->keys.find(iss);
  if (issuer == state_->keys.end()) return unauthorized(fmt::format("issuer \"{}\" is not trusted", iss));
  const std::string kid = Str(header, "kid");
  const std::string signed_part(token.substr(0, second));
  bool verified = false;
  bool candidate_found = false;
  for (const Key& key : issuer->second) {
    if (key.family != family || (!kid.empty() && !key.kid.empty() && key.kid != kid)) continue;
    candidate_found = true;
    std::string der = *signature;
    if (family == "EC") {
      // JWS carries r || s; OpenSSL verifies DER.
      if (static_cast<int>(signature->size()) != 2 * key.ec_bytes) continue;
      ECDSA_SIG* sig = ECDSA_SIG_new();
      BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature->data()), key.ec_bytes, nullptr);
      BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature->data()) + key.ec_bytes, key.ec_bytes, nullptr);
      ECDSA_SIG_set0(sig, r, s);
      unsigned char* out = nullptr;
      const int length = i2d_ECDSA_SIG(sig, &out);
      der.assign(reinterpret_cast<char*>(out), static_cast<std::size_t>(std::max(length, 0)));
      OPENSSL_free(out);
      ECDSA_SIG_free(sig);
    }
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    const bool ok = EVP_DigestVerifyInit(context, nullptr, digest, nullptr, key.pkey.get()) == 1 &&
                    EVP_DigestVerify(context, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                                     reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
    EVP_MD_CTX_free(context);
    if (ok) {
      verified = true;
      break;
    }
  }
  if (!candidate_found) return unauthorized(fmt::format("issuer \"{}\" has no {} key{}", iss, family, kid.empty() ? "" : fmt::format(" with kid \"{}\"", kid)));
  if (!verified) return unauthorized("the JWT signature does not verify");
  const auto number = [&](const char* key) -> std::optional<std::int64_t> {
    const auto found = payload.find(key);
    if (found == payload.end() || !found->is_number()) return std::nullopt;
    return found->get<std::int64_t>();
  };
  const auto exp = number("exp");
  const std::int64_t skew = state_->config.clock_skew_seconds;
  if (!exp) return unauthorized("the JWT has no exp");
  if (*exp + skew < now) return unauthorized(fmt::format("the JWT expired at {} (now {})", *exp, now));
  if (const auto iat = number("iat"); iat && *iat - skew > now) return unauthorized(fmt::format("the JWT was issued in the future ({}, now {})", *iat, now));
  bool audience_ok = false;
  if (const auto aud = payload.find("aud"); aud != payload.end()) {
    if (aud->is_string()) audience_ok = aud->get<std::string>() == audience;
    if (aud->is_array()) audience_ok = std::any_of(aud->begin(), aud->end(), [&](const auto& item) { return item.is_string() && item.template get<std::string>() == audience; });
  }
  if (!audience_ok) return unauthorized(fmt::format("the JWT audience is not this service ({})", audience));
  VerifiedJwt out{iss, Str(payload, "sub"), Str(payload, "jti"), Str(payload, "tenant"), *exp};
  if (state_->config.require_jti) {
    if (out.jti.empty()) return unauthorized("the JWT has no jti");
    std::lock_guard<std::mutex> lock(state_->mutex);
    // Expired tokens cannot be replayed anyway: forget them, at most once a second.
    if (now != state_->last_prune) {
      state_->last_prune = now;
      for (auto it = state_->seen_jti.begin(); it != state_->seen_jti.end();) {
        it = it->second + skew < now ? state_->seen_jti.erase(it) : std::next(it);
      }
    }
    if (!state_->seen_jti.emplace(iss + "|" + out.jti, *exp).second) return unauthorized(fmt::format("the JWT jti \"{}\" was already used", out.jti));
  }
  return out;
}

}  // namespace refract::cdshooks
