// SPDX-License-Identifier: MIT
// CRC32C (Castagnoli), the integrity check of every migration record. Uses
// the SSE4.2 crc32 instruction when the host has it (fast enough that the
// check costs little next to sending the bytes), a table otherwise.
#ifndef MIGRATION_CRC32C_H_
#define MIGRATION_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace migration {

// Extends `crc` (0 to start) over [data, data + size). Crc32c(Crc32c(0, a), b)
// equals the CRC of a followed by b.
uint32_t Crc32c(uint32_t crc, const void* data, size_t size);

// A 64-bit fingerprint of one 4 KiB page for the migrator's own change
// detection (never on the wire): four interleaved CRC32C lanes over the
// page's quarters, so the crc32 instruction's latency overlaps (faster than
// one Crc32c over the page).
uint64_t PageFingerprint(const void* page);
// PageFingerprint of a page of zeros (what an unpopulated page reads as).
uint64_t ZeroPageFingerprint();

}  // namespace migration

#endif  // MIGRATION_CRC32C_H_
