// A small AML (ACPI Machine Language) encoder: just what the DSDT of this
// VMM needs (names, scopes, devices, packages, integers, strings, EISA IDs
// and resource templates). Each function returns the encoded bytes, so
// terms compose by concatenation and tests compare exact byte sequences.
#ifndef VMM_ACPI_AML_H_
#define VMM_ACPI_AML_H_

#include <cstdint>
#include <string>
#include <vector>

namespace vmm::acpi::aml {

using Bytes = std::vector<uint8_t>;

// PkgLength of a body of `body_length` bytes (the encoding counts itself).
Bytes PkgLength(size_t body_length);
// A 4-character name segment ("COM1", "_HID"); shorter names are padded with '_'.
Bytes NameSeg(const std::string& name);
// "\_SB_" style root paths or plain segments.
Bytes NameString(const std::string& path);
Bytes Integer(uint64_t value);
Bytes String(const std::string& text);
// EISA ID ("PNP0501") compressed into the 32-bit integer form.
Bytes EisaId(const std::string& id);
Bytes Name(const std::string& name, const Bytes& value);
Bytes Scope(const std::string& path, const Bytes& terms);
Bytes Device(const std::string& name, const Bytes& terms);
Bytes Package(const std::vector<Bytes>& elements);
Bytes Buffer(const Bytes& data);

// Resource descriptors for a ResourceTemplate (a Buffer ending in EndTag).
Bytes IoPort(uint16_t base, uint8_t length);         // IO(Decode16, base, base, 1, length)
Bytes IrqNoFlags(uint8_t irq);                       // IRQNoFlags() {irq}
Bytes Memory32Fixed(uint32_t base, uint32_t length);  // read-write
Bytes ExtendedInterrupt(uint32_t irq, bool edge, bool active_low);  // consumer, exclusive
Bytes ResourceTemplate(const std::vector<Bytes>& descriptors);

Bytes Concat(const std::vector<Bytes>& parts);

}  // namespace vmm::acpi::aml

#endif  // VMM_ACPI_AML_H_
