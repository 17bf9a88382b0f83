// SPDX-License-Identifier: MIT
#include "migration/crc32c.h"

#include <nmmintrin.h>

#include <array>
#include <cstring>

namespace migration {
namespace {

constexpr uint32_t kPolynomial = 0x82f63b78;  // reflected Castagnoli

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t Software(uint32_t crc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

__attribute__((target("sse4.2"))) uint32_t Hardware(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, *p++);
    --n;
  }
  return c32;
}

const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");

__attribute__((target("sse4.2"))) uint64_t FingerprintHardware(const uint8_t* p) {
  constexpr size_t kLane = 1024;
  uint64_t a = 0, b = 1, c = 2, d = 3;
  for (size_t i = 0; i < kLane; i += 8) {
    uint64_t wa, wb, wc, wd;
    std::memcpy(&wa, p + i, 8);
    std::memcpy(&wb, p + kLane + i, 8);
    std::memcpy(&wc, p + 2 * kLane + i, 8);
    std::memcpy(&wd, p + 3 * kLane + i, 8);
    a = _mm_crc32_u64(a, wa);
    b = _mm_crc32_u64(b, wb);
    c = _mm_crc32_u64(c, wc);
    d = _mm_crc32_u64(d, wd);
  }
  return (a << 32 | b) ^ (c << 32 | d) * 0x9e3779b97f4a7c15ull;
}

}  // namespace

uint64_t PageFingerprint(const void* page) {
  const auto* p = static_cast<const uint8_t*>(page);
  if (kHaveSse42) return FingerprintHardware(p);
  uint64_t lanes[4];
  for (int k = 0; k < 4; ++k) lanes[k] = Software(static_cast<uint32_t>(k), p + k * 1024, 1024);
  return (lanes[0] << 32 | lanes[1]) ^ (lanes[2] << 32 | lanes[3]) * 0x9e3779b97f4a7c15ull;
}

uint64_t ZeroPageFingerprint() {
  static const uint64_t fingerprint = [] {
    const std::array<uint8_t, 4096> zero{};
    return PageFingerprint(zero.data());
  }();
  return fingerprint;
}

uint32_t Crc32c(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  crc = kHaveSse42 ? Hardware(crc, p, size) : Software(crc, p, size);
  return ~crc;
}

}  // namespace migration
