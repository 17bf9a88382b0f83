// SPDX-License-Identifier: MIT
#include "vmm/boot/decompress.h"

#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"

namespace vmm::boot {
namespace {

// Output grows in steps of this size, so a small payload does not reserve the
// whole cap up front.
constexpr size_t kOutputChunk = 4u << 20;

// The lz4 "legacy" frame the kernel uses (`lz4 -l`): a magic number, then
// blocks of [le32 compressed size][data], each decoding to at most 8 MiB.
constexpr uint32_t kLz4LegacyMagic = 0x184C2102;
constexpr size_t kLz4LegacyBlockSize = 8u << 20;

bool StartsWith(std::span<const uint8_t> data, std::initializer_list<uint8_t> magic) {
  return data.size() >= magic.size() && std::equal(magic.begin(), magic.end(), data.begin());
}

uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

absl::Status TooLarge(Compression c, uint64_t max_output) {
  return absl::ResourceExhaustedError(
      absl::StrFormat("%s payload decompresses to more than %u MiB (the limit)", CompressionName(c),
                      max_output >> 20));
}

absl::Status Corrupt(Compression c, std::string_view detail) {
  return absl::DataLossError(
      absl::StrFormat("%s payload is corrupt: %s", CompressionName(c), detail));
}

absl::Status Truncated(Compression c) {
  return absl::DataLossError(
      absl::StrFormat("%s payload is truncated (stream ends early)", CompressionName(c)));
}

// Grows `out` by one chunk (bounded by max_output) so a streaming decoder has
// room to write; returns false when the cap is already reached.
bool Grow(std::vector<uint8_t>& out, size_t& used, uint64_t max_output) {
  if (used < out.size()) return true;
  if (out.size() >= max_output) return false;
  out.resize(std::min<uint64_t>(out.size() + kOutputChunk, max_output));
  return true;
}

absl::StatusOr<std::vector<uint8_t>> Gunzip(std::span<const uint8_t> in, uint64_t max_output) {
  z_stream zs{};
  // 16 + MAX_WBITS: expect a gzip header and trailer, not a raw zlib stream.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib: inflateInit2 failed");
  }
  absl::Cleanup end = [&zs] { inflateEnd(&zs); };
  std::vector<uint8_t> out;
  size_t used = 0;
  zs.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct
  size_t in_left = in.size();
  while (true) {
    if (!Grow(out, used, max_output)) return TooLarge(Compression::kGzip, max_output);
    // avail_in/avail_out are 32-bit: feed at most 1 GiB per call.
    uInt in_now = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
    zs.avail_in = in_now;
    zs.next_out = out.data() + used;
    zs.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - used, 1u << 30));
    uInt out_before = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    used += out_before - zs.avail_out;
    in_left -= in_now - zs.avail_in;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && in_left == 0) return Truncated(Compression::kGzip);
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Corrupt(Compression::kGzip, zs.msg != nullptr ? zs.msg : "inflate failed");
    }
    if (in_left == 0 && zs.avail_out != 0) return Truncated(Compression::kGzip);
  }
  out.resize(used);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Unxz(std::span<const uint8_t> in, uint64_t max_output) {
  lzma_stream strm = LZMA_STREAM_INIT;
  // No LZMA_CONCATENATED: decoding stops at the end of the first stream, so
  // the size word the kernel appends is ignored rather than misparsed. The
  // x86 BCJ filter the kernel uses is named in the stream's block headers.
  // 256 MiB of decoder memory is far above the kernel's dictionary sizes.
  if (lzma_stream_decoder(&strm, 256ull << 20, 0) != LZMA_OK) {
    return absl::InternalError("liblzma: lzma_stream_decoder failed");
  }
  absl::Cleanup end = [&strm] { lzma_end(&strm); };
  std::vector<uint8_t> out;
  size_t used = 0;
  strm.next_in = in.data();
  strm.avail_in = in.size();
  while (true) {
    if (!Grow(out, used, max_output)) return TooLarge(Compression::kXz, max_output);
    strm.next_out = out.data() + used;
    strm.avail_out = out.size() - used;
    size_t out_before = strm.avail_out;
    // LZMA_FINISH: all input is already here, so running out of it means the
    // stream is truncated (reported as LZMA_BUF_ERROR).
    lzma_ret rc = lzma_code(&strm, LZMA_FINISH);
    used += out_before - strm.avail_out;
    if (rc == LZMA_STREAM_END) break;
    if (rc == LZMA_OK) continue;
    switch (rc) {
      case LZMA_BUF_ERROR:
        if (strm.avail_in == 0) return Truncated(Compression::kXz);
        return Corrupt(Compression::kXz, "decoder made no progress");
      case LZMA_MEMLIMIT_ERROR:
      case LZMA_MEM_ERROR:
        return absl::ResourceExhaustedError("xz payload needs too much decoder memory");
      case LZMA_OPTIONS_ERROR:
        return absl::InvalidArgumentError("xz payload uses options liblzma does not support");
      case LZMA_FORMAT_ERROR:
        return Corrupt(Compression::kXz, "not an xz stream");
      default:
        return Corrupt(Compression::kXz, absl::StrFormat("liblzma error %d", rc));
    }
  }
  out.resize(used);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Unzstd(std::span<const uint8_t> in, uint64_t max_output) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (ds == nullptr) return absl::ResourceExhaustedError("zstd: cannot create a decoder");
  absl::Cleanup end = [ds] { ZSTD_freeDStream(ds); };
  ZSTD_initDStream(ds);
  std::vector<uint8_t> out;
  size_t used = 0;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  while (true) {
    if (!Grow(out, used, max_output)) return TooLarge(Compression::kZstd, max_output);
    ZSTD_outBuffer output{out.data(), out.size(), used};
    size_t rc = ZSTD_decompressStream(ds, &output, &input);
    used = output.pos;
    if (ZSTD_isError(rc)) return Corrupt(Compression::kZstd, ZSTD_getErrorName(rc));
    // 0 means the frame is complete; stop there and ignore trailing bytes.
    if (rc == 0) break;
    if (input.pos == input.size && output.pos < output.size) {
      return Truncated(Compression::kZstd);
    }
  }
  out.resize(used);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Unlz4Legacy(std::span<const uint8_t> in, uint64_t max_output) {
  std::vector<uint8_t> out;
  size_t pos = 4;  // past the magic
  size_t blocks = 0;
  while (in.size() - pos >= 4) {
    uint32_t block_size = LoadLe32(in.data() + pos);
    pos += 4;
    // Legacy frames may simply be concatenated.
    if (block_size == kLz4LegacyMagic) continue;
    // The kernel appends the uncompressed size as a last 4-byte word; a
    // "block header" with nothing after it is that trailer. A zero size
    // also ends the stream.
    if (pos == in.size() || block_size == 0) break;
    if (block_size > in.size() - pos) return Truncated(Compression::kLz4);
    if (block_size > static_cast<uint32_t>(LZ4_compressBound(kLz4LegacyBlockSize))) {
      return Corrupt(Compression::kLz4, "block larger than any 8 MiB block can compress to");
    }
    if (out.size() >= max_output) return TooLarge(Compression::kLz4, max_output);
    size_t room = std::min<uint64_t>(kLz4LegacyBlockSize, max_output - out.size());
    size_t used = out.size();
    out.resize(used + room);
    int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data() + pos),
                                reinterpret_cast<char*>(out.data() + used),
                                static_cast<int>(block_size), static_cast<int>(room));
    if (n < 0) {
      if (room < kLz4LegacyBlockSize) return TooLarge(Compression::kLz4, max_output);
      return Corrupt(Compression::kLz4, absl::StrFormat("block %u does not decode", blocks));
    }
    out.resize(used + static_cast<size_t>(n));
    pos += block_size;
    ++blocks;
  }
  if (blocks == 0) return Truncated(Compression::kLz4);
  return out;
}

}  // namespace

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kGzip:
      return "gzip";
    case Compression::kXz:
      return "xz";
    case Compression::kZstd:
      return "zstd";
    case Compression::kLz4:
      return "lz4";
    case Compression::kBzip2:
      return "bzip2";
    case Compression::kLzma:
      return "lzma";
    case Compression::kLzo:
      return "lzo";
    case Compression::kUnknown:
      break;
  }
  return "unknown";
}

Compression DetectCompression(std::span<const uint8_t> data) {
  // The magics the kernel's own decompressor checks (lib/decompress.c).
  if (StartsWith(data, {0x1f, 0x8b}) || StartsWith(data, {0x1f, 0x9e})) return Compression::kGzip;
  if (StartsWith(data, {0xfd, '7', 'z', 'X', 'Z', 0x00})) return Compression::kXz;
  if (StartsWith(data, {0x28, 0xb5, 0x2f, 0xfd})) return Compression::kZstd;
  if (StartsWith(data, {0x02, 0x21, 0x4c, 0x18})) return Compression::kLz4;
  if (StartsWith(data, {'B', 'Z', 'h'})) return Compression::kBzip2;
  if (StartsWith(data, {0x5d, 0x00, 0x00})) return Compression::kLzma;
  if (StartsWith(data, {0x89, 'L', 'Z', 'O'})) return Compression::kLzo;
  return Compression::kUnknown;
}

absl::StatusOr<std::vector<uint8_t>> Decompress(std::span<const uint8_t> data,
                                                uint64_t max_output) {
  Compression c = DetectCompression(data);
  switch (c) {
    case Compression::kGzip:
      return Gunzip(data, max_output);
    case Compression::kXz:
      return Unxz(data, max_output);
    case Compression::kZstd:
      return Unzstd(data, max_output);
    case Compression::kLz4:
      return Unlz4Legacy(data, max_output);
    case Compression::kBzip2:
    case Compression::kLzma:
    case Compression::kLzo:
      return absl::UnimplementedError(absl::StrFormat(
          "unsupported compression %s (rebuild the kernel with gzip, xz, zstd or lz4)",
          CompressionName(c)));
    case Compression::kUnknown:
      break;
  }
  return absl::InvalidArgumentError("payload has no known compression magic");
}

}  // namespace vmm::boot
