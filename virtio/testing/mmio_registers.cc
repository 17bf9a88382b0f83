// SPDX-License-Identifier: MIT
#include "virtio/testing/mmio_registers.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

namespace virtio {

void MmioRegisters::Write(uint64_t offset, uint32_t value) {
  transport_.Write(offset, {reinterpret_cast<const uint8_t*>(&value), 4});
}

uint32_t MmioRegisters::Read(uint64_t offset) {
  uint32_t value = 0;
  transport_.Read(offset, {reinterpret_cast<uint8_t*>(&value), 4});
  return value;
}

uint64_t MmioRegisters::OfferedFeatures() {
  Write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  const uint64_t low = Read(VIRTIO_MMIO_DEVICE_FEATURES);
  Write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  return low | uint64_t{Read(VIRTIO_MMIO_DEVICE_FEATURES)} << 32;
}

uint32_t MmioRegisters::AcceptFeatures(uint64_t features) {
  Write(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  Write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  Write(VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features));
  Write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  Write(VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features >> 32));
  const uint32_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
  Write(VIRTIO_MMIO_STATUS, status);
  return status;
}

void MmioRegisters::SetUpQueue(uint16_t index, const FakeDriver& rings) {
  Write(VIRTIO_MMIO_QUEUE_SEL, index);
  Write(VIRTIO_MMIO_QUEUE_NUM, rings.size());
  Write(VIRTIO_MMIO_QUEUE_DESC_LOW, static_cast<uint32_t>(rings.desc_table()));
  Write(VIRTIO_MMIO_QUEUE_DESC_HIGH, static_cast<uint32_t>(rings.desc_table() >> 32));
  Write(VIRTIO_MMIO_QUEUE_AVAIL_LOW, static_cast<uint32_t>(rings.avail_ring()));
  Write(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, static_cast<uint32_t>(rings.avail_ring() >> 32));
  Write(VIRTIO_MMIO_QUEUE_USED_LOW, static_cast<uint32_t>(rings.used_ring()));
  Write(VIRTIO_MMIO_QUEUE_USED_HIGH, static_cast<uint32_t>(rings.used_ring() >> 32));
  Write(VIRTIO_MMIO_QUEUE_READY, 1);
}

uint32_t MmioRegisters::DriverOk(uint32_t status) {
  Write(VIRTIO_MMIO_STATUS, status | VIRTIO_CONFIG_S_DRIVER_OK);
  return Read(VIRTIO_MMIO_STATUS);
}

}  // namespace virtio
