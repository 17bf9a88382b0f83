// SPDX-License-Identifier: MIT
// Bus: maps guest address ranges (MMIO or port I/O) to devices. A device
// sees only the offset inside its own range. Insertion rejects empty,
// overflowing and overlapping ranges; the bus is filled before vCPUs start
// and read-only afterwards, so lookups need no lock.
#ifndef MEMORY_BUS_H_
#define MEMORY_BUS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "absl/status/status.h"

namespace memory {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  virtual void Read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void Write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class Bus {
 public:
  explicit Bus(std::string name) : name_(std::move(name)) {}
  absl::Status Insert(uint64_t base, uint64_t size, std::shared_ptr<BusDevice> device);
  // False when nothing is mapped at `address` (reads then return all ones).
  bool Read(uint64_t address, std::span<uint8_t> data) const;
  bool Write(uint64_t address, std::span<const uint8_t> data) const;

 private:
  struct Entry {
    uint64_t size;
    std::shared_ptr<BusDevice> device;
  };
  // Finds the device whose range holds all of [address, address + length).
  const std::pair<const uint64_t, Entry>* Find(uint64_t address, uint64_t length) const;

  std::string name_;
  std::map<uint64_t, Entry> ranges_;  // keyed by base
};

}  // namespace memory

#endif  // MEMORY_BUS_H_
