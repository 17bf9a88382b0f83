// SPDX-License-Identifier: MIT
// A 16550A UART (COM1): what Linux's 8250 driver needs for a console.
// Transmit is immediate (bytes go straight to the output sink), so the
// transmitter is always empty; receive has a host-side FIFO filled from the
// console input. The interrupt line follows the IIR state (level), which the
// in-kernel IOAPIC/PIC see as an edge on each rise.
#ifndef DEVICES_SERIAL_H_
#define DEVICES_SERIAL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <span>

#include "absl/synchronization/mutex.h"
#include "devices/vm_events.h"
#include "memory/bus.h"
#include "state/migratable.h"

namespace devices {

class Serial : public memory::BusDevice, public state::Migratable {
 public:
  using OutputSink = std::function<void(uint8_t)>;
  Serial(IrqLine irq, OutputSink output) : irq_(std::move(irq)), output_(std::move(output)) {}

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  // Console input; bytes beyond kMaxQueuedInput are dropped (the guest is
  // not reading). Returns how many were queued.
  size_t QueueInput(std::span<const uint8_t> bytes);

  static constexpr size_t kMaxQueuedInput = 1 << 20;

  // Registers, pending input and the interrupt line; Load drives the line
  // to the restored level.
  absl::Status Save(state::StateWriter& out) override;
  absl::Status Load(const state::StateNode& in) override;

 private:
  uint8_t ReadRegister(uint64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteRegister(uint64_t offset, uint8_t value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint8_t InterruptId() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateIrq() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  IrqLine irq_;
  OutputSink output_;
  absl::Mutex mu_;
  std::deque<uint8_t> rx_ ABSL_GUARDED_BY(mu_);
  uint8_t ier_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t lcr_ ABSL_GUARDED_BY(mu_) = 0x03;
  uint8_t mcr_ ABSL_GUARDED_BY(mu_) = 0x08;
  uint8_t scr_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t dll_ ABSL_GUARDED_BY(mu_) = 0x0c;
  uint8_t dlm_ ABSL_GUARDED_BY(mu_) = 0;
  bool thr_interrupt_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool irq_level_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace devices

#endif  // DEVICES_SERIAL_H_
