// SPDX-License-Identifier: MIT
// Receiver: the destination half of a migration, or the reader of a
// snapshot file. Checks the preamble and the VM's shape before any memory
// is written, then checks each page record and writes it into guest RAM
// through the memfd (GuestMemory::WriteBacking), applies
// zero runs as discards, and finally hands the state tree to the target.
//
// Trust boundary: the stream is untrusted. Every header is CRC-checked
// before its fields are used; addresses and lengths must be page aligned
// and inside one RAM region; payload sizes are bounded before they are
// read; records must come in the documented order. A payload whose CRC
// fails is corruption, except in a live record whose pages arrive again
// intact later (torn by the running guest, see FORMAT.md); pages that stay
// torn at the end of memory are reported as corruption.
//
// On a socket the end is an explicit commit: Run, then SendAck, then
// AwaitCommit; the guest may run here only once AwaitCommit succeeded
// (FORMAT.md, "Failures"). A file (a snapshot) ends at END.
#ifndef MIGRATION_RECEIVER_H_
#define MIGRATION_RECEIVER_H_

#include <functional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "migration/channel.h"
#include "migration/page_set.h"
#include "migration/source.h"
#include "migration/wire_format.h"

namespace migration {

struct ReceiveStats {
  uint64_t bytes_received = 0;
  uint64_t pages_received = 0;
  uint64_t zero_pages = 0;
  uint32_t rounds = 0;
  uint64_t torn_pages_repaired = 0;
  // Where the page records' time went: reading payloads off the channel
  // (waiting for the source included), checking their CRCs, and writing
  // them (and zero runs) into guest memory. Logged at the end; bench/migrate
  // prints them.
  double read_ms = 0, check_ms = 0, write_ms = 0;
};

// How far a reader has got. On a stream of known length (a snapshot file)
// done_bytes never exceeds total_bytes, and equals it once the stream has
// been read and loaded. On a stream of unknown length (a migration's
// socket, total_bytes 0) done_bytes is what has been read so far.
struct ReadProgress {
  uint64_t done_bytes = 0;
  uint64_t total_bytes = 0;
  uint32_t rounds = 0;       // ROUND_END records read: pre-copy rounds in memory
  bool memory_done = false;  // MEMORY_END read: the state is what is left
  bool done = false;         // the whole stream read and loaded
};

class Receiver {
 public:
  using ProgressCallback = std::function<void(const ReadProgress&)>;
  Receiver(MigrationTarget& target, Channel& channel) : target_(target), channel_(channel) {}
  // Before Run: report the bytes read of a stream `total_bytes` long (a
  // file's size; 0 for a stream of unknown length) to `on_progress` on
  // Run's thread, at most every 100 ms, at each round's end and once more
  // when Run has loaded the whole stream.
  void ReportProgress(uint64_t total_bytes, ProgressCallback on_progress) {
    progress_total_ = total_bytes;
    on_progress_ = std::move(on_progress);
  }
  // Reads the whole stream and loads the state. On error nothing has run.
  absl::StatusOr<ReceiveStats> Run();
  // Tells the source the VM is loaded and ready to run here (sockets only).
  absl::Status SendAck();
  // After SendAck: waits up to `timeout` for the source's COMMIT and
  // confirms it with COMMITTED. OK: the guest is ours, start it (also on a
  // file, which has no commit). An error (no COMMIT in time, the
  // connection ended, anything else): the guest must not run here.
  absl::Status AwaitCommit(absl::Duration timeout);
  // Tells the source why the VM will not run here (sockets only); the
  // source then runs it again, so call it only when this side will not.
  void SendError(const absl::Status& status);

 private:
  absl::Status ReadPages(const RecordHeader& h);
  absl::StatusOr<std::vector<uint8_t>> ReadTree(uint64_t length, uint32_t crc, const char* what);
  // Calls on_progress_ (if set) unless it did less than 100 ms ago and
  // `now` is false; `done` reports the whole stream.
  void Report(bool done, bool now);

  MigrationTarget& target_;
  Channel& channel_;
  ReceiveStats stats_;
  std::vector<PageSet> torn_;
  std::vector<uint8_t> payload_;  // one pages record, checked before it goes into RAM
  uint64_t progress_total_ = 0;
  ProgressCallback on_progress_;
  absl::Time last_report_ = absl::InfinitePast();
  bool stage_past_memory_ = false;  // MEMORY_END read (for the progress)
};

}  // namespace migration

#endif  // MIGRATION_RECEIVER_H_
