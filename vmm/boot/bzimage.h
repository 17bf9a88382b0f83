// SPDX-License-Identifier: MIT
// Parsing of a bzImage (the x86 Linux boot protocol, Documentation/x86/
// boot.rst): the real-mode setup header, and the compressed vmlinux payload
// it points at. We never run the setup or decompressor code: the host
// decompresses the payload and the ELF loader places vmlinux (PLATFORM.md).
//
// Trust boundary: the file is untrusted. Every offset and length from the
// header is checked against the file before use.
#ifndef VMM_BOOT_BZIMAGE_H_
#define VMM_BOOT_BZIMAGE_H_

#include <asm/bootparam.h>

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace vmm::boot {

// The setup header lives at this offset in both the file and boot_params.
inline constexpr uint64_t kSetupHeaderOffset = 0x1f1;
// "HdrS", little-endian.
inline constexpr uint32_t kSetupHeaderMagic = 0x53726448;
inline constexpr uint16_t kBootFlag = 0xaa55;
// 2.12 added xloadflags, which is how a kernel says it has a 64-bit entry.
inline constexpr uint16_t kMinBootProtocol = 0x020c;

struct BzImage {
  // The parsed header (fields past the kernel's header end are zero).
  setup_header header{};
  // The header exactly as in the file, [0x1f1, 0x202 + byte at 0x201): what
  // the protocol says a loader copies into boot_params.hdr.
  std::vector<uint8_t> header_bytes;
  // The compressed vmlinux, a view into the file passed to ParseBzImage.
  std::span<const uint8_t> payload;
};

// True if the file carries the boot protocol's "HdrS" signature.
bool LooksLikeBzImage(std::span<const uint8_t> file);

// Checks the header (boot flag, signature, protocol >= 2.12, 64-bit kernel,
// payload inside the file) and locates the payload. The result's payload
// points into `file`.
absl::StatusOr<BzImage> ParseBzImage(std::span<const uint8_t> file);

// Decompresses the payload into a vmlinux ELF image.
absl::StatusOr<std::vector<uint8_t>> ExtractVmlinux(const BzImage& image);

// Reads a setup header from the raw bytes kept in BzImage::header_bytes (or
// LoadedKernel::setup_header); bytes beyond the given ones read as zero.
setup_header SetupHeaderFromBytes(std::span<const uint8_t> bytes);

}  // namespace vmm::boot

#endif  // VMM_BOOT_BZIMAGE_H_
