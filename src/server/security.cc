// SPDX-License-Identifier: Apache-2.0
// argon2id hashing (libargon2), tokens from OpenSSL's CSPRNG, and the login rate limiter.
#include "refract/server/security.h"

#include <algorithm>
#include <vector>

#include <argon2.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "refract/core/check.h"
#include "refract/core/sha256.h"

namespace refract::server {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
constexpr std::size_t kMaxRateLimitKeys = 100000;

std::vector<unsigned char> RandomBytes(std::size_t count) {
  std::vector<unsigned char> bytes(count);
  REFRACT_CHECK(RAND_bytes(bytes.data(), static_cast<int>(count)) == 1, "the CSPRNG failed");
  return bytes;
}

}  // namespace

Result<bool> CheckPasswordPolicy(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return Fail(ErrorCode::InvalidInput, fmt::format("the password is too short: at least {} characters", kMinPasswordLength), "body.password");
  }
  if (password.size() > kMaxPasswordLength) {
    return Fail(ErrorCode::InvalidInput, fmt::format("the password is too long: at most {} characters", kMaxPasswordLength), "body.password");
  }
  return true;
}

Result<std::string> HashPassword(std::string_view password, const PasswordCost& cost) {
  const auto salt = RandomBytes(kSaltBytes);
  const std::size_t length = argon2_encodedlen(cost.passes, cost.memory_kib, cost.lanes, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(length, '\0');
  const int status = argon2id_hash_encoded(cost.passes, cost.memory_kib, cost.lanes, password.data(), password.size(), salt.data(),
                                           salt.size(), kHashBytes, encoded.data(), encoded.size());
  if (status != ARGON2_OK) return Fail(ErrorCode::Internal, fmt::format("argon2id failed: {}", argon2_error_message(status)));
  encoded.resize(std::char_traits<char>::length(encoded.c_str()));
  return encoded;
}

bool VerifyPassword(std::string_view password, const std::string& encoded_hash) {
  if (!encoded_hash.starts_with("$argon2id$")) return false;
  return argon2id_verify(encoded_hash.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::string RandomToken(std::size_t bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto random = RandomBytes(bytes);
  std::string out;
  out.reserve((bytes * 4 + 2) / 3);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const unsigned char byte : random) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3F];
  return out;
}

std::string RandomPassword(std::size_t length) {
  // No 0/O, 1/l/I: the password is read off a terminal and typed.
  static constexpr std::string_view kAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string out;
  while (out.size() < length) {
    for (const unsigned char byte : RandomBytes(length)) {
      // Rejection sampling keeps every character equally likely.
      if (byte >= 256 - (256 % kAlphabet.size())) continue;
      out += kAlphabet[byte % kAlphabet.size()];
      if (out.size() == length) break;
    }
  }
  return out;
}

std::string TokenHash(std::string_view token) {
  Sha256 sha;
  sha.Update(token);
  return sha.HexDigest();
}

bool ConstantTimeEquals(std::string_view left, std::string_view right) {
  if (left.size() != right.size()) return false;
  return CRYPTO_memcmp(left.data(), right.data(), left.size()) == 0;
}

RateLimiter::RateLimiter(int max_failures, std::chrono::seconds window)
    : max_failures_(max_failures), window_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(window).count()) {}

std::int64_t RateLimiter::RetryAfterSeconds(const std::string& key, std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  const auto found = failures_.find(key);
  if (found == failures_.end()) return 0;
  auto& times = found->second;
  while (!times.empty() && times.front() <= now_ms - window_ms_) times.pop_front();
  if (static_cast<int>(times.size()) < max_failures_) return 0;
  const std::int64_t wait_ms = times.front() + window_ms_ - now_ms;
  return std::max<std::int64_t>(1, (wait_ms + 999) / 1000);
}

void RateLimiter::RecordFailure(const std::string& key, std::int64_t now_ms) {
  const std::lock_guard lock(mutex_);
  if (failures_.size() >= kMaxRateLimitKeys) Prune(now_ms);
  auto& times = failures_[key];
  times.push_back(now_ms);
  // Only the newest max_failures_ matter for the decision.
  while (static_cast<int>(times.size()) > max_failures_) times.pop_front();
}

void RateLimiter::Reset(const std::string& key) {
  const std::lock_guard lock(mutex_);
  failures_.erase(key);
}

void RateLimiter::Prune(std::int64_t now_ms) {
  for (auto entry = failures_.begin(); entry != failures_.end();) {
    if (entry->second.empty() || entry->second.back() <= now_ms - window_ms_) {
      entry = failures_.erase(entry);
    } else {
      ++entry;
    }
  }
  // Still full (an attack from many addresses): forget everything rather than grow without bound.
  if (failures_.size() >= kMaxRateLimitKeys) failures_.clear();
}

}  // namespace refract::server
