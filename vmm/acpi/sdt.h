// SPDX-License-Identifier: MIT
// Byte-level helpers shared by the fixed-layout ACPI tables: the 36-byte
// system description table header, little-endian stores, checksums and the
// Generic Address Structure. Tables are built as byte vectors with explicit
// offsets (from the ACPI 6.5 specification, chapter 5.2) instead of packed
// structs, so the layout does not depend on the compiler.
#ifndef VMM_ACPI_SDT_H_
#define VMM_ACPI_SDT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vmm::acpi {

using Bytes = std::vector<uint8_t>;

inline constexpr size_t kSdtHeaderSize = 36;
// OEM ID (6 characters) and OEM table ID (8) written into every header.
inline constexpr char kOemId[] = "VMMVMM";
inline constexpr char kOemTableId[] = "VMMTABLE";

// A table of `size` bytes (at least the header), zero-filled, with the
// signature, revision and OEM fields set. FinishSdt() sets the length and
// checksum once the body is complete.
Bytes SdtHeader(const char (&signature)[5], uint8_t revision, size_t size = kSdtHeaderSize);
void FinishSdt(Bytes& table);

void PutLe(Bytes& bytes, size_t offset, uint64_t value, int width);
void AppendLe(Bytes& bytes, uint64_t value, int width);
uint64_t GetLe(const Bytes& bytes, size_t offset, int width);

// The byte that makes `length` bytes from `data` sum to zero (mod 256).
uint8_t Checksum(const uint8_t* data, size_t length);

// The GAS "access size" field: how wide each register access must be.
enum class AccessSize : uint8_t { kByte = 1, kWord = 2, kDword = 3, kQword = 4 };

// A 12-byte Generic Address Structure for a block of `bit_width` bits in
// port I/O space.
void PutSystemIoGas(Bytes& table, size_t offset, uint16_t port, uint8_t bit_width,
                    AccessSize access_size);

}  // namespace vmm::acpi

#endif  // VMM_ACPI_SDT_H_
