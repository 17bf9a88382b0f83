// SPDX-License-Identifier: MIT
#include "vmm/boot/decompress.h"

#include <gtest/gtest.h>

#include "vmm/boot/testing/test_images.h"

namespace vmm::boot {
namespace {

using testing::TestData;

struct Format {
  const char* name;
  Compression compression;
  std::vector<uint8_t> (*compress)(std::span<const uint8_t>);
};

class DecompressRoundTrip : public ::testing::TestWithParam<Format> {};

TEST_P(DecompressRoundTrip, RoundTripsWithTrailingSizeWord) {
  // More than one lz4 legacy block (8 MiB) and several output chunks.
  std::vector<uint8_t> data = TestData((9u << 20) + 12345);
  std::vector<uint8_t> packed = GetParam().compress(data);
  EXPECT_EQ(DetectCompression(packed), GetParam().compression);
  auto out = Decompress(packed);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(*out == data);
}

TEST_P(DecompressRoundTrip, RoundTripsSmallInput) {
  std::vector<uint8_t> data = TestData(100);
  auto out = Decompress(GetParam().compress(data));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(*out == data);
}

TEST_P(DecompressRoundTrip, TruncatedInputIsAnError) {
  std::vector<uint8_t> packed = GetParam().compress(TestData(1u << 20));
  packed.resize(packed.size() / 2);
  auto out = Decompress(packed);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(std::string(out.status().message()).find(GetParam().name), std::string::npos)
      << out.status();
}

TEST_P(DecompressRoundTrip, CorruptInputIsAnError) {
  std::vector<uint8_t> packed = GetParam().compress(TestData(1u << 20));
  // Keep the magic, scramble the body.
  for (size_t i = 16; i < packed.size(); i += 7) packed[i] ^= 0x5a;
  EXPECT_FALSE(Decompress(packed).ok());
}

TEST_P(DecompressRoundTrip, OutputIsCapped) {
  std::vector<uint8_t> packed = GetParam().compress(TestData(3u << 20));
  auto out = Decompress(packed, 1u << 20);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted) << out.status();
}

INSTANTIATE_TEST_SUITE_P(
    Formats, DecompressRoundTrip,
    ::testing::Values(Format{"gzip", Compression::kGzip, testing::GzipCompress},
                      Format{"xz", Compression::kXz, testing::XzCompressX86},
                      Format{"zstd", Compression::kZstd, testing::ZstdCompress},
                      Format{"lz4", Compression::kLz4, testing::Lz4LegacyCompress}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DecompressTest, Lz4LegacyWithoutSizeTrailerStops) {
  std::vector<uint8_t> data = TestData(5000);
  std::vector<uint8_t> packed = testing::Lz4LegacyCompress(data);
  packed.resize(packed.size() - 4);
  auto out = Decompress(packed);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(*out == data);
}

TEST(DecompressTest, Lz4LegacyMagicOnlyIsTruncated) {
  std::vector<uint8_t> packed = {0x02, 0x21, 0x4c, 0x18};
  EXPECT_EQ(Decompress(packed).status().code(), absl::StatusCode::kDataLoss);
}

TEST(DecompressTest, UnsupportedFormatsAreNamed) {
  struct Case {
    std::vector<uint8_t> magic;
    const char* name;
  };
  for (const Case& c :
       {Case{{'B', 'Z', 'h', '9', 0, 0}, "bzip2"}, Case{{0x5d, 0, 0, 0x80, 0, 0}, "lzma"},
        Case{{0x89, 'L', 'Z', 'O', 0, 0}, "lzo"}}) {
    auto out = Decompress(c.magic);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_NE(
        std::string(out.status().message()).find(std::string("unsupported compression ") + c.name),
        std::string::npos)
        << out.status();
  }
}

TEST(DecompressTest, UnknownMagicIsRejected) {
  std::vector<uint8_t> junk = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(DetectCompression(junk), Compression::kUnknown);
  EXPECT_EQ(Decompress(junk).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Decompress({}).ok());
}

}  // namespace
}  // namespace vmm::boot
