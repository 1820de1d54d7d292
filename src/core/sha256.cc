// SPDX-License-Identifier: Apache-2.0
// SHA-256 after FIPS 180-4.
#include "refract/core/sha256.h"


namespace refract {
namespace {
constexpr std::array<std::uint32_t, 64> kRoundConstants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

constexpr std::uint32_t Rotr(std::uint32_t value, int bits) { return (value >> bits) | (value << (32 - bits)); }
}  // namespace

Sha256::Sha256()
    : state_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::Update(std::string_view bytes) {
  for (const char character : bytes) {
    buffer_[buffered_++] = static_cast<std::uint8_t>(character);
    if (buffered_ == buffer_.size()) {
      Block(buffer_.data());
      buffered_ = 0;
    }
  }
  total_bytes_ += bytes.size();
}

std::string Sha256::HexDigest() {
  const std::uint64_t bit_length = total_bytes_ * 8;
  // 0x80, zeros up to 56 bytes in the block, then the message length in bits (big-endian).
  std::array<char, 72> tail{};
  tail[0] = '\x80';
  const std::size_t pad = buffered_ < 56 ? 56 - buffered_ : 120 - buffered_;
  for (std::size_t byte_idx = 0; byte_idx < 8; ++byte_idx) tail[pad + byte_idx] = static_cast<char>((bit_length >> (56 - 8 * byte_idx)) & 0xffU);
  Update(std::string_view(tail.data(), pad + 8));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t word_idx = 0; word_idx < state_.size(); ++word_idx) {
    for (std::size_t nibble = 0; nibble < 8; ++nibble) out[word_idx * 8 + nibble] = kHex[(state_[word_idx] >> (28 - 4 * nibble)) & 0xFU];
  }
  return out;
}

void Sha256::Block(const std::uint8_t* block) {
  std::array<std::uint32_t, 64> schedule{};
  for (std::size_t word_idx = 0; word_idx < 16; ++word_idx) {
    schedule[word_idx] = (std::uint32_t{block[word_idx * 4]} << 24) | (std::uint32_t{block[word_idx * 4 + 1]} << 16) |
                         (std::uint32_t{block[word_idx * 4 + 2]} << 8) | std::uint32_t{block[word_idx * 4 + 3]};
  }
  for (std::size_t word_idx = 16; word_idx < 64; ++word_idx) {
    const std::uint32_t s0 = Rotr(schedule[word_idx - 15], 7) ^ Rotr(schedule[word_idx - 15], 18) ^ (schedule[word_idx - 15] >> 3);
    const std::uint32_t s1 = Rotr(schedule[word_idx - 2], 17) ^ Rotr(schedule[word_idx - 2], 19) ^ (schedule[word_idx - 2] >> 10);
    schedule[word_idx] = schedule[word_idx - 16] + s0 + schedule[word_idx - 7] + s1;
  }
  std::array<std::uint32_t, 8> work = state_;
  for (std::size_t round = 0; round < 64; ++round) {
    const std::uint32_t s1 = Rotr(work[4], 6) ^ Rotr(work[4], 11) ^ Rotr(work[4], 25);
    const std::uint32_t choice = (work[4] & work[5]) ^ (~work[4] & work[6]);
    const std::uint32_t temp1 = work[7] + s1 + choice + kRoundConstants[round] + schedule[round];
    const std::uint32_t s0 = Rotr(work[0], 2) ^ Rotr(work[0], 13) ^ Rotr(work[0], 22);
    const std::uint32_t majority = (work[0] & work[1]) ^ (work[0] & work[2]) ^ (work[1] & work[2]);
    const std::uint32_t temp2 = s0 + majority;
    work[7] = work[6];
    work[6] = work[5];
    work[5] = work[4];
    work[4] = work[3] + temp1;
    work[3] = work[2];
    work[2] = work[1];
    work[1] = work[0];
    work[0] = temp1 + temp2;
  }
  for (std::size_t word_idx = 0; word_idx < 8; ++word_idx) state_[word_idx] += work[word_idx];
}

}  // namespace refract
