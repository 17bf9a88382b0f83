// SPDX-License-Identifier: MIT
#include "vmm/boot/elf_loader.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "base/status_macros.h"

namespace vmm::boot {
namespace {

// True if [offset, offset + length) lies inside a buffer of `size` bytes,
// written so that no sum can overflow.
bool InBounds(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

template <typename T>
T LoadAt(std::span<const uint8_t> bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

absl::Status CheckElfHeader(std::span<const uint8_t> elf, const Elf64_Ehdr& eh) {
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return absl::InvalidArgumentError("ELF file is not 64-bit (ELFCLASS64)");
  }
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) {
    return absl::InvalidArgumentError("ELF file is not little-endian");
  }
  if (eh.e_machine != EM_X86_64) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ELF file is for machine %u, not x86-64", eh.e_machine));
  }
  if (eh.e_type != ET_EXEC) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ELF file is of type %u, not an executable (ET_EXEC)", eh.e_type));
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return absl::InvalidArgumentError(absl::StrFormat("ELF program header size %u is not %u",
                                                      eh.e_phentsize, sizeof(Elf64_Phdr)));
  }
  // PN_XNUM would move the real count to section 0; no kernel needs that.
  if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM) {
    return absl::InvalidArgumentError("ELF file has no program headers");
  }
  if (!InBounds(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr), elf.size())) {
    return absl::DataLossError("ELF program headers extend past the end of the file (truncated?)");
  }
  return absl::OkStatus();
}

absl::Status CheckLoadSegment(std::span<const uint8_t> elf, const Elf64_Phdr& ph, size_t index,
                              const memory::GuestMemory& mem) {
  if (ph.p_filesz > ph.p_memsz) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment %u: file size 0x%x exceeds memory size 0x%x", index, ph.p_filesz, ph.p_memsz));
  }
  if (!InBounds(ph.p_offset, ph.p_filesz, elf.size())) {
    return absl::DataLossError(
        absl::StrFormat("segment %u: bytes [0x%x, +0x%x) are not inside the file (truncated?)",
                        index, ph.p_offset, ph.p_filesz));
  }
  if (ph.p_paddr + ph.p_memsz < ph.p_paddr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment %u: [0x%x, +0x%x) wraps around the address space", index, ph.p_paddr, ph.p_memsz));
  }
  // Below 1 MiB live boot_params, the command line, page tables and the
  // BIOS area; a kernel that lands there would be overwritten by them.
  if (ph.p_paddr < memory::kHighMemoryStart) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment %u at 0x%x is below 1 MiB, where the boot structures live", index, ph.p_paddr));
  }
  if (!mem.IsValidRange(ph.p_paddr, ph.p_memsz)) {
    return absl::OutOfRangeError(
        absl::StrFormat("segment %u [0x%x, +0x%x) does not fit in guest RAM (too little memory?)",
                        index, ph.p_paddr, ph.p_memsz));
  }
  return absl::OkStatus();
}

// Maps the ELF entry to a physical address. vmlinux's e_entry is already
// physical (the linker script uses phys_startup_64), but other kernels and
// test images use a virtual address, so accept either by matching segments.
absl::StatusOr<uint64_t> EntryToPhysical(uint64_t entry, const std::vector<Elf64_Phdr>& loads) {
  for (const Elf64_Phdr& ph : loads) {
    if (entry >= ph.p_paddr && entry - ph.p_paddr < ph.p_memsz) return entry;
  }
  for (const Elf64_Phdr& ph : loads) {
    if (entry >= ph.p_vaddr && entry - ph.p_vaddr < ph.p_memsz) {
      return ph.p_paddr + (entry - ph.p_vaddr);
    }
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("entry point 0x%x is not inside any loadable segment", entry));
}

uint64_t AlignUp4Or8(uint64_t value, uint64_t align) { return (value + align - 1) & ~(align - 1); }

// Looks for the Xen PHYS32_ENTRY note in one PT_NOTE segment, already
// checked to lie inside the file. Malformed
// notes end the search for this segment: they are not needed for the
// 64-bit entry, so they are not worth refusing the kernel over.
std::optional<uint64_t> FindPvhEntry(std::span<const uint8_t> elf, const Elf64_Phdr& ph) {
  std::span<const uint8_t> notes = elf.subspan(ph.p_offset, ph.p_filesz);
  // Note entries are padded to 4 bytes, or 8 in segments aligned to 8.
  uint64_t align = ph.p_align == 8 ? 8 : 4;
  uint64_t pos = 0;
  while (InBounds(pos, sizeof(Elf64_Nhdr), notes.size())) {
    auto nh = LoadAt<Elf64_Nhdr>(notes, pos);
    uint64_t name_pos = pos + sizeof(Elf64_Nhdr);
    uint64_t desc_pos = name_pos + AlignUp4Or8(nh.n_namesz, align);
    uint64_t next = desc_pos + AlignUp4Or8(nh.n_descsz, align);
    if (!InBounds(desc_pos, nh.n_descsz, notes.size())) return std::nullopt;
    std::string_view name(reinterpret_cast<const char*>(notes.data() + name_pos), nh.n_namesz);
    if (nh.n_type == kXenElfNotePhys32Entry && name == std::string_view("Xen\0", 4)) {
      // Older kernels emit the entry as a .quad, newer ones as a .long.
      if (nh.n_descsz == 4) return LoadAt<uint32_t>(notes, desc_pos);
      if (nh.n_descsz == 8) return LoadAt<uint64_t>(notes, desc_pos);
      return std::nullopt;
    }
    pos = next;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<LoadedKernel> LoadElfKernel(std::span<const uint8_t> elf, memory::GuestMemory& mem) {
  if (elf.size() < sizeof(Elf64_Ehdr)) {
    return absl::DataLossError(absl::StrFormat("ELF file is truncated (%u bytes, header needs %u)",
                                               elf.size(), sizeof(Elf64_Ehdr)));
  }
  if (std::memcmp(elf.data(), ELFMAG, SELFMAG) != 0) {
    return absl::InvalidArgumentError("not an ELF file (bad magic)");
  }
  auto eh = LoadAt<Elf64_Ehdr>(elf, 0);
  RETURN_IF_ERROR(CheckElfHeader(elf, eh));

  std::vector<Elf64_Phdr> loads;
  std::optional<uint64_t> pvh_entry;
  for (size_t i = 0; i < eh.e_phnum; ++i) {
    auto ph = LoadAt<Elf64_Phdr>(elf, eh.e_phoff + i * sizeof(Elf64_Phdr));
    if (ph.p_type == PT_NOTE) {
      if (!InBounds(ph.p_offset, ph.p_filesz, elf.size())) {
        return absl::DataLossError(
            absl::StrFormat("note segment %u is not inside the file (truncated?)", i));
      }
      if (!pvh_entry.has_value()) pvh_entry = FindPvhEntry(elf, ph);
    }
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    RETURN_IF_ERROR(CheckLoadSegment(elf, ph, i, mem));
    loads.push_back(ph);
  }
  if (loads.empty()) return absl::InvalidArgumentError("ELF file has no loadable segments");

  // Overlapping segments would make the result depend on copy order; a
  // well-formed kernel never has them.
  std::vector<Elf64_Phdr> sorted = loads;
  std::sort(sorted.begin(), sorted.end(),
            [](const Elf64_Phdr& a, const Elf64_Phdr& b) { return a.p_paddr < b.p_paddr; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].p_paddr < sorted[i - 1].p_paddr + sorted[i - 1].p_memsz) {
      return absl::InvalidArgumentError(absl::StrFormat("segments at 0x%x and 0x%x overlap",
                                                        sorted[i - 1].p_paddr, sorted[i].p_paddr));
    }
  }

  LoadedKernel kernel;
  ASSIGN_OR_RETURN(kernel.entry_64, EntryToPhysical(eh.e_entry, loads));
  kernel.load_start = sorted.front().p_paddr;
  kernel.load_end = sorted.back().p_paddr + sorted.back().p_memsz;
  if (pvh_entry.has_value()) {
    if (*pvh_entry >= kernel.load_start && *pvh_entry < kernel.load_end) {
      kernel.pvh_entry = pvh_entry;
    } else {
      LOG_WARNING("kernel's PVH entry 0x%x lies outside the kernel [0x%x, 0x%x); ignoring it",
                  *pvh_entry, kernel.load_start, kernel.load_end);
    }
  }

  for (const Elf64_Phdr& ph : loads) {
    RETURN_IF_ERROR(mem.WriteBytes(ph.p_paddr, elf.subspan(ph.p_offset, ph.p_filesz)));
    // The tail is bss: it must read as zero even if this memory was used
    // before (a reboot reuses guest RAM).
    if (ph.p_memsz > ph.p_filesz) RETURN_IF_ERROR(mem.Zero(ph.p_paddr + ph.p_filesz, ph.p_memsz - ph.p_filesz));
  }
  LOG_DEBUG("kernel loaded at [0x%x, 0x%x), entry 0x%x", kernel.load_start, kernel.load_end,
            kernel.entry_64);
  return kernel;
}

}  // namespace vmm::boot
