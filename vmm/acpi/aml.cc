#include "vmm/acpi/aml.h"

#include <algorithm>
#include <cassert>

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
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;
constexpr uint8_t kRootChar = 0x5c;
constexpr uint8_t kOnesOp = 0xff;

void Append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }
void AppendLe(Bytes& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// Opcode(s), PkgLength, then the body.
Bytes WithPkgLength(Bytes opcode, const Bytes& body) {
  Append(opcode, PkgLength(body.size()));
  Append(opcode, body);
  return opcode;
}

}  // namespace

Bytes PkgLength(size_t body_length) {
  // One byte holds up to 63 in bits 0-5. Longer: bits 6-7 say how many
  // bytes follow, the lead byte keeps the low nibble, the rest follow.
  if (body_length + 1 <= 0x3f) return {static_cast<uint8_t>(body_length + 1)};
  for (int n = 2; n <= 4; ++n) {
    size_t total = body_length + n;
    if (total < (size_t{1} << (4 + 8 * (n - 1)))) {
      Bytes out{static_cast<uint8_t>(((n - 1) << 6) | (total & 0x0f))};
      for (int i = 1; i < n; ++i) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * (i - 1))));
      return out;
    }
  }
  assert(false && "AML package too large");
  return {};
}

Bytes NameSeg(const std::string& name) {
  std::string seg = name.substr(0, 4);
  seg.resize(4, '_');
  return Bytes(seg.begin(), seg.end());
}

Bytes NameString(const std::string& path) {
  Bytes out;
  std::string rest = path;
  if (!rest.empty() && rest[0] == '\\') {
    out.push_back(kRootChar);
    rest = rest.substr(1);
  }
  Append(out, NameSeg(rest));
  return out;
}

Bytes Integer(uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  if (value == ~0ull) return {kOnesOp};
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
  // Sized up front: GCC 12 warns (falsely) on insert() into a 1-byte vector.
  Bytes out(text.size() + 2, 0);
  out[0] = kStringPrefix;
  std::copy(text.begin(), text.end(), out.begin() + 1);
  return out;
}

Bytes EisaId(const std::string& id) {
  // Three letters, 5 bits each (A = 1), then four hex digits; stored so the
  // bytes read in order: letters high byte first, then the digit pairs.
  auto hex = [](char c) -> uint32_t { return c <= '9' ? c - '0' : (c & ~0x20) - 'A' + 10; };
  uint32_t letters = ((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40);
  uint32_t digits = (hex(id[3]) << 12) | (hex(id[4]) << 8) | (hex(id[5]) << 4) | hex(id[6]);
  uint32_t value = ((letters >> 8) & 0xff) | ((letters & 0xff) << 8) | (((digits >> 8) & 0xff) << 16) |
                   ((digits & 0xff) << 24);
  Bytes out{kDWordPrefix};
  AppendLe(out, value, 4);
  return out;
}

Bytes Name(const std::string& name, const Bytes& value) {
  Bytes out{kNameOp};
  Append(out, NameString(name));
  Append(out, value);
  return out;
}

Bytes Scope(const std::string& path, const Bytes& terms) {
  return WithPkgLength({kScopeOp}, Concat({NameString(path), terms}));
}

Bytes Device(const std::string& name, const Bytes& terms) {
  return WithPkgLength({kExtOpPrefix, kDeviceOp}, Concat({NameString(name), terms}));
}

Bytes Package(const std::vector<Bytes>& elements) {
  Bytes body{static_cast<uint8_t>(elements.size())};
  for (const Bytes& e : elements) Append(body, e);
  return WithPkgLength({kPackageOp}, body);
}

Bytes Buffer(const Bytes& data) {
  Bytes body = Integer(data.size());
  Append(body, data);
  return WithPkgLength({kBufferOp}, body);
}

Bytes IoPort(uint16_t base, uint8_t length) {
  Bytes out{0x47, 0x01};  // small item "I/O port", 7 bytes; 16-bit decode
  AppendLe(out, base, 2);  // minimum
  AppendLe(out, base, 2);  // maximum
  out.push_back(1);        // alignment
  out.push_back(length);
  return out;
}

Bytes IrqNoFlags(uint8_t irq) {
  Bytes out{0x22};  // small item "IRQ", 2 bytes: the mask
  AppendLe(out, 1u << irq, 2);
  return out;
}

Bytes Memory32Fixed(uint32_t base, uint32_t length) {
  Bytes out{0x86, 0x09, 0x00, 0x01};  // large item, length 9, read-write
  AppendLe(out, base, 4);
  AppendLe(out, length, 4);
  return out;
}

Bytes ExtendedInterrupt(uint32_t irq, bool edge, bool active_low) {
  uint8_t flags = 0x01;  // resource consumer, exclusive
  if (edge) flags |= 0x02;
  if (active_low) flags |= 0x04;
  Bytes out{0x89, 0x06, 0x00, flags, 0x01};  // large item, length 6, one interrupt
  AppendLe(out, irq, 4);
  return out;
}

Bytes ResourceTemplate(const std::vector<Bytes>& descriptors) {
  Bytes data = Concat(descriptors);
  data.push_back(0x79);  // end tag
  data.push_back(0x00);  // checksum 0: "treat as correct"
  return Buffer(data);
}

Bytes Concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& p : parts) Append(out, p);
  return out;
}

}  // namespace vmm::acpi::aml
