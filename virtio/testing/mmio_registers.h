// SPDX-License-Identifier: MIT
// MmioRegisters: the driver's side of a virtio-mmio register file, for
// tests only: 32-bit register reads and writes and the steps of a driver's
// probe (feature negotiation, a queue pointed at a FakeDriver's rings,
// DRIVER_OK), so each device's test harness does not spell them again.
#ifndef VIRTIO_TESTING_MMIO_REGISTERS_H_
#define VIRTIO_TESTING_MMIO_REGISTERS_H_

#include <cstdint>

#include "virtio/mmio_transport.h"
#include "virtio/testing/fake_driver.h"

namespace virtio {

class MmioRegisters {
 public:
  explicit MmioRegisters(MmioTransport& transport) : transport_(transport) {}

  void Write(uint64_t offset, uint32_t value);
  uint32_t Read(uint64_t offset);
  // Both halves of DeviceFeatures.
  uint64_t OfferedFeatures();
  // ACKNOWLEDGE | DRIVER, `features` written (both halves), FEATURES_OK.
  // Returns the status written, for DriverOk.
  uint32_t AcceptFeatures(uint64_t features);
  // Queue `index` on `rings` (its size, its three addresses), then ready.
  void SetUpQueue(uint16_t index, const FakeDriver& rings);
  // DRIVER_OK on top of `status`; returns the status register read back.
  uint32_t DriverOk(uint32_t status);

 private:
  MmioTransport& transport_;
};

}  // namespace virtio

#endif  // VIRTIO_TESTING_MMIO_REGISTERS_H_
