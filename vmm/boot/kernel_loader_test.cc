// SPDX-License-Identifier: MIT
#include "vmm/boot/kernel_loader.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "vmm/boot/boot_params.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/initrd.h"
#include "vmm/boot/testing/test_images.h"

namespace vmm::boot {
namespace {

using testing::BuildBzImage;
using testing::BuildElf;
using testing::DefaultElfSpec;
using testing::MakeGuestMemory;
using testing::TempDir;

bool MessageHas(const absl::Status& st, const std::string& text) {
  return std::string(st.message()).find(text) != std::string::npos;
}

TEST(KernelLoaderTest, LoadsElfVmlinux) {
  TempDir dir;
  std::string path = dir.WriteFile("vmlinux", BuildElf(DefaultElfSpec()));
  memory::GuestMemory mem = MakeGuestMemory();
  auto kernel = LoadKernel(path, mem);
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  EXPECT_EQ(kernel->entry_64, 0x1000000u);
  EXPECT_FALSE(kernel->setup_header.has_value());
}

TEST(KernelLoaderTest, LoadsEveryCompressedBzImage) {
  std::vector<uint8_t> elf = BuildElf(DefaultElfSpec());
  for (auto compress : {testing::GzipCompress, testing::XzCompressX86, testing::ZstdCompress,
                        testing::Lz4LegacyCompress}) {
    TempDir dir;
    std::string path = dir.WriteFile("bzImage", BuildBzImage(compress(elf)));
    memory::GuestMemory mem = MakeGuestMemory();
    auto kernel = LoadKernel(path, mem);
    ASSERT_TRUE(kernel.ok()) << kernel.status();
    EXPECT_EQ(kernel->entry_64, 0x1000000u);
    EXPECT_EQ(kernel->pvh_entry, std::optional<uint64_t>(0x1000040));
    EXPECT_EQ(kernel->load_end, 0x1205000u);
    ASSERT_TRUE(kernel->setup_header.has_value());
    EXPECT_EQ(testing::Unpacked(SetupHeaderFromBytes(*kernel->setup_header).version), 0x020f);
    EXPECT_EQ(InitrdAddrMax(kernel->setup_header), 0x7fffffffu);
  }
}

TEST(KernelLoaderTest, ErrorsNameTheFile) {
  TempDir dir;
  memory::GuestMemory mem = MakeGuestMemory();

  auto missing = LoadKernel(dir.path() + "/missing", mem);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(MessageHas(missing.status(), "kernel image " + dir.path() + "/missing"))
      << missing.status();

  std::string empty = dir.WriteFile("empty", {});
  EXPECT_TRUE(MessageHas(LoadKernel(empty, mem).status(), "empty"));

  std::vector<uint8_t> junk(4096, 0x42);
  std::string junk_path = dir.WriteFile("junk", junk);
  EXPECT_EQ(LoadKernel(junk_path, mem).status().message(),
            "kernel image " + junk_path + ": not a bzImage or ELF (bad magic)");

  std::vector<uint8_t> elf = BuildElf(DefaultElfSpec());
  elf.resize(elf.size() / 2);
  auto truncated = LoadKernel(dir.WriteFile("truncated", elf), mem);
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss) << truncated.status();

  std::vector<uint8_t> payload = testing::GzipCompress(BuildElf(DefaultElfSpec()));
  payload[payload.size() / 2] ^= 0xff;
  auto corrupt = LoadKernel(dir.WriteFile("corrupt", BuildBzImage(payload)), mem);
  EXPECT_FALSE(corrupt.ok());
  EXPECT_TRUE(MessageHas(corrupt.status(), "bzImage payload: gzip")) << corrupt.status();

  std::vector<uint8_t> garbage_elf = {0x7f, 'E', 'L', 'F', 1, 2, 3};
  auto not_elf = LoadKernel(
      dir.WriteFile("garbage_elf", BuildBzImage(testing::GzipCompress(garbage_elf))), mem);
  EXPECT_TRUE(MessageHas(not_elf.status(), "decompressed vmlinux")) << not_elf.status();
}

// Real kernels, when another part of the build has produced them: the
// project's guest kernel and the stock distribution kernel used by tests/.
class RealKernelTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RealKernelTest, LoadsWhenPresent) {
  std::string path = std::string(VMM_SOURCE_DIR) + "/" + GetParam();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not built";
  memory::GuestMemory mem = MakeGuestMemory(256ull << 20);
  auto kernel = LoadKernel(path, mem);
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  EXPECT_GE(kernel->load_start, memory::kHighMemoryStart);
  EXPECT_GT(kernel->load_end, kernel->load_start);
  EXPECT_GE(kernel->entry_64, kernel->load_start);
  EXPECT_LT(kernel->entry_64, kernel->load_end);
  ASSERT_TRUE(kernel->setup_header.has_value());
  BootParamsInput input{.setup_header = kernel->setup_header, .cmdline = "console=ttyS0"};
  EXPECT_TRUE(WriteBootParams(mem, input).ok());
}

INSTANTIATE_TEST_SUITE_P(Images, RealKernelTest,
                         ::testing::Values("guest-images/out/bzImage",
                                           "tests/stock-kernel/vmlinuz"),
                         [](const auto& info) {
                           return info.index == 0 ? std::string("GuestImage")
                                                  : std::string("StockKernel");
                         });

}  // namespace
}  // namespace vmm::boot
