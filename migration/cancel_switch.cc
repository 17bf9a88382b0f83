// SPDX-License-Identifier: MIT
#include "migration/cancel_switch.h"

#include <sys/socket.h>

namespace migration {

void CancelSwitch::Arm(int fd) {
  absl::MutexLock lock(&mu_);
  if (disarmed_) return;
  fd_ = fd;
  armed_ = true;
  if (cancelled_ && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void CancelSwitch::Disarm() {
  absl::MutexLock lock(&mu_);
  armed_ = false;
  disarmed_ = true;
  fd_ = -1;  // the socket is about to close; its number may be reused
}

bool CancelSwitch::PassPointOfNoReturn() {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return false;
  past_end_ = true;
  return true;
}

bool CancelSwitch::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

CancelSwitch::CancelResult CancelSwitch::Cancel() {
  absl::MutexLock lock(&mu_);
  if (!armed_) return CancelResult::kNotRunning;
  if (past_end_) return CancelResult::kTooLate;
  if (!cancelled_) {
    cancelled_ = true;
    // Under the lock, so Disarm (and the close after it) cannot slip in
    // between and leave this shutting down another file's descriptor.
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  return CancelResult::kCancelled;
}

}  // namespace migration
