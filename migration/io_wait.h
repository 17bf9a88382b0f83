// SPDX-License-Identifier: MIT
// WaitUntil: poll one descriptor for `events` until a deadline, the one
// place a migration socket blocks (Channel's reads and writes, connect,
// the TLS handshake), so that every wait has a time limit.
#ifndef MIGRATION_IO_WAIT_H_
#define MIGRATION_IO_WAIT_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace migration {

// True once `fd` is ready for `events` (or has an error or hang-up, which
// the next call on it reports); false when `deadline` passed first. An
// infinite deadline waits for ever.
absl::StatusOr<bool> WaitUntil(int fd, short events, absl::Time deadline);

}  // namespace migration

#endif  // MIGRATION_IO_WAIT_H_
