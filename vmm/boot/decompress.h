// SPDX-License-Identifier: MIT
// Host-side decompression of a kernel payload (the compressed vmlinux inside
// a bzImage). The guest kernel would do this itself at emulated speed, which
// on a PVM host takes seconds to minutes (see PLATFORM.md); the host does it
// in milliseconds.
//
// Trust boundary: the input is untrusted. Every decoder is bounded (output
// capped, input never read past its end), so a corrupt or hostile payload
// ends in an error, never in a crash or an unbounded allocation.
#ifndef VMM_BOOT_DECOMPRESS_H_
#define VMM_BOOT_DECOMPRESS_H_

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace vmm::boot {

// The formats Linux can compress its payload with (CONFIG_KERNEL_*).
enum class Compression { kUnknown, kGzip, kXz, kZstd, kLz4, kBzip2, kLzma, kLzo };

std::string_view CompressionName(Compression c);

// Recognises the format from the payload's magic bytes.
Compression DetectCompression(std::span<const uint8_t> data);

// Large enough for any real kernel (a vmlinux with full debug info is a few
// hundred MiB), small enough that a decompression bomb cannot exhaust the host.
inline constexpr uint64_t kMaxDecompressedSize = 512ull << 20;

// Decompresses one gzip, xz, zstd or lz4-legacy stream. Bytes after the end
// of the stream are ignored: the kernel's build appends the uncompressed size
// (4 bytes) to every payload. bzip2, lzma and lzo are detected but refused
// with "unsupported compression X".
absl::StatusOr<std::vector<uint8_t>> Decompress(std::span<const uint8_t> data,
                                                uint64_t max_output = kMaxDecompressedSize);

}  // namespace vmm::boot

#endif  // VMM_BOOT_DECOMPRESS_H_
