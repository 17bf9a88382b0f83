// SPDX-License-Identifier: MIT
// The Migratable conformance suite (state/testing) for the UART, driven
// through its registers: the divisor latch, loopback bytes in the receive
// queue, the pending THR-empty interrupt and the interrupt line.
#include <linux/serial_reg.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "devices/serial.h"
#include "state/testing/migratable_conformance.h"

namespace devices {
namespace {

struct SerialCase : state::testing::CaseDefaults {
  struct Instance {
    bool irq_level = false;
    Serial serial{[this](bool level) { irq_level = level; }, [](uint8_t) {}};
    uint8_t Read(uint64_t reg) {
      uint8_t v;
      serial.Read(reg, {&v, 1});
      return v;
    }
    void Write(uint64_t reg, uint8_t v) { serial.Write(reg, {&v, 1}); }
  };

  static std::unique_ptr<Instance> Make() { return std::make_unique<Instance>(); }
  static state::Migratable& Part(Instance& i) { return i.serial; }

  static void Change(Instance& i) {
    i.Write(UART_LCR, UART_LCR_DLAB);
    i.Write(UART_DLL, 0x01);
    i.Write(UART_DLM, 0x02);
    i.Write(UART_LCR, UART_LCR_WLEN8 | UART_LCR_PARITY);
    i.Write(UART_SCR, 0x77);
    // Loopback puts transmitted bytes into the receive queue.
    i.Write(UART_MCR, UART_MCR_LOOP);
    i.Write(UART_TX, 'x');
    i.Write(UART_TX, 'y');
    i.Write(UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    i.Write(UART_IER, UART_IER_RDI | UART_IER_THRI);
  }
  static void ChangeAgain(Instance& i) {
    i.Read(UART_RX);
    i.Write(UART_SCR, 0x11);
    i.Write(UART_IER, UART_IER_THRI);
    i.Write(UART_LCR, UART_LCR_WLEN8);
  }

  static state::testing::Observed Observe(Instance& i) {
    state::testing::Observed o;
    o["irq"] = i.irq_level;
    const uint8_t lcr = i.Read(UART_LCR);
    o["lcr"] = lcr;
    o["mcr"] = i.Read(UART_MCR);
    o["msr"] = i.Read(UART_MSR);
    o["scr"] = i.Read(UART_SCR);
    o["lsr"] = i.Read(UART_LSR);
    o["iir"] = i.Read(UART_IIR);  // acknowledges THR-empty: after the line
    i.Write(UART_LCR, lcr | UART_LCR_DLAB);
    o["dll"] = i.Read(UART_DLL);
    o["dlm"] = i.Read(UART_DLM);
    i.Write(UART_LCR, lcr & ~UART_LCR_DLAB);
    o["ier"] = i.Read(UART_IER);
    for (int n = 0; i.Read(UART_LSR) & UART_LSR_DR; ++n) o["rx[" + std::to_string(n) + "]"] = i.Read(UART_RX);
    return o;
  }

  // The receive queue's bytes: any length up to the limit is valid.
  static std::vector<std::string> AnyLength() { return {"rx"}; }
};

}  // namespace
}  // namespace devices

namespace state::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Serial, MigratableConformance, devices::SerialCase);
}  // namespace state::testing
