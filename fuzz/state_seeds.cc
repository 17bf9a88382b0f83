// SPDX-License-Identifier: MIT
// Writes the seed inputs that only the project's own writers can make well:
// saved state trees of each device, driven into a non-trivial state first
// (corpus state_load), and a snapshot stream of a small VM (corpus
// migration_stream). Run by fuzz/make_seeds.py; not a fuzz target.
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "devices/balloon/balloon.h"
#include "devices/legacy.h"
#include "devices/pc_ports.h"
#include "devices/serial.h"
#include "fuzz/fuzz_support.h"
#include "migration/channel.h"
#include "migration/sender.h"
#include "migration/testing/plain_vm.h"
#include "state/state_tree.h"
#include "virtio/mmio_transport.h"
#include "virtio/testing/fake_driver.h"

namespace {

void Check(const absl::Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "state_seeds: %s: %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "state_seeds: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

// The state_load input: the device kind, then the tree with node "part".
void WriteTree(const std::string& dir, const char* name, uint8_t kind, state::Migratable& part) {
  state::StateWriter w;
  w.BeginNode("part");
  Check(part.Save(w), name);
  w.EndNode();
  absl::StatusOr<std::vector<uint8_t>> tree = w.Finish();
  Check(tree.status(), name);
  std::vector<uint8_t> input{kind};
  input.insert(input.end(), tree->begin(), tree->end());
  WriteFile(dir + "/" + name, input);
}

void Reg(virtio::MmioTransport& t, uint64_t offset, uint32_t value) {
  t.Write(offset, {reinterpret_cast<const uint8_t*>(&value), 4});
}

class NoEvents : public devices::VmEvents {
 public:
  void PowerOff() override {}
  void Reset() override {}
  void GuestPanicked() override {}
};

void StateTrees(const std::string& dir) {
  NoEvents events;
  devices::Serial serial([](bool) {}, [](uint8_t) {});
  const uint8_t lcr = 0x83, ier = 0x05;
  serial.Write(3, {&lcr, 1});
  serial.Write(1, {&ier, 1});
  const uint8_t input[] = {'h', 'i'};
  serial.QueueInput(input);
  WriteTree(dir, "serial", 0, serial);

  devices::Cmos cmos;
  const uint8_t index = 0x0b;
  cmos.Write(0, {&index, 1});
  WriteTree(dir, "cmos", 1, cmos);

  devices::AcpiPm pm(events, devices::kPm1aControlPort - devices::kPm1aEventPort);
  const uint16_t enable = 0x0100;
  pm.Write(2, {reinterpret_cast<const uint8_t*>(&enable), 2});
  WriteTree(dir, "acpi_pm", 2, pm);

  memory::GuestMemory mem = fuzz::SmallMemory();
  devices::Balloon idle(mem);
  idle.SetTargetPages(16);
  WriteTree(dir, "balloon", 3, idle);

  // A running balloon behind its transport, with pages inflated.
  auto balloon = std::make_shared<devices::Balloon>(mem);
  virtio::MmioTransport t(mem, balloon, [] {});
  Reg(t, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  Reg(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  Reg(t, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_BALLOON_F_STATS_VQ);
  Reg(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  Reg(t, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
  Reg(t, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
  std::vector<std::unique_ptr<virtio::FakeDriver>> drivers;
  for (uint32_t q = 0; q < 3; ++q) {
    drivers.push_back(std::make_unique<virtio::FakeDriver>(
        mem, fuzz::kHighRamBase + q * virtio::FakeDriver::Footprint(16), 16));
    Reg(t, VIRTIO_MMIO_QUEUE_SEL, q);
    Reg(t, VIRTIO_MMIO_QUEUE_NUM, 16);
    Reg(t, VIRTIO_MMIO_QUEUE_DESC_LOW, static_cast<uint32_t>(drivers[q]->desc_table()));
    Reg(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, static_cast<uint32_t>(drivers[q]->avail_ring()));
    Reg(t, VIRTIO_MMIO_QUEUE_USED_LOW, static_cast<uint32_t>(drivers[q]->used_ring()));
    Reg(t, VIRTIO_MMIO_QUEUE_READY, 1);
  }
  Reg(t, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
                                 VIRTIO_CONFIG_S_DRIVER_OK);
  const uint32_t pfns[] = {4, 5, 6, 9};
  Check(mem.WriteBytes(0x1000, {reinterpret_cast<const uint8_t*>(pfns), sizeof(pfns)}), "pfns");
  const virtio::FakeDriver::Buffer buffer{.gpa = 0x1000, .len = sizeof(pfns), .writable = false};
  drivers[0]->AddChain({&buffer, 1});
  Reg(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  if (balloon->ballooned_pages() != 4) {
    std::fprintf(stderr, "state_seeds: the balloon did not inflate\n");
    std::exit(1);
  }
  WriteTree(dir, "balloon_mmio", 4, t);
}

void SnapshotStream(const std::string& dir) {
  migration::PlainSource source(fuzz::SmallLayout());
  source.FillPage(0x0, 0x11);
  source.FillPage(0x3000, 0x22);
  source.FillPage(fuzz::kHighRamBase + 0x1000, 0x33);
  const std::string path = dir + "/snapshot";
  absl::StatusOr<migration::Channel> channel = migration::Channel::CreateFile(path);
  Check(channel.status(), "creating the snapshot");
  migration::Sender sender(source, *channel, {}, nullptr);
  Check(sender.Snapshot().status(), "writing the snapshot");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s STATE_LOAD_DIR MIGRATION_STREAM_DIR\n", argv[0]);
    return 2;
  }
  fuzz::QuietLogs();
  StateTrees(argv[1]);
  SnapshotStream(argv[2]);
  return 0;
}
