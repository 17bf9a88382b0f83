// SPDX-License-Identifier: MIT
#include "vmm/boot/testing/test_images.h"

#include <elf.h>
#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "memory/layout.h"

namespace vmm::boot::testing {
namespace {

void AppendLe32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void SizeAppend(std::vector<uint8_t>& out, size_t size) {
  AppendLe32(out, static_cast<uint32_t>(size));
}

template <typename T>
void Put(std::vector<uint8_t>& out, size_t offset, const T& value) {
  if (out.size() < offset + sizeof(T)) out.resize(offset + sizeof(T));
  std::memcpy(out.data() + offset, &value, sizeof(T));
}

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(what);
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "boot_test.XXXXXX").string();
  Check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::WriteFile(const std::string& name, std::span<const uint8_t> bytes) const {
  std::string full = path_ + "/" + name;
  std::ofstream f(full, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  Check(f.good(), "write test file");
  return full;
}

std::vector<uint8_t> GzipCompress(std::span<const uint8_t> data) {
  z_stream zs{};
  Check(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK,
        "deflateInit2");
  std::vector<uint8_t> out(deflateBound(&zs, data.size()));
  zs.next_in = const_cast<Bytef*>(data.data());
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  Check(deflate(&zs, Z_FINISH) == Z_STREAM_END, "deflate");
  out.resize(zs.total_out);
  deflateEnd(&zs);
  SizeAppend(out, data.size());
  return out;
}

std::vector<uint8_t> XzCompressX86(std::span<const uint8_t> data) {
  // Like the kernel's `xz --check=crc32 --x86 --lzma2=...`.
  lzma_options_lzma lzma_opts;
  Check(!lzma_lzma_preset(&lzma_opts, 6), "lzma preset");
  lzma_filter filters[] = {
      {LZMA_FILTER_X86, nullptr},
      {LZMA_FILTER_LZMA2, &lzma_opts},
      {LZMA_VLI_UNKNOWN, nullptr},
  };
  std::vector<uint8_t> out(lzma_stream_buffer_bound(data.size()));
  size_t pos = 0;
  Check(lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, nullptr, data.data(), data.size(),
                                  out.data(), &pos, out.size()) == LZMA_OK,
        "lzma_stream_buffer_encode");
  out.resize(pos);
  SizeAppend(out, data.size());
  return out;
}

std::vector<uint8_t> ZstdCompress(std::span<const uint8_t> data) {
  std::vector<uint8_t> out(ZSTD_compressBound(data.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 19);
  Check(!ZSTD_isError(n), "ZSTD_compress");
  out.resize(n);
  SizeAppend(out, data.size());
  return out;
}

std::vector<uint8_t> Lz4LegacyCompress(std::span<const uint8_t> data) {
  constexpr size_t kBlock = 8u << 20;
  std::vector<uint8_t> out;
  AppendLe32(out, 0x184C2102);
  std::vector<char> block(LZ4_compressBound(kBlock));
  for (size_t pos = 0; pos < data.size(); pos += kBlock) {
    size_t n = std::min(kBlock, data.size() - pos);
    int c = LZ4_compress_default(reinterpret_cast<const char*>(data.data() + pos), block.data(),
                                 static_cast<int>(n), static_cast<int>(block.size()));
    Check(c > 0, "LZ4_compress_default");
    AppendLe32(out, static_cast<uint32_t>(c));
    out.insert(out.end(), block.begin(), block.begin() + c);
  }
  SizeAppend(out, data.size());
  return out;
}

std::vector<uint8_t> TestData(size_t size, uint32_t seed) {
  std::vector<uint8_t> out(size);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    // Few distinct values: compressible, yet every block needs real work.
    out[i] = static_cast<uint8_t>((x >> 16) & 0x0f);
  }
  return out;
}

ElfSpec DefaultElfSpec() {
  ElfSpec spec;
  spec.entry = 0x1000000;
  spec.segments.push_back({0x1000000, 0xffffffff81000000ull, TestData(0x3000, 7), 0x3000});
  spec.segments.push_back({0x1200000, 0xffffffff81200000ull, TestData(0x800, 9), 0x5000});
  spec.pvh_entry = 0x1000040;
  return spec;
}

std::vector<uint8_t> BuildElf(const ElfSpec& spec) {
  size_t phnum = spec.segments.size() + (spec.pvh_entry ? 1 : 0);
  std::vector<uint8_t> out(sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr));
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = spec.type;
  eh.e_machine = spec.machine;
  eh.e_version = EV_CURRENT;
  eh.e_entry = spec.entry;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = static_cast<uint16_t>(phnum);
  Put(out, 0, eh);
  size_t ph_index = 0;
  auto put_phdr = [&](const Elf64_Phdr& ph) {
    Put(out, sizeof(Elf64_Ehdr) + ph_index++ * sizeof(Elf64_Phdr), ph);
  };
  for (const TestSegment& seg : spec.segments) {
    size_t offset = (out.size() + 0xfff) & ~size_t{0xfff};
    out.resize(offset);
    out.insert(out.end(), seg.data.begin(), seg.data.end());
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_flags = PF_R | PF_X;
    ph.p_offset = offset;
    ph.p_vaddr = seg.vaddr;
    ph.p_paddr = seg.paddr;
    ph.p_filesz = seg.data.size();
    ph.p_memsz = seg.memsz;
    ph.p_align = 0x1000;
    put_phdr(ph);
  }
  if (spec.pvh_entry) {
    // One unrelated note first, so the parser has to walk past it.
    // Room for both notes up front: growing it note by note trips a false
    // -Warray-bounds in GCC 12's optimised builds.
    std::vector<uint8_t> notes;
    notes.reserve(2 * sizeof(Elf64_Nhdr) + 8 + 4 + sizeof(uint64_t));
    Elf64_Nhdr gnu{4, 4, 1};
    Put(notes, notes.size(), gnu);
    notes.insert(notes.end(), {'G', 'N', 'U', 0, 1, 2, 3, 4});
    Elf64_Nhdr xen{4, static_cast<Elf64_Word>(spec.pvh_desc_size), 18};
    Put(notes, notes.size(), xen);
    notes.insert(notes.end(), {'X', 'e', 'n', 0});
    if (spec.pvh_desc_size == 8) {
      Put(notes, notes.size(), *spec.pvh_entry);
    } else {
      Put(notes, notes.size(), static_cast<uint32_t>(*spec.pvh_entry));
    }
    size_t offset = (out.size() + 3) & ~size_t{3};
    out.resize(offset);
    out.insert(out.end(), notes.begin(), notes.end());
    Elf64_Phdr ph{};
    ph.p_type = PT_NOTE;
    ph.p_offset = offset;
    ph.p_filesz = notes.size();
    ph.p_align = 4;
    put_phdr(ph);
  }
  return out;
}

std::vector<uint8_t> BuildBzImage(std::span<const uint8_t> payload,
                                  const std::function<void(setup_header&)>& edit) {
  constexpr size_t kSetupSects = 4;
  constexpr size_t kPayloadOffset = 0x100;  // after some fake decompressor code
  size_t pm_offset = (kSetupSects + 1) * 512;
  std::vector<uint8_t> out(pm_offset + kPayloadOffset, 0x90);
  setup_header hdr{};
  hdr.setup_sects = kSetupSects;
  hdr.boot_flag = 0xaa55;
  // A short jump over the header; its second byte says where the header ends.
  hdr.jump = static_cast<uint16_t>(0xeb | ((0x26c - 0x202) << 8));
  hdr.header = 0x53726448;
  hdr.version = 0x020f;
  hdr.loadflags = LOADED_HIGH;
  hdr.kernel_alignment = 0x200000;
  hdr.relocatable_kernel = 1;
  hdr.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
  hdr.initrd_addr_max = 0x7fffffff;
  hdr.cmdline_size = 2047;
  hdr.payload_offset = kPayloadOffset;
  hdr.payload_length = static_cast<uint32_t>(payload.size());
  hdr.pref_address = 0x1000000;
  hdr.init_size = 0x2000000;
  if (edit) edit(hdr);
  Put(out, 0x1f1, hdr);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

memory::GuestMemory MakeGuestMemory(uint64_t size) {
  auto mem = memory::GuestMemory::Create(memory::RamRegionsForSize(size));
  Check(mem.ok(), "GuestMemory::Create");
  return std::move(*mem);
}

}  // namespace vmm::boot::testing
