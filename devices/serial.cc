// SPDX-License-Identifier: MIT
#include "devices/serial.h"

#include <linux/serial_reg.h>

namespace devices {
namespace {
constexpr uint8_t kIirFifoBits = 0xc0;  // FIFOs enabled, as a 16550A reports
}  // namespace

void Serial::Read(uint64_t offset, std::span<uint8_t> data) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < data.size(); ++i) data[i] = ReadRegister(offset + i);
  UpdateIrq();
}

void Serial::Write(uint64_t offset, std::span<const uint8_t> data) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < data.size(); ++i) WriteRegister(offset + i, data[i]);
  UpdateIrq();
}

size_t Serial::QueueInput(std::span<const uint8_t> bytes) {
  absl::MutexLock lock(&mu_);
  size_t queued = 0;
  for (uint8_t b : bytes) {
    if (rx_.size() >= kMaxQueuedInput) break;
    rx_.push_back(b);
    ++queued;
  }
  UpdateIrq();
  return queued;
}

uint8_t Serial::InterruptId() const {
  if ((ier_ & UART_IER_RDI) && !rx_.empty()) return UART_IIR_RDI;
  if ((ier_ & UART_IER_THRI) && thr_interrupt_pending_) return UART_IIR_THRI;
  return UART_IIR_NO_INT;
}

void Serial::UpdateIrq() {
  bool level = InterruptId() != UART_IIR_NO_INT;
  if (level != irq_level_) {
    irq_level_ = level;
    irq_(level);
  }
}

uint8_t Serial::ReadRegister(uint64_t offset) {
  bool dlab = lcr_ & UART_LCR_DLAB;
  switch (offset) {
    case UART_RX:
      if (dlab) return dll_;
      if (rx_.empty()) return 0;
      {
        uint8_t b = rx_.front();
        rx_.pop_front();
        return b;
      }
    case UART_IER:
      return dlab ? dlm_ : ier_;
    case UART_IIR: {
      uint8_t id = InterruptId();
      // Reading IIR acknowledges a THR-empty interrupt (16550 semantics).
      if (id == UART_IIR_THRI) thr_interrupt_pending_ = false;
      return id | kIirFifoBits;
    }
    case UART_LCR:
      return lcr_;
    case UART_MCR:
      return mcr_;
    case UART_LSR:
      return UART_LSR_TEMT | UART_LSR_THRE | (rx_.empty() ? 0 : UART_LSR_DR);
    case UART_MSR:
      // Loopback reflects MCR outputs; otherwise report a connected modem
      // (DCD, DSR, CTS) so the driver never waits for carrier.
      if (mcr_ & UART_MCR_LOOP) {
        return ((mcr_ & UART_MCR_RTS) ? UART_MSR_CTS : 0) | ((mcr_ & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
               ((mcr_ & UART_MCR_OUT1) ? UART_MSR_RI : 0) | ((mcr_ & UART_MCR_OUT2) ? UART_MSR_DCD : 0);
      }
      return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
    case UART_SCR:
      return scr_;
  }
  return 0xff;
}

void Serial::WriteRegister(uint64_t offset, uint8_t value) {
  bool dlab = lcr_ & UART_LCR_DLAB;
  switch (offset) {
    case UART_TX:
      if (dlab) {
        dll_ = value;
      } else if (mcr_ & UART_MCR_LOOP) {
        if (rx_.size() < kMaxQueuedInput) rx_.push_back(value);
        thr_interrupt_pending_ = true;
      } else {
        output_(value);
        thr_interrupt_pending_ = true;
      }
      return;
    case UART_IER:
      if (dlab) {
        dlm_ = value;
      } else {
        // Enabling THRI with an empty transmitter raises the interrupt at
        // once; the 8250 driver relies on that to start transmitting.
        if (!(ier_ & UART_IER_THRI) && (value & UART_IER_THRI)) thr_interrupt_pending_ = true;
        ier_ = value & 0x0f;
      }
      return;
    case UART_FCR:
      // FIFO clears are ignored: the receive queue holds console input the
      // user already typed (the driver clears FIFOs when it opens the port,
      // which would drop commands a script sent early).
      return;
    case UART_LCR:
      lcr_ = value;
      return;
    case UART_MCR:
      mcr_ = value & 0x1f;
      return;
    case UART_SCR:
      scr_ = value;
      return;
  }
}

absl::Status Serial::Save(state::StateWriter& out) {
  absl::MutexLock lock(&mu_);
  const uint8_t regs[] = {ier_, lcr_, mcr_, scr_, dll_, dlm_, static_cast<uint8_t>(thr_interrupt_pending_)};
  out.PutBytes("regs", regs);
  std::vector<uint8_t> rx(rx_.begin(), rx_.end());
  out.PutBytes("rx", rx);
  return absl::OkStatus();
}

absl::Status Serial::Load(const state::StateNode& in) {
  absl::StatusOr<std::span<const uint8_t>> regs = in.Bytes("regs", 7);
  if (!regs.ok()) return regs.status();
  absl::StatusOr<std::span<const uint8_t>> rx = in.Bytes("rx");
  if (!rx.ok()) return rx.status();
  if (rx->size() > kMaxQueuedInput) return absl::DataLossError("saved state: serial input queue too long");
  absl::MutexLock lock(&mu_);
  const std::span<const uint8_t> r = *regs;
  // Reserved bits are masked the way register writes mask them.
  ier_ = r[0] & 0x0f;
  lcr_ = r[1];
  mcr_ = r[2] & 0x1f;
  scr_ = r[3];
  dll_ = r[4];
  dlm_ = r[5];
  thr_interrupt_pending_ = r[6] != 0;
  rx_.assign(rx->begin(), rx->end());
  // Re-drive the line: the restored irqchip may or may not hold it.
  irq_level_ = false;
  irq_(false);
  UpdateIrq();
  return absl::OkStatus();
}

}  // namespace devices
