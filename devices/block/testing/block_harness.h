// SPDX-License-Identifier: MIT
// BlockHarness: a virtio-blk device on a temporary image file, behind a
// virtio-mmio transport, driven by a FakeDriver over plain guest memory the
// way the Linux driver does (negotiate, one queue, requests, notify). For
// the device's tests, its conformance suite and its fuzz target.
#ifndef DEVICES_BLOCK_TESTING_BLOCK_HARNESS_H_
#define DEVICES_BLOCK_TESTING_BLOCK_HARNESS_H_

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "devices/block/block.h"
#include "memory/guest_memory.h"
#include "virtio/mmio_transport.h"
#include "virtio/testing/fake_driver.h"
#include "virtio/testing/mmio_registers.h"

namespace devices::testing {

// A file under $TMPDIR (or /tmp) of `bytes` bytes, sparse, removed with the
// object.
class TempImage {
 public:
  explicit TempImage(uint64_t bytes) {
    const char* dir = ::getenv("TMPDIR");
    path_ = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/vmm-block-XXXXXX";
    const int fd = ::mkstemp(path_.data());
    if (fd >= 0) {
      ok_ = ::ftruncate(fd, static_cast<off_t>(bytes)) == 0;
      ::close(fd);
    }
  }
  ~TempImage() { ::unlink(path_.c_str()); }
  TempImage(const TempImage&) = delete;
  TempImage& operator=(const TempImage&) = delete;
  const std::string& path() const { return path_; }
  bool ok() const { return ok_; }

 private:
  std::string path_;
  bool ok_ = false;
};

struct BlockHarness {
  // Guest RAM: 16 MiB. The ring at 1 MiB, request headers and status
  // bytes from 2 MiB, data buffers from 4 MiB.
  static constexpr memory::Gpa kRing = 1 << 20;
  static constexpr memory::Gpa kHeaders = 2 << 20;
  static constexpr memory::Gpa kData = 4 << 20;
  static constexpr uint64_t kRamBytes = 16 << 20;

  memory::GuestMemory mem{std::move(*memory::GuestMemory::Create({{0, kRamBytes}}))};
  std::shared_ptr<Block> block;
  std::unique_ptr<virtio::MmioTransport> transport;
  std::unique_ptr<virtio::FakeDriver> driver;
  std::shared_ptr<std::atomic<int>> irqs = std::make_shared<std::atomic<int>>(0);
  uint16_t next_request = 0;  // header/status slot of the next request

  // The device on `path`, its worker started (running `on_worker_start`
  // first); nullptr when it cannot be created.
  static std::unique_ptr<BlockHarness> Make(const std::string& path, bool readonly = false,
                                            std::function<void()> on_worker_start = nullptr) {
    std::unique_ptr<BlockHarness> h = MakeWithoutWorker(path, readonly);
    if (h != nullptr) h->block->StartWorker(std::move(on_worker_start));
    return h;
  }
  // The same with no worker thread: Settle serves on the calling thread
  // (the fuzz target, where a thread per device and a hand-off per
  // notification would cost more than the requests).
  static std::unique_ptr<BlockHarness> MakeWithoutWorker(const std::string& path, bool readonly = false) {
    auto h = std::make_unique<BlockHarness>();
    absl::StatusOr<std::shared_ptr<Block>> block = Block::Create({.path = path, .readonly = readonly});
    if (!block.ok()) return nullptr;
    h->block = *block;
    h->transport = std::make_unique<virtio::MmioTransport>(h->mem, h->block, [irqs = h->irqs] { ++*irqs; });
    return h;
  }

  virtio::MmioRegisters Registers() { return virtio::MmioRegisters(*transport); }
  void WriteReg(uint64_t offset, uint32_t v) { Registers().Write(offset, v); }
  uint32_t ReadReg(uint64_t offset) { return Registers().Read(offset); }
  uint64_t OfferedFeatures() { return Registers().OfferedFeatures(); }

  // The driver's probe: accepts the offered features in `accept`, sets up
  // the queue, DRIVER_OK. Returns the device status register.
  uint32_t Negotiate(uint64_t accept = ~0ull) {
    virtio::MmioRegisters regs = Registers();
    const uint32_t ok = regs.AcceptFeatures(regs.OfferedFeatures() & accept);
    driver = std::make_unique<virtio::FakeDriver>(mem, kRing, Block::kQueueSize);
    regs.SetUpQueue(0, *driver);
    return regs.DriverOk(ok);
  }

  // Where request `slot`'s header and status byte go.
  static memory::Gpa HeaderAt(uint16_t slot) { return kHeaders + uint64_t{slot} * 32; }
  static memory::Gpa StatusAt(uint16_t slot) { return HeaderAt(slot) + 16; }

  // Offers the chain header + `data` + status byte (Linux's framing),
  // without notifying. Returns the request's slot.
  uint16_t Offer(uint32_t type, uint64_t sector, const std::vector<virtio::FakeDriver::Buffer>& data) {
    const uint16_t slot = next_request++;
    const virtio_blk_outhdr header = {.type = type, .ioprio = 0, .sector = sector};
    (void)mem.WriteBytes(HeaderAt(slot), {reinterpret_cast<const uint8_t*>(&header), sizeof(header)});
    (void)mem.Write<uint8_t>(StatusAt(slot), 0xff);
    std::vector<virtio::FakeDriver::Buffer> chain = {{HeaderAt(slot), sizeof(header), false}};
    chain.insert(chain.end(), data.begin(), data.end());
    chain.push_back({StatusAt(slot), 1, true});
    driver->AddChain(chain);
    return slot;
  }
  void NotifyAndWait() {
    WriteReg(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    Settle();
  }
  // Returns once everything notified so far is served: by the worker, or
  // here when there is none.
  void Settle() {
    block->ServeOnThisThread();
    block->Drain();
  }
  // One request, served; returns its status byte (0xff: not written).
  uint8_t Submit(uint32_t type, uint64_t sector, const std::vector<virtio::FakeDriver::Buffer>& data) {
    const uint16_t slot = Offer(type, sector, data);
    NotifyAndWait();
    return Status(slot);
  }
  uint8_t Status(uint16_t slot) { return *mem.Read<uint8_t>(StatusAt(slot)); }
};

}  // namespace devices::testing

#endif  // DEVICES_BLOCK_TESTING_BLOCK_HARNESS_H_
