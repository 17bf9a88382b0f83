// SPDX-License-Identifier: MIT
#include "devices/legacy.h"

#include <algorithm>
#include <ctime>

#include "devices/pc_ports.h"

namespace devices {
namespace {

// Little-endian value of a 1-, 2- or 4-byte access.
uint32_t Value(std::span<const uint8_t> data) {
  uint32_t v = 0;
  for (size_t i = 0; i < data.size() && i < 4; ++i) v |= uint32_t{data[i]} << (8 * i);
  return v;
}
void Fill(std::span<uint8_t> data, uint32_t v) {
  for (size_t i = 0; i < data.size(); ++i) data[i] = i < 4 ? static_cast<uint8_t>(v >> (8 * i)) : 0;
}
uint8_t ToBcd(int v) { return static_cast<uint8_t>(((v / 10) << 4) | (v % 10)); }

constexpr uint8_t kI8042ResetCommand = 0xfe;
constexpr uint16_t kSlpEn = 1 << 13;
// PM1 status and enable bit of the fixed power button (ACPI 6.5 4.8.3.1).
constexpr uint16_t kPwrBtn = 1 << 8;
constexpr int kSlpTypShift = 10;
constexpr uint16_t kSlpTypMask = 7 << kSlpTypShift;
constexpr uint8_t kPvpanicPanicked = 1 << 0;
constexpr uint8_t kPvpanicCrashLoaded = 1 << 1;

}  // namespace

void I8042::Read(uint64_t offset, std::span<uint8_t> data) {
  // Status 0: output buffer empty, input buffer empty; data port reads 0.
  Fill(data, 0);
}

void I8042::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset == kI8042CommandPort - kI8042DataPort && Value(data) == kI8042ResetCommand) {
    events_.Reset();
  }
}

void ResetPort::Read(uint64_t offset, std::span<uint8_t> data) { Fill(data, 0); }

void ResetPort::Write(uint64_t offset, std::span<const uint8_t> data) {
  // Bit 2 (CPU reset) is what every reset value written here has in common.
  if (Value(data) & 0x04) events_.Reset();
}

void AcpiPm::Read(uint64_t offset, std::span<uint8_t> data) {
  if (offset == 0) Fill(data, status_);
  else if (offset == 2) Fill(data, enable_);
  else if (offset == control_offset_) Fill(data, control_);
  else Fill(data, 0);
}

void AcpiPm::Write(uint64_t offset, std::span<const uint8_t> data) {
  uint16_t value = static_cast<uint16_t>(Value(data));
  if (offset == 0) {
    status_ &= static_cast<uint16_t>(~value);  // write-one-to-clear
    UpdateSci();
  } else if (offset == 2) {
    enable_ = value;
    UpdateSci();
  } else if (offset == control_offset_) {
    control_ = static_cast<uint16_t>(value & ~kSlpEn);
    if ((value & kSlpEn) && ((value & kSlpTypMask) >> kSlpTypShift) == kS5SleepType) {
      events_.PowerOff();
    }
  }
}

void AcpiPm::PressPowerButton() {
  status_ |= kPwrBtn;
  UpdateSci();
}

void AcpiPm::UpdateSci() {
  if (sci_) sci_((status_.load() & enable_.load() & kPwrBtn) != 0);
}

void Pvpanic::Read(uint64_t offset, std::span<uint8_t> data) {
  Fill(data, kPvpanicPanicked | kPvpanicCrashLoaded);
}

void Pvpanic::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (Value(data) & kPvpanicPanicked) events_.GuestPanicked();
}

void Cmos::Read(uint64_t offset, std::span<uint8_t> data) {
  if (offset == 0) {
    Fill(data, index_);
    return;
  }
  std::time_t now = std::time(nullptr);
  std::tm utc;
  gmtime_r(&now, &utc);
  uint8_t value = 0;
  switch (index_ & 0x7f) {
    case 0x00: value = ToBcd(utc.tm_sec); break;
    case 0x02: value = ToBcd(utc.tm_min); break;
    case 0x04: value = ToBcd(utc.tm_hour); break;
    case 0x06: value = ToBcd(utc.tm_wday + 1); break;
    case 0x07: value = ToBcd(utc.tm_mday); break;
    case 0x08: value = ToBcd(utc.tm_mon + 1); break;
    case 0x09: value = ToBcd(utc.tm_year % 100); break;
    case 0x32: value = ToBcd(1900 + utc.tm_year / 100); break;  // century
    case 0x0a: value = 0x26; break;  // status A: 32 kHz base, no update in progress
    case 0x0b: value = 0x02; break;  // status B: 24-hour mode, BCD
    case 0x0d: value = 0x80; break;  // status D: battery good
    default: value = 0; break;
  }
  Fill(data, value);
}

void Cmos::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset == 0 && !data.empty()) index_ = data[0];
}

absl::Status AcpiPm::Save(state::StateWriter& out) {
  out.PutU32("status", status_.load());
  out.PutU32("enable", enable_.load());
  out.PutU32("control", control_.load());
  return absl::OkStatus();
}

absl::Status AcpiPm::Load(const state::StateNode& in) {
  absl::StatusOr<uint32_t> status = in.U32("status"), enable = in.U32("enable"), control = in.U32("control");
  for (const auto* v : {&status, &enable, &control}) {
    if (!v->ok()) return v->status();
    if (**v > 0xffff) return absl::DataLossError("saved state: PM1 register out of range");
  }
  // SLP_EN is a write-only trigger; a restored value must not hold it.
  status_ = static_cast<uint16_t>(*status);
  enable_ = static_cast<uint16_t>(*enable);
  control_ = static_cast<uint16_t>(*control & ~(1u << 13));
  return absl::OkStatus();
}

absl::Status Cmos::Save(state::StateWriter& out) {
  out.PutU32("index", index_.load());
  return absl::OkStatus();
}

absl::Status Cmos::Load(const state::StateNode& in) {
  absl::StatusOr<uint32_t> index = in.U32("index");
  if (!index.ok()) return index.status();
  if (*index > 0xff) return absl::DataLossError("saved state: CMOS index out of range");
  index_ = static_cast<uint8_t>(*index);
  return absl::OkStatus();
}

}  // namespace devices
