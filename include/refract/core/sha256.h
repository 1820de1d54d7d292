// SPDX-License-Identifier: Apache-2.0
/// SHA-256 (FIPS 180-4), used for the knowledge-base content digest.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace refract {

/// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  /// Adds bytes to the message.
  void Update(std::string_view bytes);
  /// Finishes the message and returns the digest as 64 lower-case hex characters.
  [[nodiscard]] std::string HexDigest();

 private:
  void Block(const std::uint8_t* block);

  std::array<std::uint32_t, 8> state_{};
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

}  // namespace refract
