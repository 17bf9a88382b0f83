// SPDX-License-Identifier: MIT
// Fuzzes virtio::MmioTransport: the input is a guest script
// (devices/testing/guest_scripts.h, shared with the save-what-loads
// property test): guest accesses to the register window (register reads
// and writes of any width and offset, config-space accesses, queue
// notifications) interleaved with guest writes to RAM, against a small echo
// device with two queues. After the sequence the transport's saved state
// must load into a fresh transport and device (fuzz::CheckSaveLoad).
#include <cstdint>
#include <memory>

#include "devices/testing/guest_scripts.h"
#include "fuzz/fuzz_support.h"
#include "virtio/mmio_transport.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  devices::testing::ByteSource in({data, size});
  memory::GuestMemory& mem = fuzz::ZeroedSharedMemory();
  virtio::MmioTransport transport(mem, std::make_shared<devices::testing::EchoDevice>(), [] {});
  devices::testing::RunMmioScript(in, mem, transport);
  virtio::MmioTransport fresh(mem, std::make_shared<devices::testing::EchoDevice>(), [] {});
  fuzz::CheckSaveLoad(transport, fresh, "virtio-mmio transport");
  return 0;
}
