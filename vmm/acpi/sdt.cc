// SPDX-License-Identifier: MIT
#include "vmm/acpi/sdt.h"

#include <cstring>

namespace vmm::acpi {

Bytes SdtHeader(const char (&signature)[5], uint8_t revision, size_t size) {
  Bytes t(size < kSdtHeaderSize ? kSdtHeaderSize : size, 0);
  std::memcpy(t.data(), signature, 4);
  t[8] = revision;
  std::memcpy(t.data() + 10, kOemId, 6);
  std::memcpy(t.data() + 16, kOemTableId, 8);
  PutLe(t, 24, 1, 4);                     // OEM revision
  std::memcpy(t.data() + 28, "VMMC", 4);  // creator ID
  PutLe(t, 32, 1, 4);                     // creator revision
  return t;
}

void FinishSdt(Bytes& table) {
  PutLe(table, 4, table.size(), 4);
  table[9] = 0;
  table[9] = Checksum(table.data(), table.size());
}

void PutLe(Bytes& bytes, size_t offset, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

void AppendLe(Bytes& bytes, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) bytes.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint64_t GetLe(const Bytes& bytes, size_t offset, int width) {
  uint64_t value = 0;
  for (int i = 0; i < width; ++i) value |= uint64_t{bytes[offset + i]} << (8 * i);
  return value;
}

uint8_t Checksum(const uint8_t* data, size_t length) {
  uint8_t sum = 0;
  for (size_t i = 0; i < length; ++i) sum = static_cast<uint8_t>(sum + data[i]);
  return static_cast<uint8_t>(-sum);
}

void PutSystemIoGas(Bytes& table, size_t offset, uint16_t port, uint8_t bit_width,
                    AccessSize access_size) {
  table[offset] = 1;  // address space: system I/O
  table[offset + 1] = bit_width;
  table[offset + 2] = 0;  // bit offset
  table[offset + 3] = static_cast<uint8_t>(access_size);
  PutLe(table, offset + 4, port, 8);
}

}  // namespace vmm::acpi
