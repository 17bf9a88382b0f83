#include "vmm/acpi/aml.h"

#include <gtest/gtest.h>

namespace vmm::acpi::aml {
namespace {

TEST(Aml, PkgLengthBoundaries) {
  EXPECT_EQ(PkgLength(0), Bytes({0x01}));
  EXPECT_EQ(PkgLength(62), Bytes({0x3f}));
  // 63 + 2 = 65 = 0x41: two bytes, low nibble 1, then 0x04.
  EXPECT_EQ(PkgLength(63), Bytes({0x41, 0x04}));
  EXPECT_EQ(PkgLength(4093), Bytes({0x4f, 0xff}));      // 4095
  EXPECT_EQ(PkgLength(4094), Bytes({0x81, 0x00, 0x01}));  // 4097 = 0x1001 needs three bytes
  EXPECT_EQ(PkgLength(1048572), Bytes({0x8f, 0xff, 0xff}));
  EXPECT_EQ(PkgLength(1048573), Bytes({0xc1, 0x00, 0x00, 0x01}));  // 0x100001
}

TEST(Aml, IntegersUseTheSmallestEncoding) {
  EXPECT_EQ(Integer(0), Bytes({0x00}));
  EXPECT_EQ(Integer(1), Bytes({0x01}));
  EXPECT_EQ(Integer(5), Bytes({0x0a, 0x05}));
  EXPECT_EQ(Integer(0x3f8), Bytes({0x0b, 0xf8, 0x03}));
  EXPECT_EQ(Integer(0xd0000000), Bytes({0x0c, 0x00, 0x00, 0x00, 0xd0}));
  EXPECT_EQ(Integer(0x100000000), Bytes({0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(Integer(~0ull), Bytes({0xff}));
}

TEST(Aml, EisaIdAndStrings) {
  EXPECT_EQ(EisaId("PNP0501"), Bytes({0x0c, 0x41, 0xd0, 0x05, 0x01}));
  EXPECT_EQ(String("AB"), Bytes({0x0d, 'A', 'B', 0}));
  EXPECT_EQ(NameString("\\_SB_"), Bytes({0x5c, '_', 'S', 'B', '_'}));
  EXPECT_EQ(NameSeg("S5"), Bytes({'S', '5', '_', '_'}));
}

TEST(Aml, NamePackageDevice) {
  EXPECT_EQ(Name("_UID", Integer(0)), Bytes({0x08, '_', 'U', 'I', 'D', 0x00}));
  EXPECT_EQ(Package({Integer(5), Integer(0)}), Bytes({0x12, 0x05, 0x02, 0x0a, 0x05, 0x00}));
  Bytes dev = Device("COM1", Name("_UID", Integer(0)));
  EXPECT_EQ(dev, Bytes({0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x00}));
}

TEST(Aml, ResourceDescriptors) {
  EXPECT_EQ(IoPort(0x3f8, 8), Bytes({0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}));
  EXPECT_EQ(IrqNoFlags(4), Bytes({0x22, 0x10, 0x00}));
  EXPECT_EQ(Memory32Fixed(0xd0000000, 0x1000),
            Bytes({0x86, 0x09, 0x00, 0x01, 0, 0, 0, 0xd0, 0, 0x10, 0, 0}));
  EXPECT_EQ(ExtendedInterrupt(5, true, false), Bytes({0x89, 0x06, 0x00, 0x03, 0x01, 5, 0, 0, 0}));
  Bytes rt = ResourceTemplate({IrqNoFlags(4)});
  // Buffer(PkgLength, size 5, descriptor, end tag)
  EXPECT_EQ(rt, Bytes({0x11, 0x08, 0x0a, 0x05, 0x22, 0x10, 0x00, 0x79, 0x00}));
}

}  // namespace
}  // namespace vmm::acpi::aml
