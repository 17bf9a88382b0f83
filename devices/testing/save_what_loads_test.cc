// SPDX-License-Identifier: MIT
// Save what loads: whatever a guest writes to a device's registers, rings
// and config space (and whatever the host's API asks meanwhile), the
// device's saved state loads into a fresh device, and that copy saves the
// very same bytes. A device that kept a guest-written value its own Load
// refuses would make its VM impossible to migrate or restore (a snapshot
// taken with 200 that --restore then refuses).
//
// The inputs are guest scripts (guest_scripts.h, the engine the fuzz
// targets use) from a seeded RNG: every run drives the same states, and a
// failure names its seed. Most virtio scripts start with a well-formed
// probe (up to FEATURES_OK, or up to a running device), so that the
// devices are also configured and run live, not only refuse.
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "devices/testing/guest_scripts.h"
#include "state/testing/migratable_conformance.h"

// Only SaveTree and LoadTree are used from the conformance suite's header.
namespace state::testing {
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MigratableConformance);
}

namespace devices::testing {
namespace {

constexpr int kMaxReported = 5;

// Whether a transport's device ended up running (DRIVER_OK, no
// NEEDS_RESET): the scripts must reach that state often, or the property
// says little about live devices.
bool Live(const virtio::MmioTransport& transport) {
  const uint32_t status = transport.status();
  return (status & VIRTIO_CONFIG_S_DRIVER_OK) && !(status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

// Bytes of a script: a prefix (a well-formed start, or nothing) and a
// random tail of random length.
std::vector<uint8_t> RandomTail(std::mt19937_64& rng, std::vector<uint8_t> prefix) {
  const size_t length = 16 + rng() % 1500;
  for (size_t i = 0; i < length; ++i) prefix.push_back(static_cast<uint8_t>(rng()));
  return prefix;
}

// Saves `part`, loads it into `fresh` and saves that again. Returns what
// went wrong, or an empty string.
std::string RoundTrip(state::Migratable& part, state::Migratable& fresh) {
  const std::vector<uint8_t> saved = state::testing::SaveTree(part);
  if (saved.empty()) return "Save failed";
  if (absl::Status loaded = state::testing::LoadTree(fresh, saved); !loaded.ok()) {
    return absl::StrCat("it holds a state its own Load refuses: ", loaded.message());
  }
  if (state::testing::SaveTree(fresh) != saved) return "a loaded copy saves different bytes";
  return "";
}

// Counts failures and reports the first few with their seed.
class Failures {
 public:
  void Check(const std::string& problem, const char* device, uint64_t seed) {
    if (problem.empty()) return;
    if (++count_ <= kMaxReported) ADD_FAILURE() << device << ", seed " << seed << ": " << problem;
  }
  ~Failures() { EXPECT_EQ(count_, 0) << "scripts whose device state does not save and load"; }

 private:
  int count_ = 0;
};

class SaveWhatLoadsTest : public ::testing::Test {
 protected:
  void SetUp() override { base::SetMinLogLevel(base::LogLevel::kError); }
  void TearDown() override { base::SetMinLogLevel(base::LogLevel::kInfo); }
};

TEST_F(SaveWhatLoadsTest, PortDevices) {
  Failures failures;
  for (uint64_t seed = 0; seed < 20000; ++seed) {
    std::mt19937_64 rng(seed);
    const std::vector<uint8_t> script = RandomTail(rng, {});
    ByteSource in(script);
    PortDevices ports;
    RunPortScript(in, ports);
    PortDevices fresh;
    failures.Check(RoundTrip(*ports.serial, *fresh.serial), "serial", seed);
    failures.Check(RoundTrip(*ports.cmos, *fresh.cmos), "cmos", seed);
    failures.Check(RoundTrip(*ports.pm, *fresh.pm), "acpi pm", seed);
  }
}

// One MMIO script register write, as RunMmioScript reads it.
void AppendMmioWrite(std::vector<uint8_t>& script, uint64_t offset, uint32_t value) {
  script.push_back(0x00);  // a 4-byte register write
  script.push_back(static_cast<uint8_t>(offset / 4));
  script.push_back(2);  // width byte, unused for register writes
  for (int i = 0; i < 8; ++i) script.push_back(static_cast<uint8_t>(uint64_t{value} >> (8 * i)));
}

// A driver's probe of the echo device up to FEATURES_OK, so that the
// random tail configures queues; or all of it (queue 0 in low RAM,
// DRIVER_OK), so that the tail has a live device to disturb.
std::vector<uint8_t> EchoProbe(uint64_t features, bool to_driver_ok) {
  std::vector<uint8_t> s;
  const uint32_t driver = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
  AppendMmioWrite(s, VIRTIO_MMIO_STATUS, driver);
  AppendMmioWrite(s, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  AppendMmioWrite(s, VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features));
  AppendMmioWrite(s, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  AppendMmioWrite(s, VIRTIO_MMIO_DRIVER_FEATURES, static_cast<uint32_t>(features >> 32));
  AppendMmioWrite(s, VIRTIO_MMIO_STATUS, driver | VIRTIO_CONFIG_S_FEATURES_OK);
  if (!to_driver_ok) return s;
  AppendMmioWrite(s, VIRTIO_MMIO_QUEUE_SEL, 0);
  AppendMmioWrite(s, VIRTIO_MMIO_QUEUE_NUM, 16);
  AppendMmioWrite(s, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
  AppendMmioWrite(s, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x2000);
  AppendMmioWrite(s, VIRTIO_MMIO_QUEUE_USED_LOW, 0x3000);
  AppendMmioWrite(s, VIRTIO_MMIO_QUEUE_READY, 1);
  AppendMmioWrite(s, VIRTIO_MMIO_STATUS, driver | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
  return s;
}

TEST_F(SaveWhatLoadsTest, VirtioMmioTransport) {
  absl::StatusOr<memory::GuestMemory> mem = memory::GuestMemory::Create(ScriptRamLayout());
  ASSERT_TRUE(mem.ok()) << mem.status();
  const uint64_t offered = EchoDevice().device_features() | (1ull << VIRTIO_F_VERSION_1);
  Failures failures;
  int live = 0;
  constexpr int kScripts = 20000;
  for (uint64_t seed = 0; seed < kScripts; ++seed) {
    std::mt19937_64 rng(seed);
    const uint64_t features = offered & (rng() | (1ull << VIRTIO_F_VERSION_1));
    const std::vector<uint8_t> script =
        RandomTail(rng, seed % 3 == 2 ? std::vector<uint8_t>{} : EchoProbe(features, seed % 3 == 0));
    ZeroScriptRam(*mem);
    ByteSource in(script);
    virtio::MmioTransport transport(*mem, std::make_shared<EchoDevice>(), [] {});
    RunMmioScript(in, *mem, transport);
    live += Live(transport);
    virtio::MmioTransport fresh(*mem, std::make_shared<EchoDevice>(), [] {});
    failures.Check(RoundTrip(transport, fresh), "virtio-mmio transport", seed);
  }
  EXPECT_GT(live, kScripts / 5) << "too few scripts left the device running";
  std::printf("%d of %d echo device scripts ended with the device running\n", live, kScripts);
}

TEST_F(SaveWhatLoadsTest, BalloonBehindVirtioMmio) {
  absl::StatusOr<memory::GuestMemory> mem = memory::GuestMemory::Create(ScriptRamLayout());
  ASSERT_TRUE(mem.ok()) << mem.status();
  Failures failures;
  int live = 0;
  constexpr int kScripts = 10000;
  for (uint64_t seed = 0; seed < kScripts; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint8_t> prefix;
    if (seed % 2 == 0) {
      // Options, then features the device offers (a random subset), then
      // every queue configured: RunBalloonScript's probe then succeeds.
      const uint8_t option_bits = static_cast<uint8_t>(rng());
      std::vector<uint8_t> options_only = {option_bits};
      ByteSource options_in(options_only);
      const uint64_t offered =
          Balloon(*mem, ScriptBalloonOptions(options_in)).device_features() | (1ull << VIRTIO_F_VERSION_1);
      const uint64_t features = offered & (rng() | (1ull << VIRTIO_F_VERSION_1));
      prefix.push_back(option_bits);
      for (int i = 0; i < 8; ++i) prefix.push_back(static_cast<uint8_t>(features >> (8 * i)));
      prefix.push_back(0xff);
    }
    const std::vector<uint8_t> script = RandomTail(rng, prefix);
    ZeroScriptRam(*mem);
    ByteSource in(script);
    const BalloonOptions options = ScriptBalloonOptions(in);
    auto balloon = std::make_shared<Balloon>(*mem, options);
    virtio::MmioTransport transport(*mem, balloon, [] {});
    RunBalloonScript(in, *mem, *balloon, transport);
    live += Live(transport);
    auto fresh_balloon = std::make_shared<Balloon>(*mem, options);
    virtio::MmioTransport fresh(*mem, fresh_balloon, [] {});
    failures.Check(RoundTrip(transport, fresh), "balloon behind virtio-mmio", seed);
  }
  EXPECT_GT(live, kScripts / 10) << "too few scripts left the balloon running";
  std::printf("%d of %d balloon scripts ended with the device running\n", live, kScripts);
}

}  // namespace
}  // namespace devices::testing
