// SPDX-License-Identifier: Apache-2.0
/// Security primitives of the clinic server: argon2id password hashing, random tokens and their
/// stored hashes, constant-time comparison and a failure-counting rate limiter.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "refract/core/result.h"

namespace refract::server {

/// argon2id cost. The default follows the OWASP password storage recommendation (19 MiB, 2
/// passes, 1 lane); tests may lower it, a deployment should not.
struct PasswordCost {
  std::uint32_t memory_kib = 19456;
  std::uint32_t passes = 2;
  std::uint32_t lanes = 1;
};

/// Shortest and longest password accepted.
inline constexpr std::size_t kMinPasswordLength = 12;
inline constexpr std::size_t kMaxPasswordLength = 256;

/// Checks a new password's length. Fails with InvalidInput naming the limit.
[[nodiscard]] Result<bool> CheckPasswordPolicy(std::string_view password);

/// Hashes a password with argon2id and a fresh 16-byte salt; returns the encoded form
/// ("$argon2id$v=19$m=...,t=...,p=...$salt$hash"). Fails with Internal when libargon2 fails.
[[nodiscard]] Result<std::string> HashPassword(std::string_view password, const PasswordCost& cost);

/// Whether `password` matches an encoded argon2id hash. A malformed hash never matches.
[[nodiscard]] bool VerifyPassword(std::string_view password, const std::string& encoded_hash);

/// `bytes` random bytes from OpenSSL's CSPRNG as URL-safe base64 without padding.
/// Aborts (REFRACT_CHECK) when the CSPRNG fails: no token may be guessable.
[[nodiscard]] std::string RandomToken(std::size_t bytes = 32);

/// A readable random password (letters and digits without look-alikes), for generated logins.
[[nodiscard]] std::string RandomPassword(std::size_t length = 20);

/// SHA-256 of a token as lower-case hex: what the store keeps instead of the token.
[[nodiscard]] std::string TokenHash(std::string_view token);

/// Compares two strings in time that depends only on their lengths.
[[nodiscard]] bool ConstantTimeEquals(std::string_view left, std::string_view right);

/// Counts failures per key (an address, an address and username) in a sliding window and blocks
/// the key once it reaches the limit, until its oldest failure leaves the window. Thread-safe;
/// memory is bounded by forgetting the stalest keys.
class RateLimiter {
 public:
  RateLimiter(int max_failures, std::chrono::seconds window);

  /// Seconds until `key` may try again, or 0 when it may try now.
  [[nodiscard]] std::int64_t RetryAfterSeconds(const std::string& key, std::int64_t now_ms);
  /// Records one failure of `key`.
  void RecordFailure(const std::string& key, std::int64_t now_ms);
  /// Forgets the failures of `key` (after a success).
  void Reset(const std::string& key);

 private:
  void Prune(std::int64_t now_ms);

  int max_failures_;
  std::int64_t window_ms_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::deque<std::int64_t>> failures_;
};

}  // namespace refract::server
