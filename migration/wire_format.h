// SPDX-License-Identifier: MIT
// The migration stream's on-the-wire layout (migration/FORMAT.md has the
// prose and a sequence diagram). Everything is little-endian. A stream is a
// 16-byte preamble followed by records; each record is a 32-byte header,
// checked by its own CRC32C, then `length` payload bytes (none for zero
// runs), checked by `payload_crc`.
#ifndef MIGRATION_WIRE_FORMAT_H_
#define MIGRATION_WIRE_FORMAT_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/status.h"

namespace migration {

inline constexpr char kStreamMagic[8] = {'V', 'M', 'M', 'S', 'T', 'R', 'M', '\n'};
// Version 2 added ROUND_SYNC (destination -> source, see FORMAT.md);
// version 3 the explicit commit (ACK -> COMMIT -> COMMITTED), which a file
// never carries: a snapshot of any version 1 to 3 is read as before. A live
// stream must be version 3: an older source would take the destination's
// ACK as the end and a destination that started on it could run alongside
// a source that did not see that ACK. A receiver names the versions it
// reads in its error, so a mismatch is said plainly on both sides.
inline constexpr uint32_t kFormatVersion = 3;
inline constexpr uint32_t kOldestReadableVersion = 1;
inline constexpr uint32_t kOldestLiveVersion = 3;

struct Preamble {
  char magic[8];
  uint32_t version;
  uint32_t reserved;  // zero
};
static_assert(sizeof(Preamble) == 16);

enum class RecordType : uint32_t {
  kShape = 1,      // payload: state tree describing the VM's shape
  kPages = 2,      // gpa, length bytes of page data follow
  kZeroPages = 3,  // gpa, length bytes of pages that read as zero; no payload
  kRoundEnd = 4,   // gpa holds the round number; no payload
  kMemoryEnd = 5,  // no more memory records
  kState = 6,      // payload: state tree of every vCPU and device
  kEnd = 7,        // the source has sent everything
  kAck = 8,        // destination -> source: state loaded, guest taken over
  kError = 9,      // destination -> source: payload is the error text
  kRoundSync = 10,  // destination -> source: everything up to ROUND_END gpa is in guest memory
  kCommit = 11,     // source -> destination, after ACK: run the guest (the source never will)
  kCommitted = 12,  // destination -> source: COMMIT arrived, the guest runs at the destination
};

// kPages records sent while the vCPUs ran: the guest may have changed a
// page between the sender's CRC and its send, so a CRC mismatch there is
// not corruption as long as the same pages arrive again intact (KVM's dirty
// log guarantees that they do). See FORMAT.md, "torn pages".
inline constexpr uint32_t kFlagLive = 1;

struct RecordHeader {
  uint32_t type;
  uint32_t flags;
  uint64_t gpa;
  uint64_t length;
  uint32_t payload_crc;
  uint32_t header_crc;  // CRC32C of the 28 bytes before it
};
static_assert(sizeof(RecordHeader) == 32);

// Bounds the receiver enforces before reading a payload.
inline constexpr uint64_t kMaxPagesRecordBytes = 4ull << 20;
inline constexpr uint64_t kMaxTreeBytes = 64ull << 20;
inline constexpr uint64_t kMaxErrorBytes = 4096;

RecordHeader MakeHeader(RecordType type, uint32_t flags, uint64_t gpa, uint64_t length, uint32_t payload_crc);
bool HeaderCrcOk(const RecordHeader& header);
Preamble MakePreamble();
// Checks magic and version, with an error that says which. `live`: the
// stream comes over a socket, which needs the explicit commit (version 3).
absl::Status CheckPreamble(const Preamble& preamble, bool live = false);
std::string RecordTypeName(uint32_t type);

}  // namespace migration

#endif  // MIGRATION_WIRE_FORMAT_H_
