// SPDX-License-Identifier: MIT
// WriteSnapshotFile: a snapshot of a VM written to a file that is replaced
// whole or not at all (base::AtomicFile): the stream goes to a temporary
// file beside the target, which is renamed over it only once the sender has
// finished and flushed it. A save that fails for any reason (a full disk, a
// device that refuses to save) leaves the previous file at that path as it
// was, and no temporary file behind.
//
// Trust boundary: the path comes from the API's caller; AtomicFile refuses a
// symbolic link or a non-regular file at the target.
#ifndef MIGRATION_SNAPSHOT_FILE_H_
#define MIGRATION_SNAPSHOT_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "migration/sender.h"
#include "migration/source.h"
#include "migration/stats.h"

namespace migration {

// Pauses `source` while it is saved, as Sender::Snapshot does; the guest
// runs again afterwards whether or not the file was written. `on_progress`
// (may be null) gets the figures as the pages go out, snapshot_done_bytes
// of snapshot_total_bytes, on the calling thread.
absl::StatusOr<MigrationStats> WriteSnapshotFile(MigrationSource& source, const std::string& path,
                                                 MigrationOptions options,
                                                 Sender::ProgressCallback on_progress = nullptr);

}  // namespace migration

#endif  // MIGRATION_SNAPSHOT_FILE_H_
