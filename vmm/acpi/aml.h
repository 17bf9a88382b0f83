// SPDX-License-Identifier: MIT
// A small AML (ACPI Machine Language) encoder: just what this VMM's DSDT
// needs (names, scopes, devices, packages, integers, strings, EISA IDs and
// resource templates). Each function returns the encoded bytes, so terms
// compose by concatenation and tests compare exact byte sequences.
//
// Inputs come from the VMM's own code (fixed names, validated device
// lists), never from a guest. A malformed input is a programming error, so
// the encoder aborts rather than emit AML that the guest would misparse.
#ifndef VMM_ACPI_AML_H_
#define VMM_ACPI_AML_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vmm::acpi::aml {

using Bytes = std::vector<uint8_t>;

// The largest body a PkgLength can describe: 28 bits, minus its own 4 bytes.
inline constexpr size_t kMaxPkgBody = (size_t{1} << 28) - 1 - 4;

// PkgLength for a body of `body_length` bytes; the encoded value counts the
// PkgLength bytes themselves, so the size (1-4 bytes) is chosen with them.
Bytes PkgLength(size_t body_length);

// One 4-character name segment ("COM1", "_HID"); shorter names are padded
// with '_' as ASL does ("_S5" -> "_S5_").
Bytes NameSeg(const std::string& segment);
// A NameString: optional root ('\') or parent ('^') prefixes, then zero or
// more '.'-separated segments ("\\_SB_.COM1", "_UID", "^^PEVT").
Bytes NamePath(const std::string& path);

// The shortest encoding: Zero, One, Ones, then Byte/Word/DWord/QWord.
Bytes Integer(uint64_t value);
// A NUL-terminated ASCII string constant (no embedded NULs).
Bytes String(const std::string& text);
// A 7-character EISA ID ("PNP0501") compressed to its 32-bit form.
Bytes EisaId(const std::string& id);
// Package of at most 255 elements (the DefPackage NumElements byte).
Bytes Package(const std::vector<Bytes>& elements);
Bytes Buffer(const Bytes& data);

Bytes Name(const std::string& path, const Bytes& value);
Bytes Scope(const std::string& path, const std::vector<Bytes>& terms);
Bytes Device(const std::string& path, const std::vector<Bytes>& terms);

// Resource descriptors for ResourceTemplate().
// IO(Decode16, base, base, 1, length): a fixed range, full 16-bit decode.
Bytes Io(uint16_t base, uint8_t length);
// IRQNoFlags() {irq}: ISA IRQ (0-15), edge, active high, exclusive.
Bytes IrqNoFlags(uint8_t irq);
// Memory32Fixed(ReadWrite, base, length).
Bytes Memory32Fixed(uint32_t base, uint32_t length);

enum class Trigger { kLevel, kEdge };
enum class Polarity { kActiveHigh, kActiveLow };
enum class Sharing { kExclusive, kShared };
// Interrupt(ResourceConsumer, trigger, polarity, sharing) {gsi}: the
// extended descriptor, which names a GSI rather than an ISA IRQ.
Bytes Interrupt(uint32_t gsi, Trigger trigger, Polarity polarity,
                Sharing sharing = Sharing::kExclusive);

// A Buffer holding the descriptors and an EndTag whose checksum byte is 0
// ("treat as correct", which every OS accepts and iasl also emits).
Bytes ResourceTemplate(const std::vector<Bytes>& descriptors);

Bytes Concat(const std::vector<Bytes>& parts);

}  // namespace vmm::acpi::aml

#endif  // VMM_ACPI_AML_H_
