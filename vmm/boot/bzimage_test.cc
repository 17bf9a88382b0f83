// SPDX-License-Identifier: MIT
#include "vmm/boot/bzimage.h"

#include <gtest/gtest.h>

#include "vmm/boot/testing/test_images.h"

namespace vmm::boot {
namespace {

using testing::BuildBzImage;
using testing::BuildElf;
using testing::DefaultElfSpec;
using testing::Unpacked;
using testing::GzipCompress;

bool MessageHas(const absl::Status& st, const std::string& text) {
  return std::string(st.message()).find(text) != std::string::npos;
}

TEST(BzImageTest, ParsesHeaderAndFindsPayload) {
  std::vector<uint8_t> elf = BuildElf(DefaultElfSpec());
  std::vector<uint8_t> payload = GzipCompress(elf);
  std::vector<uint8_t> file = BuildBzImage(payload);
  ASSERT_TRUE(LooksLikeBzImage(file));
  auto image = ParseBzImage(file);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(Unpacked(image->header.version), 0x020f);
  EXPECT_EQ(Unpacked(image->header.initrd_addr_max), 0x7fffffffu);
  EXPECT_EQ(Unpacked(image->header.cmdline_size), 2047u);
  EXPECT_EQ(image->header_bytes.size(), 0x26cu - 0x1f1u);
  ASSERT_EQ(image->payload.size(), payload.size());
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), image->payload.begin()));

  auto vmlinux = ExtractVmlinux(*image);
  ASSERT_TRUE(vmlinux.ok()) << vmlinux.status();
  EXPECT_TRUE(*vmlinux == elf);
}

TEST(BzImageTest, ZeroSetupSectsMeansFour) {
  std::vector<uint8_t> payload = GzipCompress(BuildElf(DefaultElfSpec()));
  // The builder uses 4 sectors; saying 0 must locate the same payload.
  std::vector<uint8_t> file = BuildBzImage(payload, [](setup_header& h) { h.setup_sects = 0; });
  auto image = ParseBzImage(file);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), image->payload.begin()));
}

TEST(BzImageTest, RejectsBadBootFlag) {
  std::vector<uint8_t> file = BuildBzImage(GzipCompress(BuildElf(DefaultElfSpec())),
                                           [](setup_header& h) { h.boot_flag = 0x1234; });
  auto image = ParseBzImage(file);
  EXPECT_TRUE(MessageHas(image.status(), "boot flag")) << image.status();
}

TEST(BzImageTest, RejectsOldProtocol) {
  std::vector<uint8_t> file = BuildBzImage(GzipCompress(BuildElf(DefaultElfSpec())),
                                           [](setup_header& h) { h.version = 0x020a; });
  auto image = ParseBzImage(file);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(MessageHas(image.status(), "2.10 is too old")) << image.status();
}

TEST(BzImageTest, Rejects32BitKernel) {
  std::vector<uint8_t> file = BuildBzImage(GzipCompress(BuildElf(DefaultElfSpec())),
                                           [](setup_header& h) { h.xloadflags = 0; });
  EXPECT_TRUE(MessageHas(ParseBzImage(file).status(), "64-bit"));
}

TEST(BzImageTest, RejectsPayloadOutsideFile) {
  std::vector<uint8_t> payload = GzipCompress(BuildElf(DefaultElfSpec()));
  for (auto edit : std::vector<std::function<void(setup_header&)>>{
           [](setup_header& h) { h.payload_length += 1; },
           [](setup_header& h) { h.payload_offset = 0xfffffff0; },
           [](setup_header& h) { h.payload_length = 0xffffffff; },
           [](setup_header& h) { h.payload_length = 0; },
           [](setup_header& h) { h.setup_sects = 0xff; }}) {
    auto image = ParseBzImage(BuildBzImage(payload, edit));
    EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument) << image.status();
  }
}

TEST(BzImageTest, RejectsTruncatedFile) {
  std::vector<uint8_t> file = BuildBzImage(GzipCompress(BuildElf(DefaultElfSpec())));
  file.resize(file.size() - 10);
  EXPECT_FALSE(ParseBzImage(file).ok());
  file.resize(0x100);
  EXPECT_FALSE(LooksLikeBzImage(file));
  EXPECT_FALSE(ParseBzImage(file).ok());
}

TEST(BzImageTest, UnsupportedCompressionIsNamed) {
  std::vector<uint8_t> payload = {'B', 'Z', 'h', '9', 1, 2, 3, 4};
  std::vector<uint8_t> file = BuildBzImage(payload);  // image.payload points into it
  auto image = ParseBzImage(file);
  ASSERT_TRUE(image.ok()) << image.status();
  auto vmlinux = ExtractVmlinux(*image);
  EXPECT_TRUE(MessageHas(vmlinux.status(), "unsupported compression bzip2")) << vmlinux.status();
}

}  // namespace
}  // namespace vmm::boot
