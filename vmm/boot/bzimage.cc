// SPDX-License-Identifier: MIT
#include "vmm/boot/bzimage.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "vmm/boot/decompress.h"
#include "vmm/boot/image_file.h"

namespace vmm::boot {
namespace {

constexpr uint64_t kSectorSize = 512;
// Offset of the byte that, added to 0x202, gives the header's end.
constexpr uint64_t kHeaderEndByteOffset = 0x201;
constexpr uint64_t kHeaderMagicOffset = 0x202;

static_assert(sizeof(setup_header) == 0x26c - kSetupHeaderOffset,
              "setup_header layout differs from the boot protocol");

}  // namespace

setup_header SetupHeaderFromBytes(std::span<const uint8_t> bytes) {
  setup_header hdr{};
  std::memcpy(&hdr, bytes.data(), std::min(bytes.size(), sizeof(hdr)));
  return hdr;
}

bool LooksLikeBzImage(std::span<const uint8_t> file) {
  if (file.size() < kHeaderMagicOffset + 4) return false;
  uint32_t magic;
  std::memcpy(&magic, file.data() + kHeaderMagicOffset, sizeof(magic));
  return magic == kSetupHeaderMagic;
}

absl::StatusOr<BzImage> ParseBzImage(std::span<const uint8_t> file) {
  if (file.size() < kHeaderMagicOffset + 4) {
    return absl::InvalidArgumentError(
        absl::StrFormat("file is too short for a bzImage (%u bytes)", file.size()));
  }
  BzImage image;
  // The header's length is self-described (it grew with each protocol
  // version); never read past either the file or our struct.
  uint64_t header_end = kHeaderMagicOffset + file[kHeaderEndByteOffset];
  if (header_end > file.size()) {
    return absl::InvalidArgumentError("bzImage setup header extends past the end of the file");
  }
  image.header_bytes.assign(file.begin() + kSetupHeaderOffset, file.begin() + header_end);
  image.header = SetupHeaderFromBytes(image.header_bytes);
  // setup_header is packed: its fields are read by value (uint32_t{...}
  // where a function takes a reference, e.g. StrFormat), never bound to a
  // reference, which would be misaligned.
  const setup_header& hdr = image.header;

  if (hdr.boot_flag != kBootFlag) {
    return absl::InvalidArgumentError(
        absl::StrFormat("bad boot flag 0x%04x (expected 0xaa55)", uint16_t{hdr.boot_flag}));
  }
  if (hdr.header != kSetupHeaderMagic) {
    return absl::InvalidArgumentError("no \"HdrS\" setup header signature");
  }
  if (hdr.version < kMinBootProtocol) {
    return absl::FailedPreconditionError(
        absl::StrFormat("boot protocol %u.%02u is too old (need 2.12 or newer, Linux 3.8+)",
                        hdr.version >> 8, hdr.version & 0xff));
  }
  // The header must reach at least the fields we read below.
  if (header_end < kSetupHeaderOffset + offsetof(setup_header, init_size) + 4) {
    return absl::InvalidArgumentError(
        "bzImage setup header is shorter than its protocol version requires");
  }
  if ((hdr.xloadflags & XLF_KERNEL_64) == 0) {
    return absl::FailedPreconditionError("kernel has no 64-bit entry point (32-bit kernel?)");
  }
  // relocatable_kernel is not required: vmlinux is placed at the physical
  // addresses it was linked for, so nothing needs relocating.
  if (!hdr.relocatable_kernel) {
    LOG_DEBUG("bzImage is not relocatable; loading vmlinux at its link address anyway");
  }

  // setup_sects == 0 means 4, for compatibility with ancient kernels.
  uint64_t setup_sects = hdr.setup_sects == 0 ? 4 : hdr.setup_sects;
  uint64_t protected_mode_offset = (setup_sects + 1) * kSectorSize;
  if (protected_mode_offset > file.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("setup code (%u sectors) extends past the end of the file", setup_sects));
  }
  // payload_offset is relative to the protected-mode code; all terms are
  // < 2^32 so the 64-bit sums cannot overflow.
  uint64_t payload_start = protected_mode_offset + hdr.payload_offset;
  uint64_t payload_end = payload_start + hdr.payload_length;
  if (hdr.payload_length == 0 || payload_end > file.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("payload [0x%x, +0x%x) is empty or not inside the file (%u bytes)",
                        payload_start, uint32_t{hdr.payload_length}, file.size()));
  }
  image.payload = file.subspan(payload_start, hdr.payload_length);
  LOG_DEBUG("bzImage: protocol %x, payload %s %u bytes, init_size 0x%x, pref_address 0x%x",
            uint16_t{hdr.version}, CompressionName(DetectCompression(image.payload)),
            uint32_t{hdr.payload_length}, uint32_t{hdr.init_size}, uint64_t{hdr.pref_address});
  return image;
}

absl::StatusOr<std::vector<uint8_t>> ExtractVmlinux(const BzImage& image) {
  auto vmlinux = Decompress(image.payload);
  if (!vmlinux.ok()) return Annotate(vmlinux.status(), "bzImage payload");
  return vmlinux;
}

}  // namespace vmm::boot
