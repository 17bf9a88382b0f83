// SPDX-License-Identifier: MIT
#include "devices/serial.h"

#include <linux/serial_reg.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace devices {
namespace {

struct SerialFixture : ::testing::Test {
  std::vector<bool> irq_levels;
  std::string output;
  Serial serial{[this](bool level) { irq_levels.push_back(level); },
                [this](uint8_t b) { output.push_back(static_cast<char>(b)); }};
  uint8_t ReadReg(uint64_t reg) {
    uint8_t v;
    serial.Read(reg, {&v, 1});
    return v;
  }
  void WriteReg(uint64_t reg, uint8_t v) { serial.Write(reg, {&v, 1}); }
};

TEST_F(SerialFixture, TransmitGoesToOutput) {
  WriteReg(UART_TX, 'h');
  WriteReg(UART_TX, 'i');
  EXPECT_EQ(output, "hi");
  EXPECT_TRUE(ReadReg(UART_LSR) & UART_LSR_THRE);
}

TEST_F(SerialFixture, ReceiveRaisesInterruptUntilDrained) {
  WriteReg(UART_IER, UART_IER_RDI);
  uint8_t in[] = {'a', 'b'};
  EXPECT_EQ(serial.QueueInput(in), 2u);
  ASSERT_FALSE(irq_levels.empty());
  EXPECT_TRUE(irq_levels.back());
  EXPECT_EQ(ReadReg(UART_IIR) & 0x0f, UART_IIR_RDI);
  EXPECT_TRUE(ReadReg(UART_LSR) & UART_LSR_DR);
  EXPECT_EQ(ReadReg(UART_RX), 'a');
  EXPECT_EQ(ReadReg(UART_RX), 'b');
  EXPECT_FALSE(ReadReg(UART_LSR) & UART_LSR_DR);
  EXPECT_FALSE(irq_levels.back());
}

TEST_F(SerialFixture, EnablingThriRaisesInterruptAndIirReadAcks) {
  WriteReg(UART_IER, UART_IER_THRI);
  EXPECT_TRUE(irq_levels.back());
  EXPECT_EQ(ReadReg(UART_IIR) & 0x0f, UART_IIR_THRI);
  EXPECT_EQ(ReadReg(UART_IIR) & 0x0f, UART_IIR_NO_INT);
  EXPECT_FALSE(irq_levels.back());
}

TEST_F(SerialFixture, DivisorLatchDoesNotTransmit) {
  WriteReg(UART_LCR, UART_LCR_DLAB);
  WriteReg(UART_DLL, 1);
  WriteReg(UART_DLM, 2);
  EXPECT_EQ(ReadReg(UART_DLL), 1);
  EXPECT_EQ(ReadReg(UART_DLM), 2);
  WriteReg(UART_LCR, 0x03);
  EXPECT_EQ(output, "");
  EXPECT_EQ(ReadReg(UART_IER), 0);
}

TEST_F(SerialFixture, LoopbackEchoesIntoReceiver) {
  WriteReg(UART_MCR, UART_MCR_LOOP);
  WriteReg(UART_TX, 'z');
  EXPECT_EQ(output, "");
  EXPECT_EQ(ReadReg(UART_RX), 'z');
}

TEST_F(SerialFixture, ScratchRegisterHoldsValue) {
  WriteReg(UART_SCR, 0x5a);
  EXPECT_EQ(ReadReg(UART_SCR), 0x5a);
}

// Save and load: serial_conformance_test.cc (the Migratable suite).

}  // namespace
}  // namespace devices
