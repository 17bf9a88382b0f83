// SPDX-License-Identifier: MIT
// The Migratable conformance suite (state/testing) for the balloon behind
// its virtio-mmio transport, which saves the device in its own node. A fake
// driver negotiates every feature through the register file, sets up the
// queues, inflates and deflates pages and leaves a stats buffer with the
// device; each instance has its own guest memory, as a destination does.
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "devices/balloon/balloon.h"
#include "devices/balloon/chunk_format.h"
#include "memory/guest_memory.h"
#include "state/testing/migratable_conformance.h"
#include "virtio/mmio_transport.h"
#include "virtio/testing/fake_driver.h"

namespace devices {
namespace {

using memory::kMiB;
using memory::kPageSize;
using virtio::FakeDriver;

// Guest RAM: [0, 16 MiB) and [32 MiB, 48 MiB). Rings from 1 MiB, driver
// buffers from 2 MiB, ballooned pages from 4 MiB (PFN 1024).
constexpr memory::Gpa kRings = 1 * kMiB;
constexpr memory::Gpa kBuffers = 2 * kMiB;
constexpr uint32_t kFirstPfn = 1024;

struct BalloonCase : state::testing::CaseDefaults {
  struct Instance {
    memory::GuestMemory mem{std::move(*memory::GuestMemory::Create({{0, 16 * kMiB}, {32 * kMiB, 16 * kMiB}}))};
    std::shared_ptr<Balloon> balloon = std::make_shared<Balloon>(mem);
    virtio::MmioTransport transport{mem, balloon, [] {}};
    std::vector<std::unique_ptr<FakeDriver>> drivers;
    memory::Gpa next_buffer = kBuffers;

    void Write(uint64_t offset, uint32_t v) { transport.Write(offset, {reinterpret_cast<const uint8_t*>(&v), 4}); }
    uint32_t Read(uint64_t offset) {
      uint32_t v = 0;
      transport.Read(offset, {reinterpret_cast<uint8_t*>(&v), 4});
      return v;
    }
    uint32_t ReadConfig(size_t field) { return Read(VIRTIO_MMIO_CONFIG + field); }
    // A PFN array in a fresh driver buffer, offered on `queue`, notified.
    // The driver negotiates every feature, the range format too: then the
    // pages go as one order-0 entry each (chunk_format.h).
    void SendPfns(uint16_t queue, uint32_t first, uint32_t count) {
      std::vector<uint32_t> pfns;
      std::vector<uint64_t> entries;
      for (uint32_t p = first; p < first + count; ++p) {
        pfns.push_back(p);
        entries.push_back(EncodeChunk(uint64_t{p} * kPageSize, 0));
      }
      const bool chunks = transport.driver_features() & (1ull << kBalloonFChunks);
      const memory::Gpa gpa = next_buffer;
      next_buffer += kPageSize;
      const uint32_t len = count * (chunks ? 8 : 4);
      ASSERT_TRUE(mem.WriteBytes(gpa, {chunks ? reinterpret_cast<const uint8_t*>(entries.data())
                                              : reinterpret_cast<const uint8_t*>(pfns.data()),
                                       len})
                      .ok());
      FakeDriver::Buffer buffer[] = {{gpa, len, false}};
      drivers[queue]->AddChain(buffer);
      Write(VIRTIO_MMIO_QUEUE_NOTIFY, queue);
    }
  };

  static std::unique_ptr<Instance> Make() { return std::make_unique<Instance>(); }
  static state::Migratable& Part(Instance& i) { return i.transport; }

  static void Change(Instance& i) {
    // The Linux driver's probe: every offered feature, every queue.
    const uint64_t features = i.Read(VIRTIO_MMIO_DEVICE_FEATURES);
    i.Write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    const uint64_t offered = features | uint64_t{i.Read(VIRTIO_MMIO_DEVICE_FEATURES)} << 32;
    i.Write(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    i.Write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    i.Write(VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(offered));
    i.Write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    i.Write(VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(offered >> 32));
    const uint32_t features_ok = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
    i.Write(VIRTIO_MMIO_STATUS, features_ok);
    ASSERT_EQ(i.Read(VIRTIO_MMIO_STATUS), features_ok);
    const size_t queues = Balloon::QueueRoles(offered).size();
    for (uint32_t q = 0; q < queues; ++q) {
      i.drivers.push_back(std::make_unique<FakeDriver>(
          i.mem, kRings + q * FakeDriver::Footprint(Balloon::kQueueSize), Balloon::kQueueSize));
      i.Write(VIRTIO_MMIO_QUEUE_SEL, q);
      i.Write(VIRTIO_MMIO_QUEUE_NUM, Balloon::kQueueSize);
      i.Write(VIRTIO_MMIO_QUEUE_DESC_LOW, static_cast<uint32_t>(i.drivers[q]->desc_table()));
      i.Write(VIRTIO_MMIO_QUEUE_AVAIL_LOW, static_cast<uint32_t>(i.drivers[q]->avail_ring()));
      i.Write(VIRTIO_MMIO_QUEUE_USED_LOW, static_cast<uint32_t>(i.drivers[q]->used_ring()));
      i.Write(VIRTIO_MMIO_QUEUE_READY, 1);
    }
    i.Write(VIRTIO_MMIO_STATUS, features_ok | VIRTIO_CONFIG_S_DRIVER_OK);
    ASSERT_EQ(i.Read(VIRTIO_MMIO_STATUS), features_ok | VIRTIO_CONFIG_S_DRIVER_OK);

    // The host asks for 24 pages; the guest gives 16 and says so.
    i.balloon->SetTargetPages(24);
    i.Write(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
    i.SendPfns(0, kFirstPfn, 16);
    i.Write(VIRTIO_MMIO_CONFIG + offsetof(virtio_balloon_config, actual), 16);
    // The driver's first stats buffer, which the device holds.
    const virtio_balloon_stat stat = {.tag = VIRTIO_BALLOON_S_MEMFREE, .val = 64 * kMiB};
    ASSERT_TRUE(i.mem.WriteBytes(i.next_buffer, {reinterpret_cast<const uint8_t*>(&stat), sizeof(stat)}).ok());
    FakeDriver::Buffer stats[] = {{i.next_buffer, sizeof(stat), false}};
    i.next_buffer += kPageSize;
    i.drivers[2]->AddChain(stats);
    i.Write(VIRTIO_MMIO_QUEUE_NOTIFY, 2);
    i.Write(VIRTIO_MMIO_QUEUE_SEL, 1);
  }

  static void ChangeAgain(Instance& i) {
    i.SendPfns(1, kFirstPfn, 8);
    i.Write(VIRTIO_MMIO_CONFIG + offsetof(virtio_balloon_config, actual), 8);
    i.Write(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
    i.Write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    i.Write(VIRTIO_MMIO_QUEUE_SEL, 3);
  }

  static state::testing::Observed Observe(Instance& i) {
    state::testing::Observed o;
    o["status"] = i.Read(VIRTIO_MMIO_STATUS);
    o["interrupt_status"] = i.Read(VIRTIO_MMIO_INTERRUPT_STATUS);
    o["config_generation"] = i.Read(VIRTIO_MMIO_CONFIG_GENERATION);
    o["driver_features"] = i.transport.driver_features();
    // Under the selectors the driver left.
    o["device_features"] = i.Read(VIRTIO_MMIO_DEVICE_FEATURES);
    o["queue_ready"] = i.Read(VIRTIO_MMIO_QUEUE_READY);
    for (uint32_t q = 0; q < i.balloon->queue_max_sizes().size(); ++q) {
      i.Write(VIRTIO_MMIO_QUEUE_SEL, q);
      o["queue_ready[" + std::to_string(q) + "]"] = i.Read(VIRTIO_MMIO_QUEUE_READY);
    }
    o["config.num_pages"] = i.ReadConfig(offsetof(virtio_balloon_config, num_pages));
    o["config.actual"] = i.ReadConfig(offsetof(virtio_balloon_config, actual));
    o["config.free_page_hint_cmd_id"] = i.ReadConfig(offsetof(virtio_balloon_config, free_page_hint_cmd_id));
    o["config.poison_val"] = i.ReadConfig(offsetof(virtio_balloon_config, poison_val));

    Balloon& b = *i.balloon;
    o["target_pages"] = b.target_pages();
    o["actual_pages"] = b.actual_pages();
    o["ballooned_pages"] = b.ballooned_pages();
    uint64_t ballooned = 0;  // which of the first 64 pages the driver used are in
    for (uint32_t n = 0; n < 64; ++n) ballooned |= uint64_t{b.IsBallooned(kFirstPfn + n)} << n;
    o["ballooned"] = ballooned;
    o["next_hint_command_id"] = b.NextHintCommandId();
    o["hinting_in_progress"] = b.hinting_in_progress();
    const Balloon::Counters c = b.counters();  // service_cpu_ns is a measurement, not state
    o["counters.requests"] = c.requests;
    o["counters.pages_inflated"] = c.pages_inflated;
    o["counters.pages_deflated"] = c.pages_deflated;
    o["counters.ranges"] = c.ranges;
    o["counters.discard_calls"] = c.discard_calls;
    o["counters.bytes_returned"] = c.bytes_returned;
    o["counters.pfns_out_of_range"] = c.pfns_out_of_range;
    // Last: handing the held stats buffer back changes the queue.
    o["stats_buffer_held"] = b.RequestStats().ok();
    return o;
  }

  // Streams from VMMs before these were saved lack them (the transport then
  // infers device_active from the status, as those VMMs did).
  static std::vector<std::string> Optional() { return {"device/last_hint_cmd_id", "device_active"}; }
};

}  // namespace
}  // namespace devices

namespace state::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(BalloonBehindMmioTransport, MigratableConformance, devices::BalloonCase);
}  // namespace state::testing
