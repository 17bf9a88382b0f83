// SPDX-License-Identifier: MIT
#include "vmm/acpi/aml.h"

#include <gtest/gtest.h>

namespace vmm::acpi::aml {
namespace {

// Total encoded length = body + the PkgLength bytes themselves.
TEST(AmlPkgLength, OneByteUpToTotal63) {
  EXPECT_EQ(PkgLength(0), Bytes({0x01}));
  EXPECT_EQ(PkgLength(62), Bytes({0x3f}));  // total 63
}

TEST(AmlPkgLength, TwoBytesFromTotal64) {
  // Body 63 cannot use one byte (63 + 1 = 64 > 63); with two bytes the
  // total is 65 = 0x41: lead 0x40 | low nibble 1, then 0x41 >> 4 = 0x04.
  EXPECT_EQ(PkgLength(63), Bytes({0x41, 0x04}));
  EXPECT_EQ(PkgLength(64), Bytes({0x42, 0x04}));
  EXPECT_EQ(PkgLength(4093), Bytes({0x4f, 0xff}));  // total 4095, the two-byte maximum
}

TEST(AmlPkgLength, ThreeBytesFromTotal4096) {
  // Body 4094 would total 4096 with two bytes, which needs 13 bits; with
  // three bytes the total is 4097 = 0x1001.
  EXPECT_EQ(PkgLength(4094), Bytes({0x81, 0x00, 0x01}));
  EXPECT_EQ(PkgLength(4095), Bytes({0x82, 0x00, 0x01}));
  EXPECT_EQ(PkgLength(0xffffc), Bytes({0x8f, 0xff, 0xff}));  // total 0xfffff
}

TEST(AmlPkgLength, FourBytesFrom2To20) {
  EXPECT_EQ(PkgLength(0xffffd), Bytes({0xc1, 0x00, 0x00, 0x01}));  // total 0x100001
  EXPECT_EQ(PkgLength(kMaxPkgBody), Bytes({0xcf, 0xff, 0xff, 0xff}));
}

TEST(AmlPkgLength, EncodedValueAlwaysCountsItself) {
  for (size_t body : {0ul, 1ul, 61ul, 62ul, 63ul, 64ul, 100ul, 4092ul, 4093ul, 4094ul, 4095ul,
                      4096ul, 70000ul, 0xffffcul, 0xffffdul, 0x123456ul}) {
    Bytes p = PkgLength(body);
    size_t value = p.size() == 1 ? p[0] & 0x3f : p[0] & 0x0f;
    for (size_t i = 1; i < p.size(); ++i) value |= size_t{p[i]} << (4 + 8 * (i - 1));
    EXPECT_EQ(value, body + p.size()) << body;
    EXPECT_EQ(size_t{p[0]} >> 6, p.size() - 1) << body;
    if (p.size() > 1) {
      EXPECT_EQ(p[0] & 0x30, 0) << body;  // bits 4-5 reserved
    }
  }
}

TEST(AmlInteger, UsesTheSmallestEncoding) {
  EXPECT_EQ(Integer(0), Bytes({0x00}));
  EXPECT_EQ(Integer(1), Bytes({0x01}));
  EXPECT_EQ(Integer(2), Bytes({0x0a, 0x02}));
  EXPECT_EQ(Integer(0xff), Bytes({0x0a, 0xff}));
  EXPECT_EQ(Integer(0x100), Bytes({0x0b, 0x00, 0x01}));
  EXPECT_EQ(Integer(0x3f8), Bytes({0x0b, 0xf8, 0x03}));
  EXPECT_EQ(Integer(0xffff), Bytes({0x0b, 0xff, 0xff}));
  EXPECT_EQ(Integer(0x10000), Bytes({0x0c, 0x00, 0x00, 0x01, 0x00}));
  EXPECT_EQ(Integer(0xd0000000), Bytes({0x0c, 0x00, 0x00, 0x00, 0xd0}));
  EXPECT_EQ(Integer(0xffffffff), Bytes({0x0c, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(Integer(0x100000000), Bytes({0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(Integer(0xfffffffffffffffe),
            Bytes({0x0e, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(Integer(~0ull), Bytes({0xff}));
}

TEST(AmlNames, SegmentsArePaddedWithUnderscores) {
  EXPECT_EQ(NameSeg("S5"), Bytes({'S', '5', '_', '_'}));
  EXPECT_EQ(NameSeg("_HID"), Bytes({'_', 'H', 'I', 'D'}));
}

TEST(AmlNames, PathsUsePrefixesBySegmentCount) {
  EXPECT_EQ(NamePath("_UID"), Bytes({'_', 'U', 'I', 'D'}));
  EXPECT_EQ(NamePath("\\_SB_"), Bytes({0x5c, '_', 'S', 'B', '_'}));
  EXPECT_EQ(NamePath("\\_SB.COM1"), Bytes({0x5c, 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'}));
  EXPECT_EQ(NamePath("\\_SB.PCI0.S08"),
            Bytes({0x5c, 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S', '0', '8', '_'}));
  EXPECT_EQ(NamePath("^^PEVT"), Bytes({0x5e, 0x5e, 'P', 'E', 'V', 'T'}));
  EXPECT_EQ(NamePath("\\"), Bytes({0x5c, 0x00}));
}

TEST(AmlNamesDeathTest, InvalidNamesAbort) {
  EXPECT_DEATH(NameSeg("TOOLONG"), "1-4 characters");
  EXPECT_DEATH(NameSeg("1ABC"), "start with");
  EXPECT_DEATH(NameSeg("ab"), "start with");
  EXPECT_DEATH(NamePath("\\_SB."), "ends with");
}

TEST(AmlData, StringsEisaIdsPackagesBuffers) {
  EXPECT_EQ(String("AB"), Bytes({0x0d, 'A', 'B', 0}));
  EXPECT_EQ(String(""), Bytes({0x0d, 0}));
  // EISAID("PNP0501") is 0x0105D041 little-endian.
  EXPECT_EQ(EisaId("PNP0501"), Bytes({0x0c, 0x41, 0xd0, 0x05, 0x01}));
  // EISAID("PNP0A03") is 0x030AD041.
  EXPECT_EQ(EisaId("PNP0A03"), Bytes({0x0c, 0x41, 0xd0, 0x0a, 0x03}));
  EXPECT_EQ(Package({Integer(5), Integer(0)}), Bytes({0x12, 0x05, 0x02, 0x0a, 0x05, 0x00}));
  EXPECT_EQ(Package({}), Bytes({0x12, 0x02, 0x00}));
  EXPECT_EQ(Buffer({0xaa, 0xbb}), Bytes({0x11, 0x05, 0x0a, 0x02, 0xaa, 0xbb}));
}

TEST(AmlData, LargePackageUsesTwoBytePkgLength) {
  // 20 QWords of 9 bytes + NumElements = 181 body bytes.
  std::vector<Bytes> elements(20, Integer(0x100000000));
  Bytes p = Package(elements);
  ASSERT_EQ(p.size(), 1u + 2u + 181u);
  EXPECT_EQ(p[0], 0x12);
  EXPECT_EQ(p[1], 0x40 | ((181 + 2) & 0x0f));
  EXPECT_EQ(p[2], (181 + 2) >> 4);
  EXPECT_EQ(p[3], 20);
}

TEST(AmlObjects, NameScopeDevice) {
  EXPECT_EQ(Name("_UID", Integer(0)), Bytes({0x08, '_', 'U', 'I', 'D', 0x00}));
  EXPECT_EQ(Device("COM1", {Name("_UID", Integer(0))}),
            Bytes({0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x00}));
  EXPECT_EQ(Scope("\\_SB_", {}), Bytes({0x10, 0x06, 0x5c, '_', 'S', 'B', '_'}));
}

TEST(AmlResources, Descriptors) {
  EXPECT_EQ(Io(0x3f8, 8), Bytes({0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}));
  EXPECT_EQ(IrqNoFlags(4), Bytes({0x22, 0x10, 0x00}));
  EXPECT_EQ(IrqNoFlags(9), Bytes({0x22, 0x00, 0x02}));
  EXPECT_EQ(Memory32Fixed(0xd0000000, 0x1000),
            Bytes({0x86, 0x09, 0x00, 0x01, 0, 0, 0, 0xd0, 0, 0x10, 0, 0}));
}

TEST(AmlResources, ExtendedInterruptFlags) {
  // Flags: bit 0 consumer, bit 1 edge, bit 2 active low, bit 3 shared.
  EXPECT_EQ(Interrupt(5, Trigger::kEdge, Polarity::kActiveHigh),
            Bytes({0x89, 0x06, 0x00, 0x03, 0x01, 5, 0, 0, 0}));
  EXPECT_EQ(Interrupt(0x20, Trigger::kLevel, Polarity::kActiveHigh),
            Bytes({0x89, 0x06, 0x00, 0x01, 0x01, 0x20, 0, 0, 0}));
  EXPECT_EQ(Interrupt(0x1234, Trigger::kLevel, Polarity::kActiveLow, Sharing::kShared),
            Bytes({0x89, 0x06, 0x00, 0x0d, 0x01, 0x34, 0x12, 0, 0}));
}

TEST(AmlResources, TemplateEndsWithEndTag) {
  // Buffer, PkgLength 8, BufferSize 5, the IRQ descriptor, EndTag + checksum 0.
  EXPECT_EQ(ResourceTemplate({IrqNoFlags(4)}),
            Bytes({0x11, 0x08, 0x0a, 0x05, 0x22, 0x10, 0x00, 0x79, 0x00}));
  EXPECT_EQ(ResourceTemplate({}), Bytes({0x11, 0x05, 0x0a, 0x02, 0x79, 0x00}));
}

TEST(AmlResourcesDeathTest, IrqNoFlagsRejectsNonIsaIrq) { EXPECT_DEATH(IrqNoFlags(16), "ISA IRQ"); }

}  // namespace
}  // namespace vmm::acpi::aml
