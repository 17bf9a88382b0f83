// SPDX-License-Identifier: MIT
// Guest scripts: a byte string read as a sequence of guest actions on the
// devices a guest can reach (register reads and writes of any width and
// offset, virtqueue chains, writes to its own RAM) and of host actions (the
// API's balloon calls). One engine for two users: the libFuzzer targets in
// fuzz/ (bytes from the fuzzer) and the save-what-loads property test
// (devices/testing/save_what_loads_test.cc, bytes from a seeded RNG), so
// that whatever the fuzzers learn to reach, the unit test drives the same
// way and vice versa.
//
// Each script leaves its devices in whatever state the bytes led to; the
// callers then check that the state saves and loads.
#ifndef DEVICES_TESTING_GUEST_SCRIPTS_H_
#define DEVICES_TESTING_GUEST_SCRIPTS_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "devices/balloon/balloon.h"
#include "devices/legacy.h"
#include "devices/serial.h"
#include "devices/vm_events.h"
#include "memory/bus.h"
#include "memory/guest_memory.h"
#include "virtio/mmio_transport.h"
#include "virtio/virtio_device.h"

namespace devices::testing {

// Reads little-endian integers from the front of a byte string; once it is
// used up every read gives zero (so a script always ends). The names follow
// libFuzzer's FuzzedDataProvider, which the fuzz targets used before.
class ByteSource {
 public:
  explicit ByteSource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  size_t remaining_bytes() const { return bytes_.size(); }

  template <typename T>
  T ConsumeIntegral() {
    static_assert(std::is_integral_v<T>);
    using U = std::make_unsigned_t<T>;
    U value = 0;
    const size_t n = std::min(sizeof(T), bytes_.size());
    for (size_t i = 0; i < n; ++i) value |= static_cast<U>(static_cast<U>(bytes_[i]) << (8 * i));
    bytes_ = bytes_.subspan(n);
    return static_cast<T>(value);
  }
  // A value in [min, max], from as few bytes as the range needs.
  template <typename T>
  T ConsumeIntegralInRange(T min, T max) {
    const uint64_t range = static_cast<uint64_t>(max) - static_cast<uint64_t>(min);
    uint64_t value = 0;
    for (size_t shift = 0; shift < 64 && (range >> shift) != 0 && !bytes_.empty(); shift += 8) {
      value |= uint64_t{bytes_[0]} << shift;
      bytes_ = bytes_.subspan(1);
    }
    if (range != UINT64_MAX) value %= range + 1;
    return static_cast<T>(static_cast<uint64_t>(min) + value);
  }

 private:
  std::span<const uint8_t> bytes_;
};

// Guest RAM in two regions with a hole between them, so that ranges that
// cross a region's end are exercised: [0, kLowRamSize) and
// [kHighRamBase, kHighRamBase + kHighRamSize).
inline constexpr uint64_t kLowRamSize = 64 * 1024;
inline constexpr uint64_t kHighRamBase = 1 << 20;
inline constexpr uint64_t kHighRamSize = 64 * 1024;
std::vector<memory::RamRegion> ScriptRamLayout();
// Zeroes every byte of a ScriptRamLayout() memory.
void ZeroScriptRam(memory::GuestMemory& mem);

class CountingEvents : public VmEvents {
 public:
  void PowerOff() override { ++power_offs; }
  void Reset() override { ++resets; }
  void GuestPanicked() override { ++panics; }
  int power_offs = 0, resets = 0, panics = 0;
};

// The port I/O devices on a bus laid out as the VMM's (device_manager.cc),
// so that accesses straddling a device's end are refused as they are there.
struct PortDevices {
  PortDevices();
  CountingEvents events;
  std::shared_ptr<Serial> serial;
  std::shared_ptr<Cmos> cmos;
  std::shared_ptr<AcpiPm> pm;
  memory::Bus bus{"pio"};
};
// Accesses of any width at any offset of each device's window, with console
// input queued in between.
void RunPortScript(ByteSource& in, PortDevices& ports);

// A virtio device with two queues that pops every chain on a notification
// and returns it with nothing written. Its state: 16 config bytes, whether
// it is active, and its queues' positions (checked as strictly as a real
// device's).
class EchoDevice : public virtio::VirtioDevice {
 public:
  uint32_t device_type() const override;
  uint64_t device_features() const override;
  std::vector<uint16_t> queue_max_sizes() const override;
  void ReadConfig(uint64_t offset, std::span<uint8_t> data) override;
  void WriteConfig(uint64_t offset, std::span<const uint8_t> data) override;
  absl::Status Activate(virtio::ActivateArgs args) override;
  absl::Status ProcessQueue(uint16_t index) override;
  void Reset() override;
  absl::Status Save(state::StateWriter& out) override;
  absl::Status Load(const state::StateNode& in) override;

 private:
  uint8_t config_[16] = {};
  memory::GuestMemory* mem_ = nullptr;
  std::vector<virtio::Queue> queues_;
  virtio::InterruptCallback signal_used_;
};
// Register reads and writes of any width and offset, config-space accesses
// and notifications, interleaved with guest writes to low RAM (its rings).
void RunMmioScript(ByteSource& in, memory::GuestMemory& mem, virtio::MmioTransport& transport);

// The balloon options a script picks (its first byte).
BalloonOptions ScriptBalloonOptions(ByteSource& in);
// Linux's probe (with the input leaving steps out or changing values), then
// guest actions (PFN chains, stats, hint and report buffers on any queue,
// notifications, config accesses, raw register and RAM writes) and host
// actions (target, stats request, free page hinting).
void RunBalloonScript(ByteSource& in, memory::GuestMemory& mem, Balloon& balloon,
                      virtio::MmioTransport& transport);

}  // namespace devices::testing

#endif  // DEVICES_TESTING_GUEST_SCRIPTS_H_
