// SPDX-License-Identifier: MIT
#include "migration/wire_format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "migration/crc32c.h"

namespace migration {

RecordHeader MakeHeader(RecordType type, uint32_t flags, uint64_t gpa, uint64_t length, uint32_t payload_crc) {
  RecordHeader h{.type = static_cast<uint32_t>(type),
                 .flags = flags,
                 .gpa = gpa,
                 .length = length,
                 .payload_crc = payload_crc,
                 .header_crc = 0};
  h.header_crc = Crc32c(0, &h, offsetof(RecordHeader, header_crc));
  return h;
}

bool HeaderCrcOk(const RecordHeader& header) {
  return Crc32c(0, &header, offsetof(RecordHeader, header_crc)) == header.header_crc;
}

Preamble MakePreamble() {
  Preamble p{};
  std::memcpy(p.magic, kStreamMagic, sizeof(p.magic));
  p.version = kFormatVersion;
  return p;
}

absl::Status CheckPreamble(const Preamble& preamble, bool live) {
  if (std::memcmp(preamble.magic, kStreamMagic, sizeof(kStreamMagic)) != 0) {
    return absl::InvalidArgumentError("not a vmm migration stream (bad magic)");
  }
  if (preamble.version < kOldestReadableVersion || preamble.version > kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "migration stream format version %u is not supported (this vmm reads versions %u to %u)", preamble.version,
        kOldestReadableVersion, kFormatVersion));
  }
  if (live && preamble.version < kOldestLiveVersion) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the source sends migration stream format version %u, which has no explicit commit; this vmm takes live "
        "migrations of version %u to %u only (upgrade the source VMM; its guest keeps running there)",
        preamble.version, kOldestLiveVersion, kFormatVersion));
  }
  return absl::OkStatus();
}

std::string RecordTypeName(uint32_t type) {
  switch (static_cast<RecordType>(type)) {
    case RecordType::kShape: return "shape";
    case RecordType::kPages: return "pages";
    case RecordType::kZeroPages: return "zero-pages";
    case RecordType::kRoundEnd: return "round-end";
    case RecordType::kMemoryEnd: return "memory-end";
    case RecordType::kState: return "state";
    case RecordType::kEnd: return "end";
    case RecordType::kAck: return "ack";
    case RecordType::kError: return "error";
    case RecordType::kRoundSync: return "round-sync";
    case RecordType::kCommit: return "commit";
    case RecordType::kCommitted: return "committed";
  }
  return absl::StrCat("unknown(", type, ")");
}

}  // namespace migration
