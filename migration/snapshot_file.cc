// SPDX-License-Identifier: MIT
#include "migration/snapshot_file.h"

#include <fcntl.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/atomic_file.h"
#include "base/status_macros.h"
#include "migration/channel.h"
#include "migration/sender.h"

namespace migration {

absl::StatusOr<MigrationStats> WriteSnapshotFile(MigrationSource& source, const std::string& path,
                                                 MigrationOptions options, Sender::ProgressCallback on_progress) {
  ASSIGN_OR_RETURN(base::AtomicFile file, base::AtomicFile::Create(path));
  // The channel owns a second descriptor of the temporary file: it closes
  // its own, and the AtomicFile keeps one for the final fsync and rename.
  base::UniqueFd fd(::fcntl(file.fd(), F_DUPFD_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", path));
  Channel channel(std::move(fd), path, /*is_socket=*/false);
  ASSIGN_OR_RETURN(MigrationStats stats, Sender(source, channel, options, std::move(on_progress)).Snapshot());
  RETURN_IF_ERROR(file.Commit());
  stats.bytes_sent = channel.bytes_written();
  return stats;
}

}  // namespace migration
