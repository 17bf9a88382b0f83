// SPDX-License-Identifier: MIT
// Test helpers: a scratch directory, the compressors the kernel build uses,
// and synthetic ELF kernels and bzImages small enough to build per test.
#ifndef VMM_BOOT_TESTING_TEST_IMAGES_H_
#define VMM_BOOT_TESTING_TEST_IMAGES_H_

#include <asm/bootparam.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "memory/guest_memory.h"

namespace vmm::boot::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `bytes` to path()/name and returns the full path.
  std::string WriteFile(const std::string& name, std::span<const uint8_t> bytes) const;

 private:
  std::string path_;
};

// Each output is what the kernel's build would produce with that tool,
// followed (like the kernel's size_append) by the 4-byte uncompressed size.
std::vector<uint8_t> GzipCompress(std::span<const uint8_t> data);
std::vector<uint8_t> XzCompressX86(std::span<const uint8_t> data);
std::vector<uint8_t> ZstdCompress(std::span<const uint8_t> data);
std::vector<uint8_t> Lz4LegacyCompress(std::span<const uint8_t> data);

// Compressible but not trivial data (so every block really encodes).
std::vector<uint8_t> TestData(size_t size, uint32_t seed = 1);

struct TestSegment {
  uint64_t paddr;
  uint64_t vaddr;
  std::vector<uint8_t> data;
  uint64_t memsz;
};

struct ElfSpec {
  uint64_t entry = 0;
  std::vector<TestSegment> segments;
  // Adds a PT_NOTE with the Xen PHYS32_ENTRY note, of this descsz (4 or 8).
  std::optional<uint64_t> pvh_entry;
  size_t pvh_desc_size = 4;
  uint16_t machine = 62;  // EM_X86_64
  uint16_t type = 2;      // ET_EXEC
};

// A kernel-like default: text at 16 MiB linked at 0xffffffff81000000,
// data + bss at 18 MiB, physical entry, PVH note.
ElfSpec DefaultElfSpec();
std::vector<uint8_t> BuildElf(const ElfSpec& spec);

// A bzImage with 4 setup sectors, protocol 2.15, a 64-bit relocatable
// kernel whose payload is `payload`. `edit` may change the header.
std::vector<uint8_t> BuildBzImage(std::span<const uint8_t> payload,
                                  const std::function<void(setup_header&)>& edit = nullptr);

// 64 MiB of guest RAM.
memory::GuestMemory MakeGuestMemory(uint64_t size = 64ull << 20);

// A copy of a field of the kernel's packed structs (setup_header,
// boot_params, boot_e820_entry): gtest's EXPECT_EQ binds its arguments to
// references, and a reference to a misaligned field is undefined behaviour
// (UBSan reports it).
template <typename T>
T Unpacked(T value) {
  return value;
}

}  // namespace vmm::boot::testing

#endif  // VMM_BOOT_TESTING_TEST_IMAGES_H_
