// SPDX-License-Identifier: MIT
// Fuzzes devices::Balloon through virtio::MmioTransport the way a guest
// drives it. The input is a guest script (devices/testing/guest_scripts.h,
// shared with the save-what-loads property test): it picks the options and
// the features the driver accepts, sets up the queues through the
// registers (FakeDriver rings), and then is a sequence of guest actions
// (chains of PFNs, stats, hint and report buffers on any queue,
// notifications, config accesses, raw register and RAM writes) and host
// actions (target, stats request, free page hinting). After the sequence
// the saved state must load into a fresh balloon behind a fresh transport
// (fuzz::CheckSaveLoad).
#include <cstdint>
#include <memory>

#include "devices/balloon/balloon.h"
#include "devices/testing/guest_scripts.h"
#include "fuzz/fuzz_support.h"
#include "virtio/mmio_transport.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  devices::testing::ByteSource in({data, size});
  memory::GuestMemory& mem = fuzz::ZeroedSharedMemory();
  const devices::BalloonOptions options = devices::testing::ScriptBalloonOptions(in);
  auto balloon = std::make_shared<devices::Balloon>(mem, options);
  virtio::MmioTransport transport(mem, balloon, [] {});
  devices::testing::RunBalloonScript(in, mem, *balloon, transport);
  auto fresh_balloon = std::make_shared<devices::Balloon>(mem, options);
  virtio::MmioTransport fresh(mem, fresh_balloon, [] {});
  fuzz::CheckSaveLoad(transport, fresh, "balloon behind virtio-mmio");
  return 0;
}
