// SPDX-License-Identifier: MIT
#include "virtio/mmio_transport.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "virtio/testing/fake_driver.h"
#include "virtio/virtio_ring_uapi.h"

namespace virtio {
namespace {

using memory::GuestMemory;

constexpr uint64_t kVersion1 = 1ull << VIRTIO_F_VERSION_1;
constexpr uint64_t kEventIdx = 1ull << VIRTIO_RING_F_EVENT_IDX;
constexpr uint64_t kFeatureA = 1ull << 0;
constexpr uint64_t kFeatureB = 1ull << 3;
constexpr uint32_t kAckDriver = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

// Records what the transport asks of it; echoes config bytes.
class FakeDevice : public VirtioDevice {
 public:
  uint32_t device_type() const override { return 42; }
  uint64_t device_features() const override { return kFeatureA | kFeatureB | kEventIdx; }
  std::vector<uint16_t> queue_max_sizes() const override { return {16, 8}; }
  void ReadConfig(uint64_t offset, std::span<uint8_t> data) override {
    for (size_t i = 0; i < data.size(); ++i) {
      data[i] = offset + i < sizeof(config) ? config[offset + i] : 0;
    }
  }
  void WriteConfig(uint64_t offset, std::span<const uint8_t> data) override {
    for (size_t i = 0; i < data.size() && offset + i < sizeof(config); ++i) {
      config[offset + i] = data[i];
    }
  }
  absl::Status Activate(ActivateArgs args) override {
    ++activations;
    activated = std::move(args);
    return activate_result;
  }
  absl::Status ProcessQueue(uint16_t index) override {
    processed.push_back(index);
    return process_result;
  }
  void Reset() override {
    ++resets;
    activated.reset();
  }
  void SetConfigChangeCallback(InterruptCallback callback) override {
    config_change = std::move(callback);
  }
  // Its state is its config bytes.
  absl::Status Save(state::StateWriter& out) override {
    out.PutBytes("config", config);
    return absl::OkStatus();
  }
  absl::Status Load(const state::StateNode& in) override {
    absl::StatusOr<std::span<const uint8_t>> bytes = in.Bytes("config", sizeof(config));
    if (!bytes.ok()) return bytes.status();
    std::memcpy(config, bytes->data(), sizeof(config));
    return absl::OkStatus();
  }

  uint8_t config[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  int activations = 0;
  int resets = 0;
  std::optional<ActivateArgs> activated;
  std::vector<uint16_t> processed;
  absl::Status activate_result;
  absl::Status process_result;
  InterruptCallback config_change;
};

class MmioTransportTest : public ::testing::Test {
 protected:
  MmioTransportTest()
      : mem_(std::move(*GuestMemory::Create({{0, 1 << 20}}))),
        device_(std::make_shared<FakeDevice>()),
        transport_(std::make_unique<MmioTransport>(mem_, device_, [this] { ++irqs_; })) {}

  uint32_t ReadReg(uint64_t offset) {
    uint32_t value;
    transport_->Read(offset, {reinterpret_cast<uint8_t*>(&value), 4});
    return value;
  }
  void WriteReg(uint64_t offset, uint32_t value) {
    transport_->Write(offset, {reinterpret_cast<const uint8_t*>(&value), 4});
  }
  void WriteDriverFeatures(uint64_t features) {
    WriteReg(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    WriteReg(VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features));
    WriteReg(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    WriteReg(VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features >> 32));
  }
  uint64_t ReadDeviceFeatures() {
    WriteReg(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t low = ReadReg(VIRTIO_MMIO_DEVICE_FEATURES);
    WriteReg(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    return low | uint64_t{ReadReg(VIRTIO_MMIO_DEVICE_FEATURES)} << 32;
  }
  // The Linux virtio_mmio probe sequence up to FEATURES_OK.
  bool Negotiate(uint64_t features) {
    WriteReg(VIRTIO_MMIO_STATUS, 0);
    WriteReg(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    WriteReg(VIRTIO_MMIO_STATUS, kAckDriver);
    WriteDriverFeatures(features);
    WriteReg(VIRTIO_MMIO_STATUS, kAckDriver | VIRTIO_CONFIG_S_FEATURES_OK);
    return ReadReg(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK;
  }
  void SetUpQueue(uint16_t index, const FakeDriver& driver) {
    WriteReg(VIRTIO_MMIO_QUEUE_SEL, index);
    WriteReg(VIRTIO_MMIO_QUEUE_NUM, driver.size());
    WriteReg(VIRTIO_MMIO_QUEUE_DESC_LOW, static_cast<uint32_t>(driver.desc_table()));
    WriteReg(VIRTIO_MMIO_QUEUE_DESC_HIGH, static_cast<uint32_t>(driver.desc_table() >> 32));
    WriteReg(VIRTIO_MMIO_QUEUE_AVAIL_LOW, static_cast<uint32_t>(driver.avail_ring()));
    WriteReg(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
    WriteReg(VIRTIO_MMIO_QUEUE_USED_LOW, static_cast<uint32_t>(driver.used_ring()));
    WriteReg(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
    WriteReg(VIRTIO_MMIO_QUEUE_READY, 1);
  }
  void DriverOk() {
    WriteReg(VIRTIO_MMIO_STATUS,
             kAckDriver | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
  }

  GuestMemory mem_;
  std::shared_ptr<FakeDevice> device_;
  std::atomic<int> irqs_{0};
  std::unique_ptr<MmioTransport> transport_;
};

TEST_F(MmioTransportTest, IdentificationRegisters) {
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976u);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_VERSION), 2u);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_DEVICE_ID), 42u);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_VENDOR_ID), MmioTransport::kVendorId);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_STATUS), 0u);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
}

TEST_F(MmioTransportTest, OffersDeviceFeaturesPlusVersion1) {
  EXPECT_EQ(ReadDeviceFeatures(), kFeatureA | kFeatureB | kEventIdx | kVersion1);
  WriteReg(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_DEVICE_FEATURES), 0u);
}

TEST_F(MmioTransportTest, AcceptsSubsetWithVersion1) {
  EXPECT_TRUE(Negotiate(kVersion1 | kFeatureB));
  EXPECT_EQ(transport_->driver_features(), kVersion1 | kFeatureB);
}

TEST_F(MmioTransportTest, RefusesFeaturesNotOffered) {
  EXPECT_FALSE(Negotiate(kVersion1 | (1ull << 7)));
  EXPECT_FALSE(Negotiate(kVersion1 | (1ull << 40)));
}

TEST_F(MmioTransportTest, RefusesMissingVersion1) { EXPECT_FALSE(Negotiate(kFeatureA)); }

TEST_F(MmioTransportTest, IgnoresDriverFeaturesBeforeDriverOrAfterFeaturesOk) {
  WriteDriverFeatures(kVersion1);  // status 0: ignored
  EXPECT_EQ(transport_->driver_features(), 0u);
  ASSERT_TRUE(Negotiate(kVersion1));
  WriteDriverFeatures(kVersion1 | kFeatureA);  // after FEATURES_OK: ignored
  EXPECT_EQ(transport_->driver_features(), kVersion1);
}

TEST_F(MmioTransportTest, StatusCannotClearBitsOrSetNeedsReset) {
  ASSERT_TRUE(Negotiate(kVersion1));
  WriteReg(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_STATUS), kAckDriver | VIRTIO_CONFIG_S_FEATURES_OK);
  WriteReg(VIRTIO_MMIO_STATUS,
           kAckDriver | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0u);
}

TEST_F(MmioTransportTest, DriverOkWithoutFeaturesOkIsIgnored) {
  WriteReg(VIRTIO_MMIO_STATUS, kAckDriver);
  WriteReg(VIRTIO_MMIO_STATUS, kAckDriver | VIRTIO_CONFIG_S_DRIVER_OK);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_STATUS), kAckDriver);
  EXPECT_EQ(device_->activations, 0);
}

TEST_F(MmioTransportTest, QueueConfigurationAndActivation) {
  ASSERT_TRUE(Negotiate(kVersion1 | kEventIdx));
  WriteReg(VIRTIO_MMIO_QUEUE_SEL, 0);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_QUEUE_NUM_MAX), 16u);
  WriteReg(VIRTIO_MMIO_QUEUE_SEL, 1);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_QUEUE_NUM_MAX), 8u);
  WriteReg(VIRTIO_MMIO_QUEUE_SEL, 2);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_QUEUE_NUM_MAX), 0u);

  FakeDriver q0(mem_, 0x10000, 16);
  SetUpQueue(0, q0);
  WriteReg(VIRTIO_MMIO_QUEUE_SEL, 0);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_QUEUE_READY), 1u);
  // Once ready, configuration is frozen.
  WriteReg(VIRTIO_MMIO_QUEUE_NUM, 4);
  DriverOk();
  ASSERT_EQ(device_->activations, 1);
  const ActivateArgs& args = *device_->activated;
  EXPECT_EQ(args.features, kVersion1 | kEventIdx);
  ASSERT_EQ(args.queues.size(), 2u);
  EXPECT_TRUE(args.queues[0].ready());
  EXPECT_EQ(args.queues[0].size(), 16);
  EXPECT_EQ(args.queues[0].desc_table(), q0.desc_table());
  EXPECT_EQ(args.queues[0].used_ring(), q0.used_ring());
  EXPECT_TRUE(args.queues[0].event_idx());
  EXPECT_FALSE(args.queues[1].ready());
}

TEST_F(MmioTransportTest, RejectsBadQueueConfiguration) {
  ASSERT_TRUE(Negotiate(kVersion1));
  FakeDriver q0(mem_, 0x10000, 16);
  WriteReg(VIRTIO_MMIO_QUEUE_SEL, 0);
  WriteReg(VIRTIO_MMIO_QUEUE_NUM, 32);  // above QueueNumMax
  WriteReg(VIRTIO_MMIO_QUEUE_DESC_LOW, static_cast<uint32_t>(q0.desc_table()));
  WriteReg(VIRTIO_MMIO_QUEUE_AVAIL_LOW, static_cast<uint32_t>(q0.avail_ring()));
  WriteReg(VIRTIO_MMIO_QUEUE_USED_LOW, static_cast<uint32_t>(q0.used_ring()));
  WriteReg(VIRTIO_MMIO_QUEUE_READY, 1);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_QUEUE_READY), 0u);
  WriteReg(VIRTIO_MMIO_QUEUE_NUM, 16);
  WriteReg(VIRTIO_MMIO_QUEUE_USED_HIGH, 1);  // used ring at 4 GiB+: outside RAM
  WriteReg(VIRTIO_MMIO_QUEUE_READY, 1);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_QUEUE_READY), 0u);
  WriteReg(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
  WriteReg(VIRTIO_MMIO_QUEUE_READY, 1);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_QUEUE_READY), 1u);
}

TEST_F(MmioTransportTest, QueueConfigIgnoredBeforeFeaturesOk) {
  WriteReg(VIRTIO_MMIO_STATUS, kAckDriver);
  FakeDriver q0(mem_, 0x10000, 16);
  SetUpQueue(0, q0);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_QUEUE_READY), 0u);
}

TEST_F(MmioTransportTest, NotifyReachesProcessQueueOnlyWhenRunning) {
  ASSERT_TRUE(Negotiate(kVersion1));
  WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, 0);  // not DRIVER_OK yet
  EXPECT_TRUE(device_->processed.empty());
  FakeDriver q0(mem_, 0x10000, 16);
  SetUpQueue(0, q0);
  DriverOk();
  WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
  WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, 7);  // no such queue
  EXPECT_EQ(device_->processed, (std::vector<uint16_t>{1, 0}));
}

// Linux's virtio_balloon primes its stats queue and kicks it before
// DRIVER_OK; that buffer must still reach the device once it is live.
TEST_F(MmioTransportTest, NotifyOfReadyQueueBeforeDriverOkIsProcessedAtDriverOk) {
  ASSERT_TRUE(Negotiate(kVersion1));
  FakeDriver q0(mem_, 0x10000, 16);
  SetUpQueue(0, q0);
  WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, 0);  // remembered once
  EXPECT_TRUE(device_->processed.empty());
  DriverOk();
  EXPECT_EQ(device_->processed, (std::vector<uint16_t>{0}));
}

TEST_F(MmioTransportTest, DeviceErrorSetsNeedsResetAndConfigInterrupt) {
  ASSERT_TRUE(Negotiate(kVersion1));
  DriverOk();
  uint32_t generation = ReadReg(VIRTIO_MMIO_CONFIG_GENERATION);
  device_->process_result = absl::DataLossError("corrupt ring");
  WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  EXPECT_TRUE(ReadReg(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_INTERRUPT_STATUS), uint32_t{VIRTIO_MMIO_INT_CONFIG});
  EXPECT_EQ(irqs_, 1);
  EXPECT_NE(ReadReg(VIRTIO_MMIO_CONFIG_GENERATION), generation);
  // No more processing until reset.
  WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  EXPECT_EQ(device_->processed.size(), 1u);
  WriteReg(VIRTIO_MMIO_STATUS, 0);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_STATUS), 0u);
}

TEST_F(MmioTransportTest, ActivationFailureSetsNeedsReset) {
  ASSERT_TRUE(Negotiate(kVersion1));
  device_->activate_result = absl::InvalidArgumentError("queue 0 not ready");
  DriverOk();
  EXPECT_TRUE(ReadReg(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

TEST_F(MmioTransportTest, ResetClearsQueuesFeaturesAndInterrupts) {
  ASSERT_TRUE(Negotiate(kVersion1 | kFeatureA));
  FakeDriver q0(mem_, 0x10000, 16);
  SetUpQueue(0, q0);
  DriverOk();
  device_->activated->signal_used();
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_INTERRUPT_STATUS), uint32_t{VIRTIO_MMIO_INT_VRING});
  int resets_before = device_->resets;
  WriteReg(VIRTIO_MMIO_STATUS, 0);
  EXPECT_EQ(device_->resets, resets_before + 1);
  EXPECT_FALSE(device_->activated.has_value());
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_STATUS), 0u);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_INTERRUPT_STATUS), 0u);
  EXPECT_EQ(transport_->driver_features(), 0u);
  WriteReg(VIRTIO_MMIO_QUEUE_SEL, 0);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_QUEUE_READY), 0u);
  // Linux's vm_del_vq() writes QueueReady=0 after the reset: accepted.
  WriteReg(VIRTIO_MMIO_QUEUE_READY, 0);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_QUEUE_READY), 0u);
}

TEST_F(MmioTransportTest, InterruptStatusAndAck) {
  ASSERT_TRUE(Negotiate(kVersion1));
  DriverOk();
  device_->activated->signal_used();
  transport_->NotifyConfigChange();
  EXPECT_EQ(irqs_, 2);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_INTERRUPT_STATUS),
            uint32_t{VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG});
  WriteReg(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_INTERRUPT_STATUS), uint32_t{VIRTIO_MMIO_INT_CONFIG});
  WriteReg(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_INTERRUPT_STATUS), 0u);
}

// A config interrupt raised just before the save (as hinting DONE is, with
// the guest paused) may never have reached the source's interrupt
// controller: the restored transport raises it again once told everything
// is loaded, and only if the driver has not acknowledged it.
TEST_F(MmioTransportTest, RestoredUnacknowledgedInterruptIsRaisedAgain) {
  ASSERT_TRUE(Negotiate(kVersion1));
  DriverOk();
  transport_->NotifyConfigChange();
  auto restore = [&](int& irqs) {
    state::StateWriter w;
    w.BeginNode("t");
    EXPECT_TRUE(transport_->Save(w).ok());
    w.EndNode();
    auto reader = state::StateReader::Parse(*w.Finish());
    auto restored = std::make_unique<MmioTransport>(mem_, std::make_shared<FakeDevice>(), [&irqs] { ++irqs; });
    EXPECT_TRUE(reader.ok() && restored->Load(*reader->Node("t")).ok());
    return restored;
  };
  int irqs = 0;
  auto restored = restore(irqs);
  EXPECT_EQ(irqs, 0);  // Load itself raises nothing
  restored->RaiseRestoredInterrupt();
  EXPECT_EQ(irqs, 1);
  EXPECT_EQ(restored->interrupt_status(), uint32_t{VIRTIO_MMIO_INT_CONFIG});

  WriteReg(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);  // the driver saw it
  int quiet = 0;
  restore(quiet)->RaiseRestoredInterrupt();
  EXPECT_EQ(quiet, 0);
}

// Saves this transport and loads it into a new one with a fresh device.
struct Restored {
  std::shared_ptr<FakeDevice> device = std::make_shared<FakeDevice>();
  std::unique_ptr<MmioTransport> transport;
  absl::Status status;
};
Restored SaveAndLoad(MmioTransport& from, GuestMemory& mem) {
  Restored r;
  r.transport = std::make_unique<MmioTransport>(mem, r.device, [] {});
  state::StateWriter w;
  w.BeginNode("t");
  r.status = from.Save(w);
  w.EndNode();
  if (!r.status.ok()) return r;
  auto reader = state::StateReader::Parse(*w.Finish());
  r.status = reader.ok() ? r.transport->Load(*reader->Node("t")) : reader.status();
  return r;
}

// Found by fuzz/mmio_transport_fuzzer: each of these states could be
// reached by a driver, and Load refused it, so the VM could not migrate.
TEST_F(MmioTransportTest, UnknownStatusBitsAreIgnored) {
  WriteReg(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | 0x100);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_STATUS), uint32_t{VIRTIO_CONFIG_S_ACKNOWLEDGE});
  EXPECT_TRUE(SaveAndLoad(*transport_, mem_).status.ok());
}

TEST_F(MmioTransportTest, MigratesWithRefusedFeaturesWrittenBeforeFeaturesOk) {
  EXPECT_FALSE(Negotiate(kVersion1 | (1ull << 7)));
  Restored r = SaveAndLoad(*transport_, mem_);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.transport->driver_features(), kVersion1 | (1ull << 7));
  // Still refused on the destination.
  const uint32_t features_ok = kAckDriver | VIRTIO_CONFIG_S_FEATURES_OK;
  r.transport->Write(VIRTIO_MMIO_STATUS, {reinterpret_cast<const uint8_t*>(&features_ok), 4});
  EXPECT_EQ(r.transport->status() & VIRTIO_CONFIG_S_FEATURES_OK, 0u);
}

TEST_F(MmioTransportTest, MigratesNotReadyQueueWithAnyQueueNum) {
  ASSERT_TRUE(Negotiate(kVersion1));
  WriteReg(VIRTIO_MMIO_QUEUE_SEL, 0);
  WriteReg(VIRTIO_MMIO_QUEUE_NUM, 3);  // not a power of two, never made ready
  EXPECT_TRUE(SaveAndLoad(*transport_, mem_).status.ok());
}

TEST_F(MmioTransportTest, DeviceInNeedsResetMigratesStillActive) {
  ASSERT_TRUE(Negotiate(kVersion1));
  FakeDriver q0(mem_, 0x10000, 16);
  SetUpQueue(0, q0);
  DriverOk();
  device_->process_result = absl::DataLossError("corrupt ring");
  WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  ASSERT_TRUE(ReadReg(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
  Restored r = SaveAndLoad(*transport_, mem_);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.device->activations, 1);  // as on the source
  EXPECT_TRUE(r.transport->status() & VIRTIO_CONFIG_S_NEEDS_RESET);
}

TEST_F(MmioTransportTest, DeviceWhoseActivationFailedMigratesInactive) {
  ASSERT_TRUE(Negotiate(kVersion1));
  device_->activate_result = absl::InvalidArgumentError("queue 0 not ready");
  DriverOk();
  ASSERT_TRUE(ReadReg(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
  Restored r = SaveAndLoad(*transport_, mem_);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.device->activations, 0);
}

TEST_F(MmioTransportTest, ConfigGenerationBumpsOnDeviceConfigChange) {
  uint32_t generation = ReadReg(VIRTIO_MMIO_CONFIG_GENERATION);
  device_->config_change();  // what a device does from its own API
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_CONFIG_GENERATION), generation + 1);
  EXPECT_TRUE(ReadReg(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
}

TEST_F(MmioTransportTest, ConfigSpaceAccessAnyWidth) {
  uint8_t byte;
  transport_->Read(VIRTIO_MMIO_CONFIG + 2, {&byte, 1});
  EXPECT_EQ(byte, 3);
  uint16_t half = 0xbeef;
  transport_->Write(VIRTIO_MMIO_CONFIG + 4, {reinterpret_cast<uint8_t*>(&half), 2});
  EXPECT_EQ(device_->config[4], 0xef);
  EXPECT_EQ(device_->config[5], 0xbe);
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_CONFIG), 0x04030201u);
}

TEST_F(MmioTransportTest, BadAccessesAreIgnored) {
  uint16_t half = 0xffff;
  transport_->Read(VIRTIO_MMIO_MAGIC_VALUE, {reinterpret_cast<uint8_t*>(&half), 2});
  EXPECT_EQ(half, 0);  // wrong width reads zero
  transport_->Write(VIRTIO_MMIO_STATUS, {reinterpret_cast<uint8_t*>(&half), 2});
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_STATUS), 0u);
  EXPECT_EQ(ReadReg(0x0f0), 0u);                // unknown
  WriteReg(VIRTIO_MMIO_MAGIC_VALUE, 0);         // read-only
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_MAGIC_VALUE), MmioTransport::kMagic);
  WriteReg(VIRTIO_MMIO_QUEUE_PFN, 0x1234);      // legacy register
  EXPECT_EQ(ReadReg(VIRTIO_MMIO_STATUS), 0u);
}

TEST_F(MmioTransportTest, DestructionUnhooksDevice) {
  transport_.reset();
  EXPECT_FALSE(device_->config_change);
}

}  // namespace
}  // namespace virtio
