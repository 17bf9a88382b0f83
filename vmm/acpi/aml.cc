// SPDX-License-Identifier: MIT
// AML encodings from the ACPI 6.5 specification, chapter 20 ("ACPI Machine
// Language Specification") and section 6.4 (resource descriptors).
#include "vmm/acpi/aml.h"

#include <cstdlib>

#include "base/logging.h"

namespace vmm::acpi::aml {
namespace {

constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kDualNamePrefix = 0x2e;
constexpr uint8_t kMultiNamePrefix = 0x2f;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
constexpr uint8_t kRootChar = 0x5c;
constexpr uint8_t kParentPrefixChar = 0x5e;
constexpr uint8_t kOnesOp = 0xff;

// Resource descriptor tags (ACPI 6.5 section 6.4): small items carry their
// length in the tag byte, large items in the two bytes after it.
constexpr uint8_t kIrqTag = 0x22;  // small item 0x04, 2 bytes (no flags byte)
constexpr uint8_t kIoTag = 0x47;   // small item 0x08, 7 bytes
constexpr uint8_t kEndTag = 0x79;  // small item 0x0f, 1 byte (checksum)
constexpr uint8_t kMemory32FixedTag = 0x86;
constexpr uint8_t kExtendedIrqTag = 0x89;

// The encoder's inputs are the VMM's own constants; a bad one is a bug that
// must not turn into AML the guest would misparse.
void Require(bool condition, const char* what) {
  if (!condition) {
    LOG_ERROR("AML encoder misused: %s", what);
    std::abort();
  }
}

void Append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

void AppendLe(Bytes& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// Opcode bytes, PkgLength, then the body.
Bytes WithPkgLength(Bytes opcode, const Bytes& body) {
  Append(opcode, PkgLength(body.size()));
  Append(opcode, body);
  return opcode;
}

bool IsLeadNameChar(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsLeadNameChar(c) || (c >= '0' && c <= '9'); }

}  // namespace

Bytes PkgLength(size_t body_length) {
  Require(body_length <= kMaxPkgBody, "package body over 2^28 bytes");
  // One byte holds 0..63 in bits 0-5. Longer: bits 6-7 of the lead byte
  // count the bytes that follow, the lead byte keeps the low nibble (bits
  // 4-5 must be zero), and each following byte holds the next 8 bits.
  if (body_length + 1 <= 0x3f) return {static_cast<uint8_t>(body_length + 1)};
  for (int n = 2; n <= 4; ++n) {
    size_t total = body_length + n;
    if (total < (size_t{1} << (4 + 8 * (n - 1)))) {
      Bytes out{static_cast<uint8_t>(((n - 1) << 6) | (total & 0x0f))};
      AppendLe(out, total >> 4, n - 1);
      return out;
    }
  }
  Require(false, "unreachable PkgLength size");
  return {};
}

Bytes NameSeg(const std::string& segment) {
  Require(!segment.empty() && segment.size() <= 4, "name segment must be 1-4 characters");
  Require(IsLeadNameChar(segment[0]), "name segment must start with A-Z or _");
  for (char c : segment) Require(IsNameChar(c), "name segment characters must be A-Z, 0-9 or _");
  std::string padded = segment;
  padded.resize(4, '_');
  return Bytes(padded.begin(), padded.end());
}

Bytes NamePath(const std::string& path) {
  Bytes out;
  size_t at = 0;
  if (at < path.size() && path[at] == '\\') {
    out.push_back(kRootChar);
    ++at;
  } else {
    while (at < path.size() && path[at] == '^') {
      out.push_back(kParentPrefixChar);
      ++at;
    }
  }
  std::vector<Bytes> segments;
  while (at < path.size()) {
    size_t dot = path.find('.', at);
    if (dot == std::string::npos) dot = path.size();
    segments.push_back(NameSeg(path.substr(at, dot - at)));
    at = dot + 1;
    Require(dot == path.size() || at < path.size(), "name path ends with '.'");
  }
  Require(segments.size() <= 255, "name path has more than 255 segments");
  if (segments.empty()) {
    out.push_back(0x00);  // NullName: "\" alone, or a bare parent prefix
  } else if (segments.size() == 2) {
    out.push_back(kDualNamePrefix);
  } else if (segments.size() > 2) {
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<uint8_t>(segments.size()));
  }
  for (const Bytes& s : segments) Append(out, s);
  return out;
}

Bytes Integer(uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  // Ones is all bits set in the DSDT's integer width; our DSDT is revision
  // 2, so integers are 64 bits wide and only ~0 may be written as Ones.
  if (value == ~uint64_t{0}) return {kOnesOp};
  Bytes out;
  if (value <= 0xff) {
    out.push_back(kBytePrefix);
    AppendLe(out, value, 1);
  } else if (value <= 0xffff) {
    out.push_back(kWordPrefix);
    AppendLe(out, value, 2);
  } else if (value <= 0xffffffff) {
    out.push_back(kDWordPrefix);
    AppendLe(out, value, 4);
  } else {
    out.push_back(kQWordPrefix);
    AppendLe(out, value, 8);
  }
  return out;
}

Bytes String(const std::string& text) {
  Bytes out{kStringPrefix};
  for (char c : text) {
    Require(c > 0, "AML strings are ASCII 0x01-0x7f");
    out.push_back(static_cast<uint8_t>(c));
  }
  out.push_back(0x00);
  return out;
}

Bytes EisaId(const std::string& id) {
  Require(id.size() == 7, "EISA ID must be 7 characters");
  auto hex = [](char c) -> uint32_t {
    if (c >= '0' && c <= '9') return c - '0';
    Require(c >= 'A' && c <= 'F', "EISA ID product number must be upper-case hex");
    return c - 'A' + 10;
  };
  for (int i = 0; i < 3; ++i) Require(id[i] >= 'A' && id[i] <= 'Z', "EISA ID vendor must be A-Z");
  // Three letters of 5 bits each ('A' = 1) and four hex digits form a
  // big-endian 32-bit value; AML stores it as a little-endian DWord, so the
  // bytes appear in reading order ("PNP0501" -> 41 d0 05 01).
  uint32_t big_endian = (uint32_t(id[0] - 0x40) << 26) | (uint32_t(id[1] - 0x40) << 21) |
                        (uint32_t(id[2] - 0x40) << 16) | (hex(id[3]) << 12) | (hex(id[4]) << 8) |
                        (hex(id[5]) << 4) | hex(id[6]);
  Bytes out{kDWordPrefix};
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(big_endian >> shift));
  return out;
}

Bytes Package(const std::vector<Bytes>& elements) {
  Require(elements.size() <= 255, "Package has more than 255 elements");
  Bytes body{static_cast<uint8_t>(elements.size())};
  for (const Bytes& e : elements) Append(body, e);
  return WithPkgLength({kPackageOp}, body);
}

Bytes Buffer(const Bytes& data) {
  Bytes body = Integer(data.size());
  Append(body, data);
  return WithPkgLength({kBufferOp}, body);
}

Bytes Name(const std::string& path, const Bytes& value) {
  Bytes out{kNameOp};
  Append(out, NamePath(path));
  Append(out, value);
  return out;
}

Bytes Scope(const std::string& path, const std::vector<Bytes>& terms) {
  Bytes body = NamePath(path);
  for (const Bytes& t : terms) Append(body, t);
  return WithPkgLength({kScopeOp}, body);
}

Bytes Device(const std::string& path, const std::vector<Bytes>& terms) {
  Bytes body = NamePath(path);
  for (const Bytes& t : terms) Append(body, t);
  return WithPkgLength({kExtOpPrefix, kDeviceOp}, body);
}

Bytes Io(uint16_t base, uint8_t length) {
  Bytes out{kIoTag, 0x01};  // information: decodes all 16 address bits
  AppendLe(out, base, 2);   // range minimum
  AppendLe(out, base, 2);   // range maximum: the same, so the range is fixed
  out.push_back(1);         // alignment
  out.push_back(length);
  return out;
}

Bytes IrqNoFlags(uint8_t irq) {
  Require(irq < 16, "IRQNoFlags takes an ISA IRQ (0-15)");
  Bytes out{kIrqTag};
  AppendLe(out, 1u << irq, 2);  // the IRQ mask
  return out;
}

Bytes Memory32Fixed(uint32_t base, uint32_t length) {
  Bytes out{kMemory32FixedTag, 0x09, 0x00, 0x01};  // length 9; information: read-write
  AppendLe(out, base, 4);
  AppendLe(out, length, 4);
  return out;
}

Bytes Interrupt(uint32_t gsi, Trigger trigger, Polarity polarity, Sharing sharing) {
  uint8_t flags = 0x01;  // bit 0: resource consumer
  if (trigger == Trigger::kEdge) flags |= 0x02;
  if (polarity == Polarity::kActiveLow) flags |= 0x04;
  if (sharing == Sharing::kShared) flags |= 0x08;
  // Length 6: flags, the table length (1), one 32-bit interrupt number.
  Bytes out{kExtendedIrqTag, 0x06, 0x00, flags, 0x01};
  AppendLe(out, gsi, 4);
  return out;
}

Bytes ResourceTemplate(const std::vector<Bytes>& descriptors) {
  Bytes data = Concat(descriptors);
  data.push_back(kEndTag);
  data.push_back(0x00);  // checksum 0: "the descriptors are correct"
  return Buffer(data);
}

Bytes Concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& p : parts) Append(out, p);
  return out;
}

}  // namespace vmm::acpi::aml
