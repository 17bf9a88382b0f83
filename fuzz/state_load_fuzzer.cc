// SPDX-License-Identifier: MIT
// Fuzzes state::StateReader and every device's Load: the first input byte
// picks a device, the rest is a saved state tree (a flattened device tree)
// whose node "part" that device loads, as a destination VMM loads a stream
// it has not checked yet. A refused load is fine; a load that accepts must
// leave the device in a state that saves and loads again
// (fuzz::CheckSaveLoad), and nothing may crash.
#include <cstdint>
#include <memory>
#include <span>

#include "devices/balloon/balloon.h"
#include "devices/legacy.h"
#include "devices/pc_ports.h"
#include "devices/serial.h"
#include "fuzz/fuzz_support.h"
#include "state/state_tree.h"
#include "virtio/mmio_transport.h"

namespace {

class NoEvents : public devices::VmEvents {
 public:
  void PowerOff() override {}
  void Reset() override {}
  void GuestPanicked() override {}
};

// One device of each kind with what it needs around it.
struct Instance {
  Instance(int kind, memory::GuestMemory& mem) {
    switch (kind) {
      case 0: serial = std::make_shared<devices::Serial>([](bool) {}, [](uint8_t) {}); part = serial.get(); break;
      case 1: cmos = std::make_shared<devices::Cmos>(); part = cmos.get(); break;
      case 2:
        pm = std::make_shared<devices::AcpiPm>(events, devices::kPm1aControlPort - devices::kPm1aEventPort);
        part = pm.get();
        break;
      case 3: balloon = std::make_shared<devices::Balloon>(mem); part = balloon.get(); break;
      default:
        balloon = std::make_shared<devices::Balloon>(mem);
        transport = std::make_unique<virtio::MmioTransport>(mem, balloon, [] {});
        part = transport.get();
        break;
    }
  }
  NoEvents events;
  std::shared_ptr<devices::Serial> serial;
  std::shared_ptr<devices::Cmos> cmos;
  std::shared_ptr<devices::AcpiPm> pm;
  std::shared_ptr<devices::Balloon> balloon;
  std::unique_ptr<virtio::MmioTransport> transport;
  state::Migratable* part = nullptr;
};

constexpr int kKinds = 5;
const char* const kNames[kKinds] = {"serial", "cmos", "acpi pm", "balloon", "balloon behind virtio-mmio"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int kind = data[0] % kKinds;
  absl::StatusOr<state::StateReader> reader = state::StateReader::Parse({data + 1, size - 1});
  if (!reader.ok()) return 0;
  absl::StatusOr<state::StateNode> node = reader->Node("part");
  if (!node.ok()) return 0;
  memory::GuestMemory& mem = fuzz::ZeroedSharedMemory();
  Instance loaded(kind, mem);
  if (!loaded.part->Load(*node).ok()) return 0;
  Instance fresh(kind, mem);
  fuzz::CheckSaveLoad(*loaded.part, *fresh.part, kNames[kind]);
  return 0;
}
