// SPDX-License-Identifier: MIT
#include "devices/testing/guest_scripts.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "devices/pc_ports.h"
#include "state/state_tree.h"
#include "virtio/testing/fake_driver.h"
#include "virtio/virtio_ring_uapi.h"

namespace devices::testing {
namespace {

// A failure of the host (memory the script set up itself), never of the
// input: stop at once.
void Check(bool ok) {
  if (!ok) std::abort();
}

void WriteRegister(virtio::MmioTransport& t, uint64_t offset, uint32_t value) {
  t.Write(offset, {reinterpret_cast<const uint8_t*>(&value), 4});
}

}  // namespace

std::vector<memory::RamRegion> ScriptRamLayout() { return {{0, kLowRamSize}, {kHighRamBase, kHighRamSize}}; }

void ZeroScriptRam(memory::GuestMemory& mem) {
  const std::vector<uint8_t> zeros(std::max(kLowRamSize, kHighRamSize), 0);
  for (const memory::RamRegion& r : ScriptRamLayout()) {
    Check(mem.WriteBytes(r.start, std::span(zeros).first(r.length)).ok());
  }
}

// --- Port I/O ---------------------------------------------------------------

PortDevices::PortDevices()
    : serial(std::make_shared<Serial>([](bool) {}, [](uint8_t) {})),
      cmos(std::make_shared<Cmos>()),
      pm(std::make_shared<AcpiPm>(events, kPm1aControlPort - kPm1aEventPort)) {
  Check(bus.Insert(kCom1Port, kCom1PortCount, serial).ok());
  Check(bus.Insert(kCmosPort, 2, cmos).ok());
  Check(bus.Insert(kPm1aEventPort, kPm1aEventLength + kPm1aControlLength, pm).ok());
  Check(bus.Insert(kI8042DataPort, 5, std::make_shared<I8042>(events)).ok());
  Check(bus.Insert(kResetPort, 1, std::make_shared<ResetPort>(events)).ok());
  Check(bus.Insert(kPvpanicPort, 1, std::make_shared<Pvpanic>(events)).ok());
}

void RunPortScript(ByteSource& in, PortDevices& ports) {
  static constexpr uint16_t kBases[] = {kCom1Port, kCmosPort, kPm1aEventPort, kI8042DataPort, kResetPort, kPvpanicPort};
  while (in.remaining_bytes() > 0) {
    const uint8_t op = in.ConsumeIntegral<uint8_t>();
    const uint64_t port = kBases[(op & 0x0f) % std::size(kBases)] + in.ConsumeIntegralInRange(0, 8);
    const size_t width = size_t{1} << ((op >> 4) & 3);  // 1, 2, 4, 8
    uint8_t bytes[8];
    const uint64_t value = in.ConsumeIntegral<uint64_t>();
    std::memcpy(bytes, &value, sizeof(bytes));
    switch (op >> 6) {
      case 0:
      case 1: (void)ports.bus.Write(port, {bytes, width}); break;
      case 2: (void)ports.bus.Read(port, {bytes, width}); break;
      case 3: ports.serial->QueueInput(std::span<const uint8_t>(bytes, width)); break;
    }
  }
}

// --- virtio-mmio with the echo device ---------------------------------------

uint32_t EchoDevice::device_type() const { return 42; }

uint64_t EchoDevice::device_features() const {
  return 1ull << 0 | 1ull << 3 | 1ull << VIRTIO_RING_F_EVENT_IDX;
}

std::vector<uint16_t> EchoDevice::queue_max_sizes() const { return {16, 8}; }

void EchoDevice::ReadConfig(uint64_t offset, std::span<uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) data[i] = offset + i < sizeof(config_) ? config_[offset + i] : 0;
}

void EchoDevice::WriteConfig(uint64_t offset, std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size() && offset + i < sizeof(config_); ++i) config_[offset + i] = data[i];
}

absl::Status EchoDevice::Activate(virtio::ActivateArgs args) {
  // Like the balloon: the first queue is the device.
  if (!args.queues[0].ready()) return absl::InvalidArgumentError("queue 0 not ready");
  mem_ = args.mem;
  queues_ = std::move(args.queues);
  signal_used_ = std::move(args.signal_used);
  return absl::OkStatus();
}

absl::Status EchoDevice::ProcessQueue(uint16_t index) {
  if (mem_ == nullptr || index >= queues_.size()) return absl::FailedPreconditionError("not active");
  virtio::Queue& q = queues_[index];
  if (!q.ready()) return absl::OkStatus();
  for (int budget = 0; budget < 64; ++budget) {
    absl::StatusOr<std::optional<virtio::DescriptorChain>> chain = q.PopChain(*mem_);
    if (!chain.ok()) return chain.status();
    if (!chain->has_value()) break;
    if (absl::Status st = q.AddUsed(*mem_, (*chain)->head, 0); !st.ok()) return st;
  }
  if (q.NeedsInterrupt(*mem_)) signal_used_();
  return absl::OkStatus();
}

void EchoDevice::Reset() {
  mem_ = nullptr;
  queues_.clear();
  signal_used_ = nullptr;
}

absl::Status EchoDevice::Save(state::StateWriter& out) {
  out.PutBytes("config", config_);
  out.PutU32("active", mem_ != nullptr);
  std::vector<virtio::Queue::Snapshot> snaps;
  for (const virtio::Queue& q : queues_) snaps.push_back(q.Save());
  out.PutBytes("queues", {reinterpret_cast<const uint8_t*>(snaps.data()), snaps.size() * sizeof(snaps[0])});
  return absl::OkStatus();
}

absl::Status EchoDevice::Load(const state::StateNode& in) {
  absl::StatusOr<std::span<const uint8_t>> config = in.Bytes("config", sizeof(config_));
  if (!config.ok()) return config.status();
  absl::StatusOr<uint32_t> active = in.U32("active");
  if (!active.ok()) return active.status();
  absl::StatusOr<std::span<const uint8_t>> raw = in.Bytes("queues");
  if (!raw.ok()) return raw.status();
  if ((*active != 0) != (mem_ != nullptr)) return absl::DataLossError("echo: activity differs from the transport's");
  if (raw->size() != queues_.size() * sizeof(virtio::Queue::Snapshot)) return absl::DataLossError("echo: queues");
  for (size_t i = 0; i < queues_.size(); ++i) {
    virtio::Queue::Snapshot s;
    std::memcpy(&s, raw->data() + i * sizeof(s), sizeof(s));
    if (absl::Status st = queues_[i].Restore(s, *mem_); !st.ok()) return st;
  }
  std::memcpy(config_, config->data(), sizeof(config_));
  return absl::OkStatus();
}

void RunMmioScript(ByteSource& in, memory::GuestMemory& mem, virtio::MmioTransport& transport) {
  while (in.remaining_bytes() > 0) {
    const uint8_t op = in.ConsumeIntegral<uint8_t>();
    // Register offsets 0..0xfc, config space from 0x100.
    const uint64_t offset =
        op & 0x80 ? 0x100 + (op & 0x1f) : static_cast<uint64_t>(in.ConsumeIntegral<uint8_t>() & 0x3f) * 4;
    const size_t width = size_t{1} << (in.ConsumeIntegral<uint8_t>() & 3);  // 1, 2, 4, 8
    uint8_t bytes[8];
    const uint64_t value = in.ConsumeIntegral<uint64_t>();
    std::memcpy(bytes, &value, sizeof(bytes));
    switch (op & 0x60) {
      case 0x00: transport.Write(offset, {bytes, op & 0x10 ? width : 4}); break;
      case 0x20: transport.Read(offset, {bytes, op & 0x10 ? width : 4}); break;
      case 0x40: {
        // The guest fills its rings: 4 bytes somewhere in low RAM.
        const memory::Gpa gpa = (value >> 32) % (kLowRamSize - 8);
        (void)mem.WriteBytes(gpa, {bytes, 4});
        break;
      }
      case 0x60: {
        // A notification, the way Linux sends one.
        uint32_t queue = bytes[0] & 3;
        transport.Write(VIRTIO_MMIO_QUEUE_NOTIFY, {reinterpret_cast<uint8_t*>(&queue), 4});
        break;
      }
    }
  }
}

// --- The balloon behind virtio-mmio -----------------------------------------

namespace {

constexpr uint16_t kBalloonQueueSize = 16;
constexpr int kBalloonQueues = 5;
// Rings in the high region, buffers in the low one.
constexpr memory::Gpa kBufferArea = 0x1000;
constexpr uint64_t kRamPages = (kHighRamBase + kHighRamSize) / memory::kPageSize;

class BalloonGuest {
 public:
  BalloonGuest(ByteSource& in, memory::GuestMemory& mem, virtio::MmioTransport& t) : in_(in), mem_(mem), t_(t) {}

  // Linux's probe: ACKNOWLEDGE, DRIVER, features, FEATURES_OK, the queues,
  // DRIVER_OK; the input may leave steps out or change values.
  void Probe() {
    const uint64_t features = in_.ConsumeIntegral<uint64_t>();
    WriteRegister(t_, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    for (uint32_t word = 0; word < 2; ++word) {
      WriteRegister(t_, VIRTIO_MMIO_DRIVER_FEATURES_SEL, word);
      WriteRegister(t_, VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features >> (32 * word)));
    }
    WriteRegister(t_, VIRTIO_MMIO_STATUS,
                  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
    const uint8_t queue_mask = in_.ConsumeIntegral<uint8_t>();
    for (int q = 0; q < kBalloonQueues; ++q) {
      drivers_.push_back(std::make_unique<virtio::FakeDriver>(
          mem_, kHighRamBase + q * virtio::FakeDriver::Footprint(kBalloonQueueSize), kBalloonQueueSize));
      if (!(queue_mask & (1 << q))) continue;
      const virtio::FakeDriver& d = *drivers_.back();
      WriteRegister(t_, VIRTIO_MMIO_QUEUE_SEL, q);
      WriteRegister(t_, VIRTIO_MMIO_QUEUE_NUM, kBalloonQueueSize);
      WriteRegister(t_, VIRTIO_MMIO_QUEUE_DESC_LOW, static_cast<uint32_t>(d.desc_table()));
      WriteRegister(t_, VIRTIO_MMIO_QUEUE_AVAIL_LOW, static_cast<uint32_t>(d.avail_ring()));
      WriteRegister(t_, VIRTIO_MMIO_QUEUE_USED_LOW, static_cast<uint32_t>(d.used_ring()));
      WriteRegister(t_, VIRTIO_MMIO_QUEUE_READY, 1);
    }
    WriteRegister(t_, VIRTIO_MMIO_STATUS,
                  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
                      VIRTIO_CONFIG_S_DRIVER_OK);
  }

  // One chain of 1..3 buffers on queue `q`, then a notification.
  void OfferChain() {
    const int q = in_.ConsumeIntegralInRange(0, kBalloonQueues - 1);
    std::vector<virtio::FakeDriver::Buffer> buffers;
    const int n = in_.ConsumeIntegralInRange(1, 3);
    for (int i = 0; i < n; ++i) {
      const uint8_t kind = in_.ConsumeIntegral<uint8_t>();
      virtio::FakeDriver::Buffer b{.gpa = 0, .len = 0, .writable = (kind & 1) != 0};
      if (kind & 2) {
        // Any range: free page reports name guest pages this way.
        b.gpa = in_.ConsumeIntegral<uint32_t>() & (kHighRamBase | 0x1ffff);
        b.len = in_.ConsumeIntegral<uint32_t>() & 0x3ffff;
      } else if (kind & 8) {
        // Range-format entries (VIRTIO_BALLOON_F_CHUNKS): most of them
        // well formed and in RAM, some raw.
        std::vector<uint64_t> entries(in_.ConsumeIntegralInRange<size_t>(0, 260));
        for (uint64_t& e : entries) {
          e = kind & 16 ? in_.ConsumeIntegral<uint64_t>()
                        : (in_.ConsumeIntegralInRange<uint64_t>(0, kRamPages + 8) << 12) |
                              in_.ConsumeIntegralInRange<uint64_t>(0, 20);
        }
        const size_t len = entries.size() * 8 - std::min<size_t>(entries.size() * 8, kind >> 6);
        if (next_buffer_ + len > kLowRamSize) next_buffer_ = kBufferArea;
        b.gpa = next_buffer_;
        b.len = static_cast<uint32_t>(len);
        if (len > 0) Check(mem_.WriteBytes(b.gpa, {reinterpret_cast<const uint8_t*>(entries.data()), len}).ok());
        next_buffer_ += (len + 15) & ~size_t{15};
      } else {
        // A buffer of PFNs (most of them in RAM) or of raw bytes.
        std::vector<uint8_t> bytes;
        const size_t count = in_.ConsumeIntegralInRange<size_t>(0, 300);
        for (size_t k = 0; k < count; ++k) {
          const uint32_t pfn = kind & 4 ? in_.ConsumeIntegral<uint32_t>()
                                        : in_.ConsumeIntegralInRange<uint32_t>(0, kRamPages + 8);
          const uint8_t* p = reinterpret_cast<const uint8_t*>(&pfn);
          bytes.insert(bytes.end(), p, p + 4);
        }
        bytes.resize(bytes.size() - std::min<size_t>(bytes.size(), kind >> 6));  // odd lengths too
        if (next_buffer_ + bytes.size() > kLowRamSize) next_buffer_ = kBufferArea;
        b.gpa = next_buffer_;
        b.len = static_cast<uint32_t>(bytes.size());
        if (!bytes.empty()) Check(mem_.WriteBytes(b.gpa, bytes).ok());
        next_buffer_ += (bytes.size() + 15) & ~size_t{15};
      }
      buffers.push_back(b);
    }
    drivers_[q]->AddChain(buffers);
    WriteRegister(t_, VIRTIO_MMIO_QUEUE_NOTIFY, q);
  }

 private:
  ByteSource& in_;
  memory::GuestMemory& mem_;
  virtio::MmioTransport& t_;
  std::vector<std::unique_ptr<virtio::FakeDriver>> drivers_;
  memory::Gpa next_buffer_ = kBufferArea;
};

}  // namespace

BalloonOptions ScriptBalloonOptions(ByteSource& in) {
  const uint8_t bits = in.ConsumeIntegral<uint8_t>();
  return {.must_tell_host = (bits & 1) != 0,
          .stats = (bits & 2) != 0,
          .deflate_on_oom = (bits & 4) != 0,
          .free_page_hint = (bits & 8) != 0,
          .page_poison = (bits & 16) != 0,
          .reporting = (bits & 32) != 0,
          .chunks = (bits & 64) != 0};
}

void RunBalloonScript(ByteSource& in, memory::GuestMemory& mem, Balloon& balloon, virtio::MmioTransport& transport) {
  BalloonGuest guest(in, mem, transport);
  guest.Probe();
  while (in.remaining_bytes() > 0) {
    const uint8_t op = in.ConsumeIntegral<uint8_t>();
    switch (op % 8) {
      case 0:
      case 1: guest.OfferChain(); break;
      case 2: {
        uint8_t bytes[4];
        const uint32_t value = in.ConsumeIntegral<uint32_t>();
        std::memcpy(bytes, &value, 4);
        const uint64_t offset = VIRTIO_MMIO_CONFIG + in.ConsumeIntegralInRange(0, 0x20);
        const size_t width = size_t{1} << in.ConsumeIntegralInRange(0, 2);
        if (op & 8) {
          transport.Write(offset, {bytes, width});
        } else {
          transport.Read(offset, {bytes, width});
        }
        break;
      }
      case 3: balloon.SetTargetPages(in.ConsumeIntegralInRange<uint32_t>(0, kRamPages)); break;
      case 4:
        switch ((op >> 3) % 5) {
          case 0: (void)balloon.StartHinting(); break;
          case 1: (void)balloon.StopHinting(); break;
          case 2: (void)balloon.DoneHinting(); break;
          case 3: (void)balloon.TakeHintedRanges(); break;
          case 4: (void)balloon.RequestStats(); break;
        }
        break;
      case 5: {
        // Any register, e.g. a reset, a status change or a stray notify.
        const uint64_t offset = static_cast<uint64_t>(in.ConsumeIntegral<uint8_t>() & 0x3f) * 4;
        WriteRegister(transport, offset, in.ConsumeIntegral<uint32_t>());
        break;
      }
      case 6: {
        // The guest scribbles on its rings or buffers.
        const memory::Gpa gpa = op & 8 ? kHighRamBase + in.ConsumeIntegralInRange<uint64_t>(0, kHighRamSize - 4)
                                       : in.ConsumeIntegralInRange<uint64_t>(0, kLowRamSize - 4);
        (void)mem.Write<uint32_t>(gpa, in.ConsumeIntegral<uint32_t>());
        break;
      }
      case 7: {
        // The host's view, as the API and the migrator read it.
        (void)balloon.Stats();
        (void)balloon.BalloonedRanges();
        (void)balloon.service_times();
        break;
      }
    }
  }
}

}  // namespace devices::testing
