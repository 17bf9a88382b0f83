// SPDX-License-Identifier: MIT
#include "vmm/acpi/dsdt.h"

#include "absl/strings/str_format.h"
#include "devices/pc_ports.h"
#include "vmm/acpi/aml.h"

namespace vmm::acpi {
namespace {

Bytes Com1() {
  return aml::Device("COM1",
                     {aml::Name("_HID", aml::EisaId("PNP0501")), aml::Name("_UID", aml::Integer(0)),
                      aml::Name("_CRS", aml::ResourceTemplate({
                                            aml::Io(devices::kCom1Port, devices::kCom1PortCount),
                                            aml::IrqNoFlags(devices::kCom1Irq),
                                        }))});
}

Bytes VirtioMmio(size_t index, const MmioDevice& device) {
  // "VR00".."VRFF": ValidateAcpiConfig() caps the count at 256 so the
  // names stay unique in four characters. KVM's irqfd raises an edge on
  // the IOAPIC pin, so the interrupt is described as edge, active high.
  return aml::Device(
      absl::StrFormat("VR%02X", index),
      {aml::Name("_HID", aml::String("LNRO0005")), aml::Name("_UID", aml::Integer(index)),
       aml::Name("_CRS",
                 aml::ResourceTemplate({
                     aml::Memory32Fixed(static_cast<uint32_t>(device.base),
                                        static_cast<uint32_t>(device.size)),
                     aml::Interrupt(device.irq, aml::Trigger::kEdge, aml::Polarity::kActiveHigh),
                 }))});
}

Bytes Pvpanic() {
  // Linux's pvpanic-mmio driver binds QEMU0001 and accepts an I/O port
  // resource as well as memory.
  return aml::Device(
      "PEVT", {aml::Name("_HID", aml::String("QEMU0001")), aml::Name("_UID", aml::Integer(0)),
               aml::Name("_CRS", aml::ResourceTemplate({
                                     aml::Io(devices::kPvpanicPort, 1),
                                 }))});
}

}  // namespace

Bytes BuildDsdtAml(const AcpiConfig& config) {
  std::vector<Bytes> sb{Com1()};
  for (size_t i = 0; i < config.virtio_mmio.size(); ++i) {
    sb.push_back(VirtioMmio(i, config.virtio_mmio[i]));
  }
  if (config.pvpanic) sb.push_back(Pvpanic());
  return aml::Concat({
      // {SLP_TYPa, SLP_TYPb, reserved, reserved}. There is no PM1b block,
      // so SLP_TYPb is never written; the PM1 device matches SLP_TYPa.
      aml::Name("\\_S5_", aml::Package({aml::Integer(devices::kS5SleepType), aml::Integer(0),
                                        aml::Integer(0), aml::Integer(0)})),
      aml::Scope("\\_SB_", sb),
  });
}

Bytes BuildDsdt(const AcpiConfig& config) {
  // Revision 2: AML integers are 64 bits wide.
  Bytes t = SdtHeader("DSDT", 2);
  Bytes body = BuildDsdtAml(config);
  t.insert(t.end(), body.begin(), body.end());
  FinishSdt(t);
  return t;
}

}  // namespace vmm::acpi
